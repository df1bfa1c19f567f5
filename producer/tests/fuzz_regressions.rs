//! Inputs found by fuzzing (`fuzz/`): for the RDB parser (target `rdb_parser`), each must end
//! in the same error (or the end of the snapshot) without panicking, whatever the sizes of the
//! reads; for the command stream parser (target `command_stream`), each must be refused, not
//! waited on, and a command's header alone must not make it reserve memory (a tracking
//! allocator, recording only on the thread that asks, measures the largest allocation).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Read;

use slotstream_producer::command::{parse_frame, FrameError, FrameParser};
use slotstream_producer::rdb::{RdbError, RdbErrorKind, RdbReader};

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
/// `copy_string` (src/rdb/primitive.rs) checked the limit for the whole string (header and
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
