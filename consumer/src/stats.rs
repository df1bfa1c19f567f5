//! Counters the apply side updates as it goes, read by progress reporting.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live apply counters, shared by all partition tasks.
#[derive(Debug, Default)]
pub struct ApplyStats {
    /// Snapshot keys written to the destination.
    pub keys: AtomicU64,
    /// Snapshot keys skipped because they had expired before they could be applied.
    pub expired: AtomicU64,
    /// Payload bytes written.
    pub bytes: AtomicU64,
}

impl ApplyStats {
    pub fn keys(&self) -> u64 {
        self.keys.load(Ordering::Relaxed)
    }

    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
