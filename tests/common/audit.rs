//! An audit of exactly-once: a ledger of non-idempotent writes (`INCR`, `LPUSH`, `APPEND`,
//! `HINCRBY`, `XADD`, a cross-slot `MULTI` block and a cross-slot Lua script) sent in the
//! background, remembering how many of each the source took; [`LedgerCounts::check`] then
//! counts, key by key, what a destination lost or holds twice. Applying any of these commands
//! twice, or not at all, shows.
//!
//! Every round writes one sequence number into each key family, so the expected value of every
//! key is known without reading the source: counters equal the rounds that touched them, lists
//! and strings hold each sequence number exactly once, in order.

use redis::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Keys per family: several slots, so rounds spread over partitions.
const KEYS: u64 = 8;
/// Rounds per pipeline, and the pause between pipelines (about 200 rounds a second).
const ROUNDS_PER_PIPELINE: u64 = 10;
const PAUSE: Duration = Duration::from_millis(50);

/// Both cross-slot script keys, in different slots (`{a}` and `{b}` hash apart).
const SCRIPT: &str = "redis.call('INCR', KEYS[1]) \
     redis.call('RPUSH', KEYS[2], ARGV[1]) \
     return 1";

fn counter(k: u64) -> String {
    format!("ledger:incr:{k}")
}
fn list(k: u64) -> String {
    format!("ledger:lpush:{k}")
}
fn text(k: u64) -> String {
    format!("ledger:append:{k}")
}
fn stream(k: u64) -> String {
    format!("ledger:xadd:{k}")
}
const HASH: &str = "ledger:hincrby";
const MULTI_A: &str = "{a}ledger:multi";
const MULTI_B: &str = "{b}ledger:multi";
const LUA_COUNTER: &str = "{a}ledger:lua";
const LUA_LIST: &str = "{b}ledger:lua";

/// The writer running in the background; [`Ledger::stop`] ends it and returns what it wrote.
pub struct Ledger {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

/// How many rounds the source took, which fixes every ledger key's value.
#[derive(Debug, Clone, Copy)]
pub struct LedgerCounts {
    pub rounds: u64,
}

/// What a destination holds against the ledger: keys checked, and writes lost or doubled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerCheck {
    pub keys: u64,
    pub writes: u64,
    pub lost: u64,
    pub doubled: u64,
}

impl Ledger {
    /// Starts writing to `url` (db 0) until [`Ledger::stop`].
    pub fn spawn(url: &str) -> Ledger {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let url = url.to_string();
        let thread = std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || write_until(&url, &flag))
            .expect("start the ledger thread");
        Ledger {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops after the current pipeline; returns how many rounds the source took.
    pub fn stop(mut self) -> LedgerCounts {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().expect("stopped once");
        let rounds = thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        LedgerCounts { rounds }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

fn write_until(url: &str, stop: &AtomicBool) -> u64 {
    let mut conn = redis::Client::open(url)
        .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(10)))
        .unwrap_or_else(|err| panic!("ledger: connect to {url}: {err}"));
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let mut pipe = redis::pipe();
        for _ in 0..ROUNDS_PER_PIPELINE {
            add_round(&mut pipe, round);
            round += 1;
        }
        pipe.query::<()>(&mut conn)
            .unwrap_or_else(|err| panic!("ledger: round {round}: {err}"));
        std::thread::sleep(PAUSE);
    }
    round
}

/// One round: one write of each kind, each carrying the round number.
fn add_round(pipe: &mut redis::Pipeline, round: u64) {
    let k = round % KEYS;
    let seq = round.to_string();
    pipe.cmd("INCR").arg(counter(k)).ignore();
    pipe.cmd("LPUSH").arg(list(k)).arg(&seq).ignore();
    pipe.cmd("APPEND")
        .arg(text(k))
        .arg(format!("{seq},"))
        .ignore();
    pipe.cmd("HINCRBY")
        .arg(HASH)
        .arg(format!("f{k}"))
        .arg(1)
        .ignore();
    pipe.cmd("XADD")
        .arg(stream(k))
        .arg("*")
        .arg("seq")
        .arg(&seq)
        .ignore();
    // Cross-slot: a barrier on the way.
    pipe.cmd("MULTI").ignore();
    pipe.cmd("INCR").arg(MULTI_A).ignore();
    pipe.cmd("RPUSH").arg(MULTI_B).arg(&seq).ignore();
    pipe.cmd("EXEC").ignore();
    pipe.cmd("EVAL")
        .arg(SCRIPT)
        .arg(2)
        .arg(LUA_COUNTER)
        .arg(LUA_LIST)
        .arg(&seq)
        .ignore();
}

impl LedgerCounts {
    /// Compares what `url` (db 0) holds with what the ledger wrote; every write is expected
    /// exactly once.
    pub fn check(&self, url: &str) -> LedgerCheck {
        let mut conn = redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
        let mut check = LedgerCheck::default();
        let rounds_of = |k: u64| -> Vec<u64> { (k..self.rounds).step_by(KEYS as usize).collect() };
        for k in 0..KEYS {
            let expected = rounds_of(k);
            let count = expected.len() as u64;
            check.counter(get_int(&mut conn, &["GET", &counter(k)]), count);
            check.counter(get_int(&mut conn, &["HGET", HASH, &format!("f{k}")]), count);
            let mut pushed = expected.clone();
            pushed.reverse();
            check.sequence(&read_list(&mut conn, &list(k)), &pushed);
            let appended: String = redis::cmd("GET")
                .arg(text(k))
                .query::<Option<String>>(&mut conn)
                .expect("GET")
                .unwrap_or_default();
            check.sequence(&numbers(appended.split_terminator(',')), &expected);
            check.sequence(&read_stream(&mut conn, &stream(k)), &expected);
        }
        let all: Vec<u64> = (0..self.rounds).collect();
        for key in [MULTI_A, LUA_COUNTER] {
            check.counter(get_int(&mut conn, &["GET", key]), self.rounds);
        }
        for key in [MULTI_B, LUA_LIST] {
            check.sequence(&read_list(&mut conn, key), &all);
        }
        check
    }
}

impl LedgerCheck {
    /// A counter that should have counted `expected` writes.
    fn counter(&mut self, actual: i64, expected: u64) {
        let actual = u64::try_from(actual).unwrap_or(0);
        self.keys += 1;
        self.writes += expected;
        self.lost += expected.saturating_sub(actual);
        self.doubled += actual.saturating_sub(expected);
    }

    /// A sequence that should hold each of `expected` once, in that order.
    fn sequence(&mut self, actual: &[u64], expected: &[u64]) {
        use std::collections::BTreeMap;
        self.keys += 1;
        self.writes += expected.len() as u64;
        let mut seen: BTreeMap<u64, i64> = BTreeMap::new();
        for n in expected {
            *seen.entry(*n).or_default() -= 1;
        }
        for n in actual {
            *seen.entry(*n).or_default() += 1;
        }
        for balance in seen.values() {
            match balance.signum() {
                -1 => self.lost += balance.unsigned_abs(),
                1 => self.doubled += balance.unsigned_abs(),
                _ => {}
            }
        }
        if self.lost == 0 && self.doubled == 0 {
            assert_eq!(actual, expected, "ledger: the same writes in another order");
        }
    }
}

fn get_int(conn: &mut Connection, args: &[&str]) -> i64 {
    redis::cmd(args[0])
        .arg(&args[1..])
        .query::<Option<i64>>(conn)
        .unwrap_or_else(|err| panic!("{args:?}: {err}"))
        .unwrap_or(0)
}

fn read_list(conn: &mut Connection, key: &str) -> Vec<u64> {
    let items: Vec<String> = redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(conn)
        .expect("LRANGE");
    numbers(items.iter().map(String::as_str))
}

fn read_stream(conn: &mut Connection, key: &str) -> Vec<u64> {
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(conn)
        .expect("XRANGE");
    numbers(
        entries
            .iter()
            .filter_map(|(_, fields)| fields.get(1).map(String::as_str)),
    )
}

fn numbers<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u64> {
    items
        .map(|item| {
            item.parse()
                .unwrap_or_else(|_| panic!("ledger item {item:?}"))
        })
        .collect()
}
