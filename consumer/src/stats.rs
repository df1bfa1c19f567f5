//! Counters the apply side updates as it goes, read by progress reporting.

pub mod latency;

pub use latency::{Latency, LatencyReading};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// At most one warning about refused replicated commands per this many milliseconds (the
/// others are logged at debug; `refused` counts them all).
pub const REFUSAL_WARNING_EVERY_MS: i64 = 10_000;

/// Live apply counters, shared by all partition tasks.
#[derive(Debug, Default)]
pub struct ApplyStats {
    /// Snapshot keys written to the destination.
    pub keys: AtomicU64,
    /// Snapshot keys skipped because they had expired before they could be applied.
    pub expired: AtomicU64,
    /// Snapshot keys and live commands left out because the destination cannot hold them
    /// (`--on-unsupported=skip-with-warning`).
    pub left_out: AtomicU64,
    /// Live commands among them: no older form expresses them on the destination.
    pub left_out_commands: AtomicU64,
    /// Live commands applied.
    pub commands: AtomicU64,
    /// Replicated commands the target answered with an error that is the command's own
    /// outcome (see `partition::Lane::mark_lenient`).
    pub refused: AtomicU64,
    /// Payload bytes written.
    pub bytes: AtomicU64,
    /// Live commands applied later after the source ran them than the TTL extension.
    pub later_than_extension: AtomicU64,
    /// Per partition (and shard): commit time minus capture time of the newest live record
    /// (command, barrier, heartbeat) the commit applied, in ms.
    lag_ms: Mutex<BTreeMap<LagKey, i64>>,
    /// Per partition (and shard): where its last stored checkpoint is.
    applied: Mutex<BTreeMap<LagKey, Applied>>,
    /// How long each batch's round trip to the target took.
    pub batch_latency: Latency,
    /// When the last refused command was warned about (Unix ms; 0: never).
    refusal_warned_ms: AtomicI64,
}

/// Where a partition's last stored checkpoint is: its epoch and source replication offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub epoch: u64,
    pub offset: u64,
}

/// Whose lag: a partition, of one shard when the source is a cluster (each shard's records
/// carry its own heartbeats and are applied by a run of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LagKey {
    /// The shard's first slot (its label is `slots-<first slot>`); `None` for a whole source.
    pub shard: Option<u16>,
    pub partition: u32,
}

impl std::fmt::Display for LagKey {
    /// `3`, or `slots-5461/3` for one shard's partition 3.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.shard {
            Some(first) => write!(f, "slots-{first}/{}", self.partition),
            None => write!(f, "{}", self.partition),
        }
    }
}

impl ApplyStats {
    pub fn keys(&self) -> u64 {
        self.keys.load(Ordering::Relaxed)
    }

    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    pub fn left_out(&self) -> u64 {
        self.left_out.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Records the lag a partition's commit showed.
    pub fn note_lag(&self, key: LagKey, lag_ms: i64) {
        let mut lags = self.lag_ms.lock().unwrap_or_else(|p| p.into_inner());
        lags.insert(key, lag_ms.max(0));
    }

    /// The last lag seen per partition (and shard).
    pub fn lags(&self) -> BTreeMap<LagKey, i64> {
        self.lag_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a refused replicated command seen at `now_ms` is warned about: the first of the
    /// run, then at most one every [`REFUSAL_WARNING_EVERY_MS`], whichever partition sees it.
    pub fn refusal_warning_due(&self, now_ms: i64) -> bool {
        let last = self.refusal_warned_ms.load(Ordering::Relaxed);
        (last == 0 || now_ms - last >= REFUSAL_WARNING_EVERY_MS)
            && self
                .refusal_warned_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Records where a partition's stored checkpoint now is.
    pub fn note_applied(&self, key: LagKey, applied: Applied) {
        let mut positions = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        positions.insert(key, applied);
    }

    /// Where each partition's last stored checkpoint is.
    pub fn applied(&self) -> BTreeMap<LagKey, Applied> {
        self.applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_warned_about_first_then_once_every_ten_seconds() {
        let stats = ApplyStats::default();
        let at = 1_000_000;
        assert!(stats.refusal_warning_due(at));
        assert!(!stats.refusal_warning_due(at + 1));
        assert!(!stats.refusal_warning_due(at + REFUSAL_WARNING_EVERY_MS - 1));
        assert!(stats.refusal_warning_due(at + REFUSAL_WARNING_EVERY_MS));
        assert!(!stats.refusal_warning_due(at + REFUSAL_WARNING_EVERY_MS + 5));
    }
}
