//! Unit tests of element decoding on built objects (`samples`, made by `build`): every type and
//! encoding, including those no server of the tested versions writes any more (types 1, 3, 9,
//! 10, 14's LZF nodes, 22/23 of Redis 7.4 release candidates). Corrupt input in `corrupt`, a
//! real server's view in `restore`.

mod build;
mod corrupt;
mod hash_samples;
mod restore;
mod samples;

use build::*;
use samples::samples;

use super::*;

#[test]
fn every_sample_decodes_to_its_value() {
    for s in samples() {
        let got =
            decode(s.rdb_type, &s.object, s.version).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(got, s.value, "{}", s.name);
    }
}

#[test]
fn kinds_follow_the_type_table() {
    assert_eq!(kind(0, 9), Ok(Kind::String));
    assert_eq!(kind(22, 12), Ok(Kind::Hash));
    assert_eq!(kind(22, 80), Ok(Kind::Hash));
    assert_eq!(kind(25, 12), Ok(Kind::Hash));
    for (t, v) in [(23, 80), (24, 80), (25, 81), (8, 9), (26, 12), (200, 11)] {
        assert_eq!(
            kind(t, v),
            Err(DecodeError::UnknownType {
                rdb_type: t,
                rdb_version: v
            })
        );
    }
    for t in [6, 7] {
        assert!(
            matches!(kind(t, 11), Err(DecodeError::Unsupported { rdb_type, .. }) if rdb_type == t)
        );
    }
    // Type 22 reads as Valkey's layout only at Valkey's RDB versions.
    let valkey = samples()
        .into_iter()
        .find(|s| s.name == "valkey hash 2")
        .expect("sample");
    assert!(decode(22, &valkey.object, 12).is_err());
}

#[test]
fn batches_are_bounded_and_complete() {
    let items: Vec<Vec<u8>> = (0..10).map(|i| vec![b'a' + i]).collect();
    let mut object = len(10);
    for item in &items {
        object.extend(string(item));
    }
    for (max, sizes) in [
        (3, vec![3, 3, 3, 1]),
        (0, vec![1; 10]),
        (10, vec![10]),
        (99, vec![10]),
    ] {
        let mut seen = Vec::new();
        let mut got = Vec::new();
        for_each_batch(TYPE_LIST, &object, 9, max, |batch| {
            let Batch::List(part) = batch else {
                panic!("{batch:?}")
            };
            seen.push(part.len());
            got.extend(part);
            Ok::<(), DecodeError>(())
        })
        .unwrap();
        assert_eq!(seen, sizes, "max {max}");
        assert_eq!(got, items);
    }
    // The callback's error stops the walk and comes back as is.
    #[derive(Debug, PartialEq)]
    enum Stop {
        Here(usize),
        Decode,
    }
    impl From<DecodeError> for Stop {
        fn from(_: DecodeError) -> Self {
            Stop::Decode
        }
    }
    let mut calls = 0;
    let result = for_each_batch(TYPE_LIST, &object, 9, 2, |_| {
        calls += 1;
        if calls == 2 {
            return Err(Stop::Here(calls));
        }
        Ok(())
    });
    assert_eq!(result, Err(Stop::Here(2)));
    assert_eq!(calls, 2);
    assert_eq!(
        for_each_batch(TYPE_LIST, &object[..5], 9, 2, |_| Ok(())),
        Err(Stop::Decode)
    );
}
