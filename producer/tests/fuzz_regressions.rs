//! Inputs found by fuzzing (`fuzz/`) for the command stream parser (target `command_stream`):
//! each must be refused, not waited on, and a command's header alone must not make it reserve
//! memory (a tracking allocator, recording only on the thread that asks, measures the largest
//! allocation); and for the snapshot payload's framing (target `eof_framing`). The RDB
//! parser's are in `rdb/tests/fuzz_regressions.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use slotstream_producer::command::{parse_frame, FrameError, FrameParser};
use slotstream_producer::config::SourceAddr;
use slotstream_producer::replica::{read_payload_header, Payload, Transfer};
use slotstream_rdb::RdbReader;

struct Tracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = TRACKING.try_with(|on| {
        if on.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
        }
    });
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// What `f` returns and the size of the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    TRACKING.with(|on| on.set(true));
    let out = f();
    TRACKING.with(|on| on.set(false));
    (out, LARGEST.with(Cell::get))
}

/// Found by `command_stream` (minimized, without its leading control byte): after SELECT and
/// MULTI, a SET whose second argument has the length line `$4`, 16 bytes 0x83 and `XXEC`, so
/// its CR is the 22nd byte after the `$`. Parsed at once, the stream waits for more bytes; in
/// reads of 6 and 61 bytes, it is refused as "length line too long".
const FUZZ_CR_AT_22ND_BYTE: &[u8] =
    b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\n\
SET\r\n$4\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83\x83XXEC\r";

/// Complete streams with a length line of 21 characters (its CR is the 22nd byte after the `$`):
/// a malformed one, a zero-padded one that `str::parse` accepts, and the fuzzer's with its LF
/// and a PING after it.
fn long_length_lines() -> Vec<Vec<u8>> {
    let mut fuzz = FUZZ_CR_AT_22ND_BYTE.to_vec();
    fuzz.extend_from_slice(b"\n*1\r\n$4\r\nPING\r\n");
    vec![
        b"*1\r\n$4XXXXXXXXXXXXXXXXXXXX\r\nPING\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
        b"*1\r\n$000000000000000000001\r\nx\r\n*1\r\n$4\r\nPING\r\n".to_vec(),
        fuzz,
    ]
}

/// Parses frames from the front of `stream` as `follow.rs` does: the frames, then how it ended
/// (`Ok(n)`: it needs more bytes after the first `n`).
fn frames(stream: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<usize, FrameError>) {
    let (mut out, mut at) = (Vec::new(), 0);
    loop {
        match parse_frame(&stream[at..]) {
            Ok(Some(frame)) => {
                at += frame.len;
                out.push(frame.args);
            }
            Ok(None) => return (out, Ok(at)),
            Err(e) => return (out, Err(e)),
        }
    }
}

#[test]
fn long_length_lines_never_panic() {
    for stream in long_length_lines() {
        for cut in 0..=stream.len() {
            let _ = frames(&stream[..cut]);
        }
    }
}

/// Fuzzing finding (fixed): `parse_header` (src/command.rs) looked for the CR in the first 22
/// bytes after the `$`/`*` but took the LF from that same window, so a CR at the 22nd byte meant
/// "need more bytes" forever, however much of the stream had arrived; and a prefix of 21 bytes
/// without CR was refused, while the whole line may parse. Each stream must be refused or read
/// to its end, and no prefix refused unless the whole is.
#[test]
fn long_length_lines_are_refused_however_they_arrive() {
    for stream in long_length_lines() {
        let (whole, end) = frames(&stream);
        assert!(
            !matches!(end, Ok(n) if n < stream.len()),
            "{:?}: waits for more bytes",
            String::from_utf8_lossy(&stream)
        );
        // Any prefix: fewer frames, or the same frames and the same refusal.
        for cut in 0..stream.len() {
            let (part, part_end) = frames(&stream[..cut]);
            assert!(whole.starts_with(&part), "cut at {cut}");
            if part_end.is_err() {
                assert!(end.is_err() && part == whole, "cut at {cut}: refused early");
            }
        }
    }
}

/// Fuzzing finding (fixed): the `*<count>` line alone made `parse_frame` reserve room for
/// `count` arguments, 24 MiB for the largest count accepted, on every read until the command
/// was complete. What it reserves is now bounded by the bytes at hand.
#[test]
fn a_large_count_alone_reserves_little() {
    // An argument takes 6 bytes of the stream at least and 24 in the list of arguments, whose
    // capacity doubles as it grows.
    let bound = |bytes: usize| 1024 + 8 * bytes;
    // The largest count accepted (2^20), one argument and the start of the next.
    let head = b"*1048576\r\n$1\r\nx\r\n$5\r\nab";
    for cut in 0..=head.len() {
        let (parsed, largest) =
            largest_allocation(|| parse_frame(&head[..cut]).map(|f| f.is_some()));
        assert!(matches!(parsed, Ok(false)), "cut at {cut}");
        assert!(
            largest <= bound(cut),
            "cut at {cut}: an allocation of {largest} bytes"
        );
    }
    // Resumed read after read (of 5 bytes: 100 arguments), the same.
    let mut parser = FrameParser::default();
    let stream = [&b"*1048576\r\n"[..], &b"$1\r\nc\r\n".repeat(100)].concat();
    for cut in (5..stream.len()).step_by(5) {
        let (parsed, largest) =
            largest_allocation(|| parser.parse(&stream[..cut]).map(|f| f.is_some()));
        assert!(matches!(parsed, Ok(false)), "cut at {cut}");
        assert!(
            largest <= bound(cut),
            "cut at {cut}: an allocation of {largest} bytes"
        );
    }
}

fn source() -> SourceAddr {
    SourceAddr::parse("redis://127.0.0.1:1").unwrap()
}

/// Fuzzing finding (fixed): a snapshot header that is not one quoted all of its line in the
/// error, up to the 64 KiB a line may take, so one bad byte stream made a log line of 64 KiB.
/// The error now quotes the start of the line, escaped, and says how long it was.
#[test]
fn a_bad_header_line_is_quoted_in_part() {
    let long = [b'x'; 60_000];
    let lines = [
        // No CRLF within the 64 KiB a line may take.
        [&b"$"[..], &[b'7'; 70_000]].concat(),
        // Ends in a bare LF.
        [&b"$EOF:"[..], &long, b"\n"].concat(),
        // Not a header.
        [&b"+"[..], &long, b"\r\n"].concat(),
        // Not a length.
        [&b"$1"[..], &long, b"\r\n"].concat(),
        // A mark of the wrong length.
        [&b"$EOF:"[..], &long, b"\r\n"].concat(),
    ];
    for line in lines {
        let err = read_payload_header(&mut &line[..], &source()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.len() < 1200,
            "{} bytes of error for a {}-byte line: {}…",
            text.len(),
            line.len(),
            &text[..200]
        );
        assert!(
            text.contains("source 127.0.0.1:1 broke the replication protocol"),
            "{text}"
        );
    }
}

/// The smallest RDB: `REDIS0011`, SELECTDB 0, string `k` = `v`, EOF, no checksum (0): 25 bytes.
const TINY_RDB: &[u8] = b"REDIS0011\xfe\x00\x00\x01k\x01v\xff\0\0\0\0\0\0\0\0";

const MARK: [u8; 40] = *b"0123456789abcdef0123456789abcdef01234567";

/// Reads the RDB at the front of `payload` through the framing of `transfer`, as `capture.rs`
/// does, and checks the framing's end: the error, if any.
fn framing_error(payload: &[u8], transfer: Transfer) -> String {
    let mut rdb = RdbReader::new(Payload::new(payload, &transfer));
    rdb.read_header().unwrap();
    while rdb.next_entry().unwrap().is_some() {}
    let (leftover, payload) = rdb.into_parts();
    payload.finish(leftover, &source()).unwrap_err().to_string()
}

/// Fuzzing finding (fixed): when the snapshot's framing did not end where it should, the error
/// did not say where: a wrong end mark was "the snapshot's end mark does not match its start
/// mark", with neither its offset nor what came instead. Each now names the payload byte (the
/// RDB's length) and, for a wrong mark, quotes what was there.
#[test]
fn framing_errors_name_the_payload_byte() {
    let wrong = [
        TINY_RDB,
        &b"0123456789abcdef0123456789abcdef0123456X*1\r\n"[..],
    ]
    .concat();
    let text = framing_error(&wrong, Transfer::Eof(MARK));
    assert!(text.contains("at payload byte 25"), "{text}");
    assert!(text.contains("0123456X"), "{text}");

    let short_mark = [TINY_RDB, &MARK[..39]].concat();
    let text = framing_error(&short_mark, Transfer::Eof(MARK));
    assert!(text.contains("at payload byte 25"), "{text}");

    let sized = [TINY_RDB, b"extra"].concat();
    let text = framing_error(&sized, Transfer::Sized(30));
    assert!(text.contains("at payload byte 25"), "{text}");
    assert!(
        text.contains("5 bytes before its announced length 30"),
        "{text}"
    );
}
