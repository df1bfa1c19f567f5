//! Inputs that broke the destination's reply parser (`wire::reply`), found while writing its
//! fuzz target (`reply_parser` in `fuzz/`): each must parse, or be refused, without overflowing
//! the stack or reserving more memory than the bytes at hand justify (a tracking allocator,
//! counting only on the thread that asks, sums what `parse` allocates).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use redis::Value;
use slotstream_consumer::wire::reply::parse;

struct Tracking;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = TRACKING.try_with(|on| {
        if on.get() {
            let _ = TOTAL.try_with(|total| total.set(total.get() + size));
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

/// What `f` returns and the bytes it allocated in all.
fn allocated<T>(f: impl FnOnce() -> T) -> (T, usize) {
    TOTAL.with(|total| total.set(0));
    TRACKING.with(|on| on.set(true));
    let out = f();
    TRACKING.with(|on| on.set(false));
    (out, TOTAL.with(Cell::get))
}

/// How deep `value` nests arrays of one element, and what is at the bottom.
fn depth(mut value: &Value) -> (usize, &Value) {
    let mut levels = 0;
    while let Value::Array(items) = value {
        assert_eq!(items.len(), 1);
        value = &items[0];
        levels += 1;
    }
    (levels, value)
}

/// Finding (fixed; found by hand, as the target's 4 KiB inputs could not nest deep enough to
/// overflow its 8 MiB stack): `parse` called itself for every level of nested arrays, without a
/// limit, so a reply of `*1\r\n` a few thousand times overflowed the stack and aborted the
/// process (4 KiB of it did in a test thread); and a reply that deep would overflow it again
/// when dropped. Nesting is now limited to 128 arrays; deeper is refused as malformed.
#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let nested = |levels: usize| [b"*1\r\n".repeat(levels), b"+OK\r\n".to_vec()].concat();
    let reply = nested(128);
    let (value, used) = parse(&reply).unwrap().unwrap();
    assert_eq!(used, reply.len());
    assert_eq!(depth(&value), (128, &Value::Okay));

    let reply = nested(200_000);
    for cut in [reply.len(), 129 * 4, 4_000] {
        let err = parse(&reply[..cut]).unwrap_err();
        assert!(
            err.to_string().contains("nested deeper than 128 arrays"),
            "cut at {cut}: {err}"
        );
    }
    // Less than that waits for the rest.
    assert!(parse(&reply[..128 * 4]).unwrap().is_none());
}

/// Finding (fixed; found by hand, as the target's runs stay under their memory limit):
/// every array header reserved room for up to 1024 replies before any
/// arrived, so nested headers (`*1000\r\n`, 7 bytes each) had `parse` allocate 8000 times the
/// bytes it was given, on every read until the reply was complete. It now allocates as replies
/// arrive.
#[test]
fn array_headers_alone_reserve_little() {
    let replies = [
        b"*1000\r\n".repeat(128),
        b"*1\r\n".repeat(128),
        [&b"*2147483647\r\n"[..], &b"+OK\r\n".repeat(100)].concat(),
    ];
    for reply in replies {
        let (parsed, total) = allocated(|| parse(&reply).map(|r| r.is_some()));
        assert!(matches!(parsed, Ok(false)));
        // A few words per byte of input at most.
        assert!(
            total <= 64 * reply.len(),
            "{} bytes of {:?}…: {total} bytes allocated",
            reply.len(),
            String::from_utf8_lossy(&reply[..12])
        );
    }
}
