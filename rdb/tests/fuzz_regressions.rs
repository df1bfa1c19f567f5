//! Inputs found by fuzzing (`fuzz/`, target `rdb_parser`): each must end in the same error (or
//! the end of the snapshot) without panicking, whatever the sizes of the reads.

use std::io::Read;

use slotstream_rdb::{RdbError, RdbErrorKind, RdbReader};

/// Hands out its bytes in reads of alternating sizes, as a socket may.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: [usize; 2],
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.sizes[self.turn % 2];
        self.turn += 1;
        let n = size.min(buf.len()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n)
    }
}

/// Reads header and entries to the end; the first error, if any.
fn parse(inner: impl Read, limit: usize) -> Result<(), RdbError> {
    let mut reader = RdbReader::with_limits(inner, limit);
    reader.read_header()?;
    while reader.next_entry()?.is_some() {}
    Ok(())
}

/// Parsed from one slice, and in reads of 1 byte, of 6 and 37, 5 and 111, 2 and 3 bytes.
fn every_way(data: &[u8], limit: usize) -> Vec<Result<(), RdbError>> {
    let mut results = vec![parse(data, limit)];
    for sizes in [[1, 1], [6, 37], [5, 111], [2, 3]] {
        let chunked = Chunked {
            data,
            sizes,
            turn: 0,
        };
        results.push(parse(chunked, limit));
    }
    results
}

/// A string value of 80 bytes under a 64-byte limit: `REDIS0009`, type 0, key "k", a 14-bit
/// length (0x40 0x50 = 80), the bytes, EOF and an empty checksum.
fn too_large_string() -> Vec<u8> {
    let mut rdb = b"REDIS0009\x00\x01k\x40\x50".to_vec();
    rdb.extend_from_slice(&[b'x'; 80]);
    rdb.push(0xff);
    rdb.extend_from_slice(&[0; 8]);
    rdb
}

/// Found by `rdb_parser` (minimized): a quicklist whose element is longer than the 64-byte
/// limit; the error's offset differs between one slice and reads of 6 and 37 bytes.
const FUZZ_QUICKLIST_TOO_LARGE: &[u8] = b"REDIS0009\x0e\x09list:ints2\x17\x17\x00\xff\xff\x13\
\x00\x00\x00\x04\x00\x00\xfe\xce\x03\xd0\x03\xfe\xd1\xff\x17\x17\x00\x00\x13\xfe\xd5\x17\x17\x00\
\x00\x00\x00\x00\xe8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x16\x00\x00\x00\x04\x00\xc0\x92\x00\x04\
\xc0\x93\x94\x00l\x02\x04l\xf6i\xd2\xf4\x85";

/// Found by `rdb_parser` (minimized): a set whose members pass the 64-byte limit; the error's
/// size (78 or 65 bytes) differs between one slice and reads of 5 and 111 bytes.
const FUZZ_SET_TOO_LARGE: &[u8] = b"REDIS0011\xfa\x0av\xff\xff\xff\x0a\x03\x03\x03\x03\x02\x02\
\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x0d\x0d\x0d\x0d\x0d\x02\x02\x02\
\x02\x02\x02\x02\x02\x02\x01\x94\x02\x0d\x0d\x0d\x0d\x0d\x02\x02\x02\x02\x02\x02\x02\x02\x02\x01\
\x94\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x02\x0d\x0d\x0d\x0d\x0d\x02\x02\x02\x02\x02\
\x02\x02\x02\x02\x01\x94\x02\x0d\x0d\x0d\x0d\x0d\x02\x02\x02\x02\x02\x02\x02\x02\x02\x01\x94";

#[test]
fn values_over_the_limit_are_refused_however_they_arrive() {
    for data in [
        &too_large_string()[..],
        FUZZ_QUICKLIST_TOO_LARGE,
        FUZZ_SET_TOO_LARGE,
    ] {
        for result in every_way(data, 64) {
            let e = result.unwrap_err();
            assert!(
                matches!(e.kind, RdbErrorKind::ObjectTooLarge { limit: 64, .. }),
                "{e}"
            );
        }
    }
}

/// Fuzzing finding (fixed): the offset and size of `ObjectTooLarge` depended on the read sizes.
/// `copy_string` (src/primitive.rs) checked the limit for the whole string (header and
/// payload) before consuming anything only when the string was already buffered, and otherwise
/// let `copy_to` check the header, then the payload, each after what was copied before them.
#[test]
fn object_too_large_does_not_depend_on_read_sizes() {
    for data in [
        &too_large_string()[..],
        FUZZ_QUICKLIST_TOO_LARGE,
        FUZZ_SET_TOO_LARGE,
    ] {
        let errors: Vec<(u64, String)> = every_way(data, 64)
            .into_iter()
            .map(|r| r.unwrap_err())
            .map(|e| (e.offset, e.kind.to_string()))
            .collect();
        assert!(errors.iter().all(|e| *e == errors[0]), "{errors:#?}");
    }
}
