//! Inputs found by fuzzing (`fuzz/`) for the command stream parser (target `command_stream`):
//! each must be refused, not waited on, and a command's header alone must not make it reserve
//! memory (a tracking allocator, recording only on the thread that asks, measures the largest
//! allocation). The RDB parser's are in `rdb/tests/fuzz_regressions.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use slotstream_producer::command::{parse_frame, FrameError, FrameParser};

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
