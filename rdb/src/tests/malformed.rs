//! Parser tests on malformed and unusual hand-built RDBs: what must be refused, with which
//! error and offset, and what must cost no memory.

use super::synthetic::{len, read_all, string, Rdb};
use crate::*;

#[test]
fn unsupported_and_unknown_bytes() {
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&string(b"k"))
        .put(&string(b"v"));
    let at = rdb.at();
    let kind_at = |b: &[u8]| read_all(b).map(|_| ()).unwrap_err();
    let e = kind_at(
        &rdb.put(&[6])
            .put(&string(b"old-module"))
            .put(&[0; 20])
            .end(),
    );
    assert!(
        matches!(e.kind, RdbErrorKind::Unsupported(_)) && e.offset == at,
        "{e}"
    );
    assert_eq!(e.key.as_deref(), Some(&b"old-module"[..]));
    let e = kind_at(&Rdb::new(b"REDIS0010").put(&[246, 0, 0]).end());
    assert!(
        matches!(e.kind, RdbErrorKind::Unsupported(_)) && e.offset == 9,
        "{e}"
    );
    let e = kind_at(&Rdb::new(b"VALKEY080").put(&[242, 0]).end());
    assert!(
        matches!(e.kind, RdbErrorKind::UnknownOpcode(242)) && e.offset == 9,
        "{e}"
    );
    let e = kind_at(&Rdb::new(b"REDIS0012").put(&[243, 0]).end());
    assert!(matches!(e.kind, RdbErrorKind::UnknownOpcode(243)), "{e}");
    let e = kind_at(&Rdb::new(b"REDIS0012").put(&[8, 0]).end());
    assert!(matches!(e.kind, RdbErrorKind::UnknownType(8)), "{e}");
    // A malformed length inside a value names the key.
    let e = kind_at(
        &Rdb::new(b"REDIS0009")
            .put(&[1])
            .put(&string(b"l"))
            .put(&[0x01, 0x82])
            .end(),
    );
    assert!(matches!(e.kind, RdbErrorKind::InvalidLength(0x82)), "{e}");
    assert_eq!(e.offset, 9 + 1 + 2 + 1);
    assert!(e.to_string().contains("(key \"l\")"), "{e}");
    // Special encodings are only valid where a string starts.
    let e = kind_at(
        &Rdb::new(b"REDIS0009")
            .put(&[1])
            .put(&string(b"l"))
            .put(&[0xc0])
            .end(),
    );
    assert!(matches!(e.kind, RdbErrorKind::InvalidLength(0xc0)), "{e}");
    let e = kind_at(
        &Rdb::new(b"REDIS0010")
            .put(&[18])
            .put(&string(b"q"))
            .put(&[1, 3])
            .end(),
    );
    assert!(matches!(e.kind, RdbErrorKind::Corrupt(_)), "{e}");
    let e = kind_at(
        &Rdb::new(b"REDIS0009")
            .put(&[0])
            .put(&[0xc3, 2, 9, 0, b'a'])
            .end(),
    );
    assert!(
        matches!(e.kind, RdbErrorKind::Corrupt(_)),
        "bad LZF key: {e}"
    );
}

#[test]
fn huge_declared_lengths_cost_no_memory() {
    // A string that claims 2^62 bytes: over the default limit.
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&string(b"k"))
        .put(&len(1 << 62))
        .end();
    let e = read_all(&rdb).unwrap_err();
    assert!(matches!(e.kind, RdbErrorKind::ObjectTooLarge { .. }), "{e}");
    // One that claims 900 MB with only a few bytes behind it: truncated, not allocated.
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&string(b"k"))
        .put(&len(900 << 20))
        .end();
    let e = read_all(&rdb).unwrap_err();
    assert!(matches!(e.kind, RdbErrorKind::Truncated), "{e}");
    // Counts that claim billions of elements end with the data.
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[2])
        .put(&string(b"s"))
        .put(&len(u64::MAX));
    let rdb = rdb.put(&string(b"member")).0;
    assert!(matches!(
        read_all(&rdb).unwrap_err().kind,
        RdbErrorKind::Truncated
    ));
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&[0xc3])
        .put(&len(1 << 40))
        .put(&len(1))
        .end();
    assert!(matches!(
        read_all(&rdb).unwrap_err().kind,
        RdbErrorKind::ObjectTooLarge { .. }
    ));
}

#[test]
fn checksums_of_old_and_unchecked_files() {
    // RDB 4 and older end right after the EOF opcode.
    let mut old = Rdb::new(b"REDIS0004")
        .put(&[0])
        .put(&string(b"k"))
        .put(&string(b"v"))
        .0;
    old.extend_from_slice(&[255, b'n', b'e', b'x', b't']);
    let mut reader = RdbReader::new(&old[..]);
    while reader.next_entry().unwrap().is_some() {}
    assert_eq!(reader.position(), old.len() as u64 - 4);
    let (rest, _) = reader.into_parts();
    assert_eq!(rest, b"next");
    // A stored checksum of 0 means the source saved without one.
    let mut unchecked = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&string(b"k"))
        .put(&string(b"v"))
        .0;
    unchecked.extend_from_slice(&[255, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(read_all(&unchecked).unwrap().len(), 1);
    // Anything else must match.
    let last = unchecked.len() - 1;
    unchecked[last] = 1;
    let e = read_all(&unchecked).unwrap_err();
    assert!(
        matches!(
            e.kind,
            RdbErrorKind::Checksum {
                stored: 0x0100_0000_0000_0000,
                ..
            }
        ),
        "{e}"
    );
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(0x5107_5743_0000_0001);
    for (name, bytes) in super::fixtures() {
        for round in 0..400 {
            let mut mutated = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = 9 + (rng.next() as usize) % (mutated.len() - 9);
                mutated[at] = match rng.next() % 3 {
                    0 => rng.next() as u8,
                    1 => mutated[at] ^ (1 << (rng.next() % 8)),
                    _ => [0x00, 0x3f, 0x40, 0x80, 0x81, 0xc3, 0xff][(rng.next() % 7) as usize],
                };
            }
            // Small limit: a mutated length must not make the test slow.
            let mut reader = RdbReader::with_limits(&mutated[..], 1 << 20);
            let result = loop {
                match reader.next_entry() {
                    Ok(Some(_)) => continue,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            // Almost every mutation is caught, at the latest by the checksum.
            if let Err(e) = result {
                assert!(
                    e.offset <= mutated.len() as u64,
                    "{name} round {round}: {e}"
                );
            }
        }
    }
}
