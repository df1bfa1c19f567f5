//! Progress reporting: while a snapshot moves, a line every few seconds with keys and bytes done
//! and the rates; after it, a line about every ten seconds with live commands applied and the
//! lag per partition (commit time minus capture time of its newest live record applied; per
//! shard and partition for a cluster source, `slots-5461/3:12`).
//!
//! It knows neither side's counters: each command hands it a closure that reads its own into a
//! [`Numbers`] (a side a command does not run reads as zero). On a terminal the snapshot shows
//! as a progress bar (`bar`) instead of lines.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod bar;

const EVERY: Duration = Duration::from_secs(2);
/// How often a live-phase line comes.
const LIVE_EVERY: Duration = Duration::from_secs(10);

/// What a progress line shows, as the command's counters stand now.
#[derive(Debug, Clone, Default)]
pub struct Numbers {
    /// Snapshot keys read from the source.
    pub keys_read: u64,
    /// Snapshot keys written to the target.
    pub keys_applied: u64,
    /// Keys the source held as its snapshot began (0: unknown, as for `consume`).
    pub keys_expected: u64,
    /// Snapshot bytes read, and the snapshot's announced size (0 when unknown).
    pub rdb_bytes: u64,
    pub rdb_total: u64,
    /// Live commands applied, and those the target refused as the command's own outcome.
    pub commands: u64,
    pub refused: u64,
    /// Records left out because the target cannot hold them (`--on-unsupported`).
    pub left_out: u64,
    /// Per partition (and shard): apply time minus capture time of its newest live record
    /// applied, in ms.
    pub lags_ms: BTreeMap<slotstream_consumer::stats::LagKey, i64>,
    /// Partitions (of every shard) the apply side runs; 0 without one.
    pub partitions: usize,
    /// Captures running, and those past their snapshot.
    pub captures: usize,
    pub captures_live: usize,
    /// Per capture past its snapshot (by its shard's first slot; `None`: a whole source): the
    /// source replication offset it has followed to.
    pub source_offsets: BTreeMap<Option<u16>, u64>,
    /// Per partition (and shard): the epoch and source offset of its last stored checkpoint.
    pub applied: BTreeMap<slotstream_consumer::stats::LagKey, slotstream_consumer::stats::Applied>,
    /// Batch round trips to the target by duration.
    pub batch_latency: slotstream_consumer::stats::LatencyReading,
    /// How long batches waited for the write limits, every partition's waits added up.
    pub throttle_waited: Duration,
    /// librdkafka's last report of the process's Kafka producer (`produce`), once it made one.
    pub kafka_producer: Option<KafkaProducer>,
}

/// What librdkafka last said of the Kafka producer.
#[derive(Debug, Clone, Copy, Default)]
pub struct KafkaProducer {
    /// Messages (and their bytes) in its queue, not yet acknowledged by the brokers.
    pub queue_messages: u64,
    pub queue_bytes: u64,
    /// Request round trip to the brokers: the slowest broker's mean and 99th percentile.
    pub rtt_avg: Duration,
    pub rtt_p99: Duration,
}

impl Numbers {
    /// Whether the copy is past its snapshot: with an apply side, every partition has applied
    /// a live record (which follows its snapshot); a capture alone, every capture follows live
    /// changes.
    pub fn live(&self) -> bool {
        if self.partitions > 0 {
            self.lags_ms.len() >= self.partitions
        } else {
            self.captures > 0 && self.captures_live == self.captures
        }
    }
}

/// What reads a command's counters into [`Numbers`].
pub type Reader = std::sync::Arc<dyn Fn() -> Numbers + Send + Sync>;

/// A background task that logs progress until stopped.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Logs what `read` returns every few seconds while it changes, and the live line; on a
    /// terminal the snapshot is a progress bar instead of lines.
    pub fn spawn(read: Reader) -> Self {
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut bar = bar::SnapshotBar::on_terminal();
            let mut ticker = tokio::time::interval(if bar.is_some() { bar::EVERY } else { EVERY });
            ticker.tick().await;
            let mut last = (u64::MAX, u64::MAX);
            let mut last_line = Instant::now();
            let mut last_live = (Instant::now(), 0);
            loop {
                ticker.tick().await;
                let numbers = (*read)();
                if let Some(shown) = &mut bar {
                    if shown.show(&numbers) {
                        continue;
                    }
                    bar = None;
                }
                if last_line.elapsed() < EVERY.mul_f32(0.9) {
                    continue;
                }
                last_line = Instant::now();
                let now = (numbers.keys_read, numbers.keys_applied);
                if now == last {
                    if last_live.0.elapsed() >= LIVE_EVERY {
                        last_live = (Instant::now(), log_live(&numbers, last_live));
                    }
                    continue;
                }
                last = now;
                log_snapshot(&numbers, started);
            }
        });
        Self { task }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// One line about the snapshot, with rates since `started`.
fn log_snapshot(numbers: &Numbers, started: Instant) {
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    let read = numbers.rdb_bytes;
    let total = numbers.rdb_total;
    let percent = if total > 0 {
        format!("{:.0}%", read as f64 * 100.0 / total as f64)
    } else {
        "?".to_string()
    };
    tracing::info!(
        keys_read = numbers.keys_read,
        keys_applied = numbers.keys_applied,
        read_mb = read >> 20,
        done = %percent,
        keys_per_s = (numbers.keys_applied as f64 / seconds) as u64,
        mb_per_s = format!("{:.1}", read as f64 / seconds / 1048576.0),
        rss_mb = current_rss_bytes().map(|b| b >> 20).unwrap_or(0),
        "snapshot progress"
    );
}

/// One line about the live phase, with the rate since the `previous` line (when, and the
/// command count it reported); returns the command count it reports.
fn log_live(numbers: &Numbers, previous: (Instant, u64)) -> u64 {
    let commands = numbers.commands;
    let lags = &numbers.lags_ms;
    let seconds = previous.0.elapsed().as_secs_f64().max(0.001);
    let previous = previous.1;
    let lag: Vec<String> = lags.iter().map(|(key, ms)| format!("{key}:{ms}")).collect();
    tracing::info!(
        commands,
        commands_per_s = ((commands - previous.min(commands)) as f64 / seconds) as u64,
        lag_ms_max = lags.values().max().copied().unwrap_or(0),
        lag_ms = %lag.join(" "),
        refused = numbers.refused,
        left_out = numbers.left_out,
        "live"
    );
    commands
}

/// Peak resident memory of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    status_field("VmHWM:")
}

fn current_rss_bytes() -> Option<u64> {
    status_field("VmRSS:")
}

fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    let kb: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
