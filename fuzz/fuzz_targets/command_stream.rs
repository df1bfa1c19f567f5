//! Fuzzes the incremental RESP parser of the replication stream (`command::FrameParser`, and
//! `command::parse_frame`) and the key extraction of every command it returns.
//!
//! The first byte of the input picks how the rest arrives: in reads of alternating sizes, fed
//! to one `FrameParser` the way `follow.rs` does (append, parse what is complete, drop it; a
//! command that has arrived only in part is resumed where it stopped). The frames and the error
//! must be the same as when the whole stream is parsed at once with `parse_frame`. Every frame
//! then goes through `CommandTable::key_indices` with the tables of a key-spec server (Valkey
//! 9.1) and a first/last/step server (Redis 5.0), loaded from the captured `COMMAND` replies the
//! unit tests use: no server needed.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use slotstream_fuzz::{arrive, read_sizes};
use slotstream_producer::command::{parse_frame, Frame, FrameError, FrameParser};
use slotstream_producer::keys::CommandTable;

const REPLIES: [&[u8]; 2] = [
    include_bytes!("../../producer/src/keys/fixtures/valkey-9.1.2.resp"),
    include_bytes!("../../producer/src/keys/fixtures/redis-5.0.10.resp"),
];

fn tables() -> &'static [CommandTable] {
    static TABLES: OnceLock<Vec<CommandTable>> = OnceLock::new();
    TABLES.get_or_init(|| {
        REPLIES
            .iter()
            .map(|reply| {
                let value = redis::parse_redis_value(reply).expect("fixture is RESP");
                CommandTable::from_command_reply(&value).expect("fixture loads")
            })
            .collect()
    })
}

/// Frames parsed by `parse` from the front of `buf` until it needs more bytes or fails; returns
/// how many bytes they took and the error, if the stream failed.
fn drain(
    buf: &[u8],
    mut parse: impl FnMut(&[u8]) -> Result<Option<Frame>, FrameError>,
    frames: &mut Vec<Frame>,
) -> (usize, Option<String>) {
    let mut consumed = 0;
    loop {
        match parse(&buf[consumed..]) {
            Ok(Some(frame)) => {
                assert!(frame.len > 0 && frame.len <= buf.len() - consumed);
                consumed += frame.len;
                frames.push(frame);
            }
            Ok(None) => return (consumed, None),
            Err(e) => {
                let _ = e.to_string();
                assert!(e.at < buf.len() - consumed, "error past the input: {e}");
                return (consumed, Some(e.to_string()));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctrl, stream)) = data.split_first() else {
        return;
    };
    let sizes = read_sizes(ctrl, stream.len());

    // As follow.rs drives it.
    let mut frames = Vec::new();
    let mut parser = FrameParser::default();
    let mut failed = None;
    arrive(stream, sizes, |pending| {
        let (consumed, err) = drain(pending, |b| parser.parse(b), &mut frames);
        failed = err;
        (consumed, failed.is_some())
    });

    // All at once.
    let mut once = Vec::new();
    let (_, once_failed) = drain(stream, parse_frame, &mut once);
    assert_eq!(frames, once, "frames depend on how the bytes arrive");
    assert_eq!(
        failed, once_failed,
        "the error depends on how the bytes arrive"
    );

    for frame in &frames {
        for table in tables() {
            match table.key_indices(&frame.args) {
                Ok(keys) => {
                    assert!(
                        keys.windows(2).all(|w| w[0] < w[1]),
                        "key indices not in order and unique: {keys:?}"
                    );
                    assert!(keys.iter().all(|&i| i < frame.args.len()));
                }
                // Errors render without panicking.
                Err(e) => drop(e.to_string()),
            }
        }
    }
});
