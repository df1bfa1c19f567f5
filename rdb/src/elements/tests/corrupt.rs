//! Corrupt objects: errors that say what and where, and no panics on any cut or bit flip.

use super::build::*;
use super::samples::cat;
use super::*;

fn err(rdb_type: u8, object: &[u8], version: u16) -> String {
    match decode(rdb_type, object, version) {
        Ok(value) => panic!("decoded {value:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_say_what_and_where() {
    // A string whose length runs past the end.
    let e = err(TYPE_STRING, b"\x05abc", 9);
    assert_eq!(
        e,
        "string at offset 1 runs past the end (5 bytes needed, 3 left)"
    );
    // Bytes after a complete value.
    assert_eq!(
        err(TYPE_STRING, b"\x01ab", 9),
        "1 unexpected bytes after the end of the value, at offset 2"
    );
    // A length cut short: how long it is does not show yet, only what is left.
    assert_eq!(
        err(TYPE_LIST, b"\x80\x00\x01", 9),
        "element count at offset 0 runs past the end (only 3 bytes left)"
    );
    // LZF data cut short, with the item at fault.
    assert_eq!(
        err(TYPE_STRING, b"\xc3\x02\x05\x01a", 9),
        "invalid string at offset 0: LZF data: the item at byte 0 of the compressed data is \
         cut short"
    );
    // An unknown length encoding.
    assert!(err(TYPE_LIST, b"\x82", 9).contains("invalid element count at offset 0"));
    // An unknown string encoding.
    assert!(err(TYPE_STRING, b"\xc5", 9).contains("unknown string encoding 5"));
    // A ziplist entry cut short, inside the ziplist stored at offset 0.
    let mut zl = ziplist(&[Z::S(b"abc"), Z::S(b"defgh")]);
    let n = zl.len();
    zl[n - 7] = 30; // the second entry's string length
    let e = err(TYPE_LIST_ZIPLIST, &string(&zl), 9);
    assert!(
        e.starts_with("in the ziplist stored at offset 0: ziplist entry at offset 15"),
        "{e}"
    );
    assert!(e.contains("runs past the end"), "{e}");
    // A listpack entry with a bad back-length, in a compressed blob.
    let mut lp = listpack(&[Z::S(b"abc"), Z::I(5)]);
    lp[10] = 9; // the back-length of "abc" (4 bytes)
    let e = err(TYPE_SET_LISTPACK, &lzf_string(&lp), 11);
    assert!(
        e.contains("(LZF-compressed; offsets below count decompressed bytes)"),
        "{e}"
    );
    assert!(
        e.contains("listpack entry at offset 6: its back-length does not say 4"),
        "{e}"
    );
    // Odd entries in a pair structure.
    let e = err(TYPE_HASH_LISTPACK, &string(&listpack(&[Z::S(b"f")])), 10);
    assert!(e.contains("1 entries do not make whole groups of 2"), "{e}");
    // A score that is not a number.
    let e = err(
        TYPE_ZSET_LISTPACK,
        &string(&listpack(&[Z::S(b"m"), Z::S(b"x")])),
        10,
    );
    assert!(
        e.contains("invalid score at offset 9: \"x\" is not a number"),
        "{e}"
    );
    // A quicklist container that does not exist.
    let e = err(TYPE_LIST_QUICKLIST_2, &[1, 3, 0], 10);
    assert!(
        e.contains("invalid quicklist node container at offset 1: 3"),
        "{e}"
    );
    // An intset whose count does not fit its bytes.
    let mut is = intset(2, &[1, 2]);
    is[4] = 3;
    assert!(err(TYPE_SET_INTSET, &string(&is), 9).contains("3 integers of 2 bytes"));
    // A listpack whose header count is wrong.
    let mut lp = listpack(&[Z::I(1)]);
    lp[4] = 2;
    assert!(err(TYPE_SET_LISTPACK, &string(&lp), 11).contains("it counts 2 entries, there are 1"));
    // LZF that expands to the wrong length.
    let mut bad = lzf_string(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    bad[2] = 33; // uncompressed length
    assert!(err(TYPE_STRING, &bad, 9).contains("LZF data"));
    // A Redis 7.4 TTL that overflows.
    let mut meta = u64::MAX.to_le_bytes().to_vec();
    meta.extend(cat(&[len(1), len(5), string(b"f"), string(b"v")]));
    assert!(err(TYPE_HASH_METADATA, &meta, 12).contains("invalid hash field TTL at offset 9"));
    // Announced counts far beyond the input allocate nothing big and fail cleanly.
    let e = err(
        TYPE_LIST,
        &[0x81, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        9,
    );
    assert!(e.contains("list item at offset 9 runs past the end"), "{e}");
    assert!(err(
        TYPE_STRING,
        &[0xc3, 0x01, 0x80, 0x7f, 0xff, 0xff, 0xff, 0],
        9
    )
    .contains("LZF"));
}

/// A small deterministic generator for the flips.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every cut and many flips of `object`: never a panic; every strict prefix fails.
pub(in crate::elements) fn survive_damage(name: &str, rdb_type: u8, object: &[u8], version: u16) {
    let len = object.len();
    let cuts: Vec<usize> = if len <= 6000 {
        (0..len).collect()
    } else {
        (0..3000)
            .chain(len - 3000..len)
            .chain((0..len).step_by(31))
            .collect()
    };
    for cut in cuts {
        let got = std::panic::catch_unwind(|| decode(rdb_type, &object[..cut], version));
        let got = got.unwrap_or_else(|_| panic!("{name}: the first {cut} bytes panicked"));
        assert!(
            got.is_err(),
            "{name}: the first {cut} of {len} bytes decoded"
        );
    }
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ len as u64);
    for round in 0..1000 {
        let mut damaged = object.to_vec();
        for _ in 0..1 + round % 4 {
            let at = (rng.next() % len as u64) as usize;
            damaged[at] ^= (rng.next() % 255 + 1) as u8;
        }
        let got = std::panic::catch_unwind(|| {
            let _ = for_each_batch(
                rdb_type,
                &damaged,
                version,
                3,
                |_| Ok::<(), DecodeError>(()),
            );
            decode(rdb_type, &damaged, version)
        });
        assert!(got.is_ok(), "{name}: damaged copy {round} panicked");
    }
}

#[test]
fn damaged_samples_never_panic() {
    for s in samples() {
        survive_damage(s.name, s.rdb_type, &s.object, s.version);
    }
}

#[test]
fn garbage_of_every_type_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for rdb_type in 0..=30u8 {
        for version in [9, 12, 80] {
            for round in 0..300 {
                let len = (rng.next() % 64) as usize + round % 3;
                let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let got = std::panic::catch_unwind(|| decode(rdb_type, &junk, version));
                assert!(got.is_ok(), "type {rdb_type}: {junk:02x?} panicked");
            }
        }
    }
}
