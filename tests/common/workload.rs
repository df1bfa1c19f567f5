//! A mixed write workload for a real source server, to run while slotstream copies it.
//!
//! It writes every kind of change the copy has to carry: strings, counters, lists, hashes,
//! sets, sorted sets, streams with consumer groups and pending entries, bitmaps,
//! HyperLogLogs, TTLs (some expiring during the run), multi-key, cross-slot and cross-db
//! commands, MULTI/EXEC blocks, scripts and functions, SELECT, one FLUSHDB, one SWAPDB and
//! PUBLISH; on 1-4 connections, until a minimum time and a minimum number of commands are both
//! reached. Commands the server refuses (a pop on an empty list, a group destroyed under a
//! reader) are counted and the run goes on; a connection error ends it with a panic.
//!
//! For a given seed, one connection sends the same commands in the same order on every run
//! against the same server version: TTLs and PEXPIREAT times come from the seed, not the clock,
//! and no command depends on an earlier reply. Only where the run stops depends on the clock.
//!
//! # Layout
//! - `keys`: the seeded PRNG, key names (plain, hash-tagged, binary) and values.
//! - `features`: what the server supports, found once before the run.
//! - `ops`: the mix of operations and the generator; `data_ops`, `stream_ops` and `key_ops`
//!   write the commands of each operation.
//! - `batch`: one pipeline per round trip, and the tally of commands sent and refused.

mod batch;
mod data_ops;
mod features;
mod key_ops;
mod keys;
mod ops;
mod stream_ops;

pub use features::Features;

use batch::{Batch, Tally};
use ops::{Gen, LIBRARY, SCRIPT_CACHED};
use redis::Connection;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Operations per pipeline: enough to make a round trip cheap, small enough that `stop` is
/// noticed within a millisecond or two.
const OPS_PER_BATCH: usize = 50;

/// What to write and for how long.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Seeds every connection's PRNG (each connection mixes in its number).
    pub seed: u64,
    /// Run at least this long...
    pub min_duration: Duration,
    /// ...and send at least this many commands (MULTI, EXEC and SELECT included).
    pub min_ops: u64,
    /// The dbs the connections move between; the first is where connection 0 starts.
    pub dbs: Vec<i64>,
    /// Size of the key space of each type in each db, so keys are rewritten many times.
    pub keys_per_db: u64,
    /// One FLUSHDB of the last non-zero db in `dbs`, by connection 0 after 40% of its share of
    /// `min_ops` (an operation count, not a time, to keep the command sequence deterministic).
    pub flushdb_once: bool,
    /// One SWAPDB of the first two non-zero dbs (or the first two dbs), by connection 0 after
    /// 60% of its share of `min_ops`; skipped before Redis 4.0.
    pub swapdb_once: bool,
    /// Parallel writer connections, 1 to 4, each on its own thread.
    pub connections: usize,
    /// Upper bound on commands per second over all connections (`None`: as fast as the
    /// server takes them).
    pub max_ops_per_sec: Option<u64>,
}

impl WorkloadConfig {
    /// About 5 s and 20,000 commands on one connection, so the run is deterministic.
    pub fn quick() -> WorkloadConfig {
        WorkloadConfig {
            seed: 0x5107_5712_ea11_0001,
            min_duration: Duration::from_secs(5),
            min_ops: 20_000,
            dbs: vec![0, 1, 2],
            keys_per_db: 200,
            flushdb_once: true,
            swapdb_once: true,
            connections: 1,
            max_ops_per_sec: None,
        }
    }

    /// At least 30 s and 200,000 commands over three dbs, on three connections, paced at
    /// 8,000 commands per second: a steady production-like load (bursts at full speed are the
    /// benchmarks' business).
    pub fn acceptance() -> WorkloadConfig {
        WorkloadConfig {
            seed: 0x5107_5712_ea11_0002,
            min_duration: Duration::from_secs(30),
            min_ops: 200_000,
            dbs: vec![0, 1, 2],
            keys_per_db: 1000,
            flushdb_once: true,
            swapdb_once: true,
            connections: 3,
            max_ops_per_sec: Some(8_000),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct WorkloadReport {
    /// Commands sent, setup included (the sum of `per_command`).
    pub ops: u64,
    pub elapsed: Duration,
    /// Commands sent per name; `XGROUP`, `SCRIPT` and `FUNCTION` with their subcommand.
    pub per_command: BTreeMap<String, u64>,
    /// Commands the server refused, per name.
    pub errors: BTreeMap<String, u64>,
    /// The first refusal per name, to tell an expected one (WRONGTYPE is not expected,
    /// "no such key" is) from a mistake in the workload.
    pub first_error: BTreeMap<String, String>,
    /// What the server supported, which decided the commands sent.
    pub features: Features,
}

impl WorkloadReport {
    pub fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A table of commands with their share of all commands and their refusals.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} commands in {:.1?} ({:.0}/s), {} refused\n",
            self.ops,
            self.elapsed,
            self.ops_per_second(),
            self.errors.values().sum::<u64>()
        );
        for (name, &n) in &self.per_command {
            let share = 100.0 * n as f64 / self.ops.max(1) as f64;
            text.push_str(&format!("{name:>22} {n:>9} {share:>6.2}%"));
            if let Some(errors) = self.errors.get(name) {
                text.push_str(&format!(
                    "  {errors} refused, e.g. {}",
                    self.first_error[name]
                ));
            }
            text.push('\n');
        }
        text
    }
}

/// Runs the workload against `url` until both minimums are met, or `stop` is set (checked
/// between pipelines of [`OPS_PER_BATCH`] operations). Panics on a connection error.
pub fn run(url: &str, config: &WorkloadConfig, stop: &AtomicBool) -> WorkloadReport {
    assert!(!config.dbs.is_empty(), "the workload needs at least one db");
    assert!(
        (1..=4).contains(&config.connections),
        "1 to 4 connections, not {}",
        config.connections
    );
    let started = Instant::now();
    let mut setup = connect(url);
    let features = Features::detect(&mut setup);
    let mut tally = Tally::default();
    let cached_sha = load_scripts(&mut setup, features, &mut tally);
    let shared = Shared {
        stop,
        failed: AtomicBool::new(false),
        sent: AtomicU64::new(tally.ops()),
        started,
    };
    let results: Vec<_> = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..config.connections)
            .map(|index| {
                let (shared, sha) = (&shared, cached_sha.clone());
                scope.spawn(move || {
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        write(url, config, features, sha, index, shared)
                    }));
                    // Stop the other writers rather than let them run out the clock.
                    if result.is_err() {
                        shared.failed.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        writers
            .into_iter()
            .map(|writer| writer.join().unwrap_or_else(Err))
            .collect()
    });
    for result in results {
        match result {
            Ok(writer_tally) => tally.merge(writer_tally),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    WorkloadReport {
        ops: tally.ops(),
        elapsed: started.elapsed(),
        per_command: tally.sent,
        errors: tally.errors,
        first_error: tally.first_error,
        features,
    }
}

/// [`run`] without a way to end it early.
pub fn run_blocking(url: &str, config: &WorkloadConfig) -> WorkloadReport {
    run(url, config, &AtomicBool::new(false))
}

/// Starts [`run`] on a background thread.
pub fn spawn(url: &str, config: WorkloadConfig) -> Workload {
    let stop = Arc::new(AtomicBool::new(false));
    let (url, flag) = (url.to_string(), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name("workload".into())
        .spawn(move || run(&url, &config, &flag))
        .expect("start the workload thread");
    Workload {
        stop,
        thread: Some(thread),
    }
}

/// The commands connection 0 of `config` sends in its first `ops` operations against a server
/// with `features`, packed as RESP (setup, SELECT and the one-off commands aside). Needs no
/// server; the same seed gives the same bytes.
pub fn first_commands(config: &WorkloadConfig, features: Features, ops: usize) -> Vec<u8> {
    let sha = "0".repeat(40);
    let mut gen = Gen::new(
        config.seed,
        0,
        config.keys_per_db,
        &config.dbs,
        features,
        sha,
    );
    let mut batch = Batch::new();
    for _ in 0..ops {
        gen.random_op(&mut batch);
    }
    batch.packed()
}

/// A workload running in the background; dropping it stops it.
pub struct Workload {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<WorkloadReport>>,
}

impl Workload {
    /// Stops the writers after their current pipeline and returns what they did.
    pub fn stop_and_wait(mut self) -> WorkloadReport {
        self.stop.store(true, Ordering::Relaxed);
        self.join()
    }

    /// Waits until both minimums are met.
    pub fn wait(mut self) -> WorkloadReport {
        self.join()
    }

    pub fn is_finished(&self) -> bool {
        self.thread
            .as_ref()
            .is_none_or(|thread| thread.is_finished())
    }

    fn join(&mut self) -> WorkloadReport {
        let thread = self.thread.take().expect("joined once");
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

/// What the writer threads share.
struct Shared<'a> {
    stop: &'a AtomicBool,
    /// Set when a writer panicked, so the others end too.
    failed: AtomicBool,
    /// Commands sent by all connections, for `min_ops`.
    sent: AtomicU64,
    started: Instant,
}

impl Shared<'_> {
    fn done(&self, config: &WorkloadConfig) -> bool {
        self.stop.load(Ordering::Relaxed)
            || self.failed.load(Ordering::Relaxed)
            || (self.started.elapsed() >= config.min_duration
                && self.sent.load(Ordering::Relaxed) >= config.min_ops)
    }
}

fn connect(url: &str) -> Connection {
    let conn = redis::Client::open(url)
        .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(10)))
        .unwrap_or_else(|err| panic!("workload: connect to {url}: {err}"));
    // A server that stops answering fails the run instead of hanging it.
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set the read timeout");
    conn
}

/// SCRIPT LOAD for EVALSHA, and FUNCTION LOAD for FCALL (7.0+); both are server-wide, so
/// once for all connections. Returns the script's SHA1.
fn load_scripts(conn: &mut Connection, features: Features, tally: &mut Tally) -> String {
    let sha: redis::Value = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(SCRIPT_CACHED)
        .query(conn)
        .unwrap_or_else(|err| panic!("SCRIPT LOAD: {err}"));
    tally.record_one("SCRIPT LOAD", &sha);
    if features.functions {
        let loaded: redis::Value = redis::cmd("FUNCTION")
            .arg("LOAD")
            .arg("REPLACE")
            .arg(LIBRARY)
            .query(conn)
            .unwrap_or_else(|err| panic!("FUNCTION LOAD: {err}"));
        tally.record_one("FUNCTION LOAD", &loaded);
    }
    redis::from_redis_value(sha).expect("SCRIPT LOAD answers a SHA1")
}

/// One writer connection: pipelines of random operations until the run is done.
fn write(
    url: &str,
    config: &WorkloadConfig,
    features: Features,
    cached_sha: String,
    index: usize,
    shared: &Shared,
) -> Tally {
    let mut conn = connect(url);
    let mut gen = Gen::new(
        config.seed,
        index,
        config.keys_per_db,
        &config.dbs,
        features,
        cached_sha,
    );
    let mut tally = Tally::default();
    let share = config.min_ops.div_ceil(config.connections as u64);
    // Connection 0 sends the one-off FLUSHDB and SWAPDB.
    let (mut flush_due, mut swap_due) = (
        index == 0 && config.flushdb_once,
        index == 0 && config.swapdb_once && features.swapdb,
    );
    // Start each connection in its own db, so dbs interleave from the first pipeline.
    gen.db = config.dbs[index % config.dbs.len()];
    let mut batch = Batch::new();
    batch.cmd("SELECT").arg(gen.db);
    while !shared.done(config) {
        if flush_due && tally.ops() >= share * 2 / 5 {
            flush_due = false;
            flush_once(&config.dbs, gen.db, &mut batch);
        }
        if swap_due && tally.ops() >= share * 3 / 5 {
            swap_due = false;
            swap_once(&config.dbs, &mut batch);
        }
        for _ in 0..OPS_PER_BATCH {
            gen.random_op(&mut batch);
        }
        let sent = batch.len() as u64;
        std::mem::replace(&mut batch, Batch::new()).send(&mut conn, &mut tally);
        let total = shared.sent.fetch_add(sent, Ordering::Relaxed) + sent;
        if let Some(rate) = config.max_ops_per_sec.filter(|&r| r > 0) {
            // Ahead of the pace: wait until the schedule catches up with what was sent.
            let due = Duration::from_secs_f64(total as f64 / rate as f64);
            if let Some(early) = due.checked_sub(shared.started.elapsed()) {
                std::thread::sleep(early);
            }
        }
    }
    tally
}

/// FLUSHDB of the last non-zero db, then back to the current db.
fn flush_once(dbs: &[i64], current: i64, batch: &mut Batch) {
    if let Some(&db) = dbs.iter().rev().find(|&&db| db != 0) {
        batch.cmd("SELECT").arg(db);
        batch.cmd("FLUSHDB");
        batch.cmd("SELECT").arg(current);
    }
}

/// SWAPDB of the first two non-zero dbs, or of the first two dbs.
fn swap_once(dbs: &[i64], batch: &mut Batch) {
    let nonzero: Vec<i64> = dbs.iter().copied().filter(|&db| db != 0).collect();
    let pair = match (&nonzero[..], dbs) {
        ([a, b, ..], _) | (_, [a, b, ..]) => Some((*a, *b)),
        _ => None,
    };
    if let Some((a, b)) = pair {
        batch.cmd("SWAPDB").arg(a).arg(b);
    }
}
