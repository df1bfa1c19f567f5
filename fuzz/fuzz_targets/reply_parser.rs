//! Fuzzes the consumer's RESP reply parser (`consumer::wire::reply::parse`), which reads the
//! destination's replies to every applied batch.
//!
//! The first byte of the input picks how the rest arrives: in reads of alternating sizes, fed
//! to `parse` the way `Wire::read_replies` does (append what arrived, take complete replies from
//! the front, keep a partial one and parse it again from its start once more bytes are in). The
//! replies and the error must be the same as when the whole stream is parsed at once, and a
//! reply never takes more bytes than `parse` was given.

#![no_main]

use libfuzzer_sys::fuzz_target;
use redis::Value;
use slotstream_consumer::wire::reply::parse;
use slotstream_fuzz::{arrive, read_sizes};

/// Replies parsed from the front of `buf` until one is incomplete or the stream fails; returns
/// how many bytes they took and the error, if the stream failed.
fn drain(buf: &[u8], replies: &mut Vec<Value>) -> (usize, Option<String>) {
    let mut consumed = 0;
    loop {
        let rest = &buf[consumed..];
        match parse(rest) {
            Ok(Some((reply, used))) => {
                assert!(
                    used > 0 && used <= rest.len(),
                    "a reply took {used} bytes of {}",
                    rest.len()
                );
                consumed += used;
                replies.push(reply);
            }
            Ok(None) => return (consumed, None),
            Err(e) => return (consumed, Some(e.to_string())),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctrl, stream)) = data.split_first() else {
        return;
    };
    let sizes = read_sizes(ctrl, stream.len());

    // As Wire::read_replies drives it.
    let mut replies = Vec::new();
    let mut failed = None;
    arrive(stream, sizes, |input| {
        let (consumed, err) = drain(input, &mut replies);
        failed = err;
        (consumed, failed.is_some())
    });

    // All at once.
    let mut once = Vec::new();
    let (_, once_failed) = drain(stream, &mut once);
    assert_eq!(replies, once, "replies depend on how the bytes arrive");
    assert_eq!(
        failed, once_failed,
        "the error depends on how the bytes arrive"
    );
});
