//! The status page: `/` is one self-refreshing HTML page (no build step, no external assets;
//! `status.html`) that reads `/status.json` every 2 s. `/status.json` is the run as it stands:
//! phase, snapshot progress, counters, lag per partition, readiness, the lag alert, retries, the
//! last problems logged, and the lag of the last five minutes (sampled every 2 s while the
//! server runs: [`keep_history`]), which the page charts.

use super::{problems, LATER, RECONNECTS};
use crate::progress::Numbers;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

/// Lag samples kept: five minutes at one every [`SAMPLE_EVERY`].
const HISTORY: usize = 150;
const SAMPLE_EVERY: Duration = Duration::from_secs(2);

static LAG_HISTORY: Mutex<VecDeque<LagSample>> = Mutex::new(VecDeque::new());

/// The lag of every partition at one moment, and the live commands applied by then.
#[derive(Debug, Clone, Serialize)]
pub struct LagSample {
    /// Unix milliseconds.
    pub at_ms: u128,
    pub lag_ms: BTreeMap<String, i64>,
    pub commands_applied: u64,
}

/// Samples the lag every 2 s from now on, keeping five minutes of it.
pub fn keep_history() {
    tokio::spawn(async {
        let mut ticker = tokio::time::interval(SAMPLE_EVERY);
        loop {
            ticker.tick().await;
            let numbers = super::current();
            let sample = LagSample {
                at_ms: now_ms(),
                lag_ms: lags(&numbers),
                commands_applied: numbers.commands,
            };
            let mut history = LAG_HISTORY.lock().unwrap_or_else(|p| p.into_inner());
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(sample);
        }
    });
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn lags(numbers: &Numbers) -> BTreeMap<String, i64> {
    numbers
        .lags_ms
        .iter()
        .map(|(key, ms)| (key.to_string(), *ms))
        .collect()
}

/// The page, served as it is.
pub const PAGE: &str = include_str!("status.html");

#[derive(Debug, Serialize)]
pub struct Status {
    /// `starting`, `snapshot` or `live`.
    pub phase: &'static str,
    pub ready: bool,
    pub ready_lag_secs: u64,
    pub snapshot: Snapshot,
    pub commands_applied: u64,
    pub commands_refused: u64,
    pub left_out: u64,
    pub partitions: usize,
    pub partitions_live: usize,
    pub captures: usize,
    pub captures_live: usize,
    /// Lag in ms per partition (`3`, or `slots-5461/3` for a cluster source's shard).
    pub lag_ms: BTreeMap<String, i64>,
    pub lag_alert: bool,
    pub retries_reconnect: u64,
    pub retries_later: u64,
    pub problems: Vec<problems::Problem>,
    /// The last five minutes of `lag_ms`, oldest first.
    pub lag_history: Vec<LagSample>,
}

#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub keys_read: u64,
    pub keys_applied: u64,
    pub bytes_read: u64,
    /// 0 when the source did not announce the size.
    pub bytes_expected: u64,
}

/// The status `numbers` describe.
pub fn of(numbers: &Numbers, ready_lag: Duration) -> Status {
    let partitions_live = numbers.lags_ms.len();
    let live = numbers.live();
    let started = numbers.keys_read > 0 || numbers.keys_applied > 0 || partitions_live > 0;
    Status {
        phase: match (live, started) {
            (true, _) => "live",
            (false, true) => "snapshot",
            (false, false) => "starting",
        },
        ready: super::ready(numbers, ready_lag),
        ready_lag_secs: ready_lag.as_secs(),
        snapshot: Snapshot {
            keys_read: numbers.keys_read,
            keys_applied: numbers.keys_applied,
            bytes_read: numbers.rdb_bytes,
            bytes_expected: numbers.rdb_total,
        },
        commands_applied: numbers.commands,
        commands_refused: numbers.refused,
        left_out: numbers.left_out,
        partitions: numbers.partitions,
        partitions_live,
        captures: numbers.captures,
        captures_live: numbers.captures_live,
        lag_ms: lags(numbers),
        lag_alert: super::alert::raised(),
        retries_reconnect: RECONNECTS.load(Ordering::Relaxed),
        retries_later: LATER.load(Ordering::Relaxed),
        problems: problems::recent(),
        lag_history: LAG_HISTORY
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_consumer::stats::LagKey;

    #[test]
    fn the_phase_follows_the_partitions() {
        let limit = Duration::from_secs(30);
        let mut numbers = Numbers {
            partitions: 2,
            ..Numbers::default()
        };
        assert_eq!(of(&numbers, limit).phase, "starting");
        numbers.keys_read = 10;
        assert_eq!(of(&numbers, limit).phase, "snapshot");
        for partition in 0..2 {
            let key = LagKey {
                shard: None,
                partition,
            };
            numbers.lags_ms.insert(key, 5);
        }
        let status = of(&numbers, limit);
        assert_eq!((status.phase, status.ready), ("live", true));
        assert_eq!(status.lag_ms.get("1"), Some(&5));
    }
}
