//! Fuzzes the streaming RDB parser (`RdbReader`) that the producer runs on a source's snapshot.
//!
//! Each input is parsed twice, header to end or first error: once from a slice (one big read)
//! and once through a reader that hands out a few bytes at a time, so the refill paths of the
//! buffered input run too. Both runs must agree entry for entry and error for error. The last
//! byte of the input picks the read sizes and the object limit; it is parsed like the rest.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use slotstream_fuzz::Chunked;
use slotstream_rdb::{Entry, RdbReader};

/// Object limit for most inputs: far below `DEFAULT_MAX_OBJECT_BYTES`, so no declared length can
/// make the parser hold gigabytes, but above every value of the seed RDBs.
const LIMIT: usize = 1 << 20;
/// Object limit when the control byte's top bit is set, to reach the `ObjectTooLarge` paths.
const SMALL_LIMIT: usize = 64;

/// What one run produced: the entries, then the error (`Display` text and key) if any, and the
/// final position.
type Outcome = (Vec<Entry>, Option<(String, Option<Vec<u8>>)>, u64);

fn run<R: Read>(inner: R, limit: usize) -> (Outcome, RdbReader<R>) {
    let mut reader = RdbReader::with_limits(inner, limit);
    let mut entries = Vec::new();
    let error = match reader.read_header() {
        Err(e) => Some(e),
        Ok(_) => loop {
            match reader.next_entry() {
                Ok(Some(entry)) => {
                    if let Entry::Key(k) = &entry {
                        assert!(k.offset < reader.position(), "key offset past the position");
                        assert!(k.key.len() <= limit && k.object.len() <= limit);
                    }
                    entries.push(entry);
                }
                Ok(None) => {
                    // Done is sticky.
                    assert!(matches!(reader.next_entry(), Ok(None)));
                    break None;
                }
                Err(e) => {
                    // Failed is sticky.
                    assert!(reader.next_entry().is_err());
                    break Some(e);
                }
            }
        },
    };
    let error = error.map(|e| (e.to_string(), e.key));
    let position = reader.position();
    ((entries, error, position), reader)
}

fuzz_target!(|data: &[u8]| {
    let ctrl = data.last().copied().unwrap_or(0);
    let limit = if ctrl & 0x80 != 0 { SMALL_LIMIT } else { LIMIT };
    let sizes = [
        usize::from(ctrl & 0x07) + 1,
        (usize::from((ctrl >> 3) & 0x0f) + 1) * 37,
    ];

    let (whole, reader) = run(data, limit);
    if whole.1.is_none() {
        // Nothing is lost after the end: consumed + read ahead + never read = the input.
        let (rest, inner) = reader.into_parts();
        let position = whole.2 as usize;
        assert_eq!(position + rest.len() + inner.len(), data.len());
    }

    let (pieces, _) = run(Chunked::new(data, sizes), limit);
    assert_eq!(whole, pieces, "the result depends on how the bytes arrive");
});
