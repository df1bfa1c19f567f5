//! Counters the capture side updates as it goes, read by progress reporting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Live capture counters; cheap to update from the capture thread.
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Snapshot keys turned into records.
    pub keys: AtomicU64,
    /// Snapshot bytes read from the source.
    pub rdb_bytes: AtomicU64,
    /// Size of the snapshot when the source announced it (`$<len>`), else 0.
    pub rdb_total: AtomicU64,
    /// Keys the source held as its snapshot began (`INFO keyspace`; 0 when unknown).
    pub keys_expected: AtomicU64,
    /// The snapshot is captured and the capture follows live changes.
    pub live: AtomicBool,
    /// The source replication offset the capture has followed to (about every second).
    pub offset: AtomicU64,
    /// The first slot of the cluster shard captured (`None`: a whole source).
    pub shard: Option<u16>,
}

impl CaptureStats {
    /// Counters of the capture of `shard` (its first slot; `None` for a whole source).
    pub fn of_shard(shard: Option<u16>) -> Self {
        Self {
            shard,
            ..Self::default()
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Relaxed)
    }

    pub fn keys(&self) -> u64 {
        self.keys.load(Ordering::Relaxed)
    }

    pub fn rdb_bytes(&self) -> u64 {
        self.rdb_bytes.load(Ordering::Relaxed)
    }

    pub fn rdb_total(&self) -> u64 {
        self.rdb_total.load(Ordering::Relaxed)
    }

    pub fn keys_expected(&self) -> u64 {
        self.keys_expected.load(Ordering::Relaxed)
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }
}
