//! `CommandTable::key_indices` is on the hot path: it may allocate the result `Vec` and nothing
//! else. A counting allocator (counting only on the thread that asks) checks it; an ignored
//! test prints the time per call.

use slotstream_producer::keys::CommandTable;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-local may be gone while a thread shuts down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn table(version: &str) -> CommandTable {
    let path = format!(
        "{}/src/keys/fixtures/{version}.resp",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    let reply = redis::parse_redis_value(&bytes).expect("RESP");
    CommandTable::from_command_reply(&reply).expect("table")
}

fn args(line: &str) -> Vec<Vec<u8>> {
    line.split_whitespace()
        .map(|a| a.as_bytes().to_vec())
        .collect()
}

/// Allocations made by one `key_indices` call, and how many keys it found.
fn allocations(table: &CommandTable, args: &[Vec<u8>]) -> (usize, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let found = table.key_indices(args).map_or(0, |keys| keys.len());
    COUNTING.with(|on| on.set(false));
    (ALLOCATIONS.with(Cell::get), found)
}

const LINES: &[&str] = &[
    "set k v",
    "SET k v EX 10",
    "MSET a 1 b 2 c 3 d 4 e 5",
    "DEL a b c d e f g h i j k l m n o p",
    "hset h f1 v1 f2 v2",
    "ZUNIONSTORE out 3 a b c WEIGHTS 1 2 3",
    "SORT src BY w_* STORE dst",
    "XGROUP CREATE st g $",
    "EVAL return(1) 2 a b",
    "MIGRATE h 1 '' 0 10 KEYS a b c",
    "GEORADIUS g 15 37 200 km STORE dst",
];

#[test]
fn only_the_result_is_allocated() {
    for version in [
        "redis-5.0.10",
        "redis-6.2.14",
        "redis-7.0.15",
        "valkey-9.1.2",
    ] {
        let table = table(version);
        for line in LINES {
            let (count, keys) = allocations(&table, &args(line));
            // The result buffer, grown at most once when a second spec or rule part adds keys.
            assert!(count <= 2, "{version}: {line}: {count} allocations");
            assert!(keys == 0 || count >= 1, "{version}: {line}");
        }
        for keyless in [
            "FLUSHALL",
            "flushall",
            "SELECT 1",
            "PUBLISH ch msg",
            "EVAL s 0",
        ] {
            let (count, keys) = allocations(&table, &args(keyless));
            assert_eq!((count, keys), (0, 0), "{version}: {keyless}");
        }
    }
}

#[test]
#[ignore = "timing, run by hand: cargo test --release --test keys_alloc -- --ignored --nocapture"]
fn time_per_call() {
    let table = table("redis-7.0.15");
    let lines: Vec<Vec<Vec<u8>>> = LINES.iter().map(|l| args(l)).collect();
    let rounds = 200_000;
    let start = Instant::now();
    let mut found = 0;
    for _ in 0..rounds {
        for line in &lines {
            found += table.key_indices(line).map_or(0, |k| k.len());
        }
    }
    let calls = rounds * lines.len();
    let per_call = start.elapsed().as_nanos() / calls as u128;
    eprintln!("{calls} calls, {found} keys, {per_call} ns per call");
}
