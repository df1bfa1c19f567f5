//! What the partition tasks share: the destination, batch limits, counters, barriers and the
//! settings every record is applied with.

use crate::barrier::Barriers;
use crate::batch::Limits;
use crate::config::OnUnsupported;
use crate::dbmap::DbMap;
use crate::snapshot::SnapshotWriter;
use crate::stats::ApplyStats;
use crate::target::{Target, TargetInfo};
use crate::throttle::Throttles;
use slotstream_schemas::slot::SlotRanges;
use std::sync::Arc;

pub use slotstream_schemas::log::AppliedHook;

/// Everything a partition task shares with the others.
pub struct PartitionContext {
    pub target: Target,
    pub target_info: TargetInfo,
    pub limits: Limits,
    pub stats: Arc<ApplyStats>,
    /// Name of the log the records come from (the topic, or `sync:<source>`), for messages.
    pub log_name: String,
    /// Name of the log whose checkpoints are kept in the destination; `None`: no checkpoints.
    pub checkpoint_log: Option<String>,
    /// End the partition once its snapshot is applied.
    pub stop_after_snapshot: bool,
    /// With `stop_after_snapshot`: the epoch whose snapshot ends the partition (`None`: any).
    pub snapshot_epoch: Option<u64>,
    pub throttles: Throttles,
    pub on_applied: Option<AppliedHook>,
    /// Skip records of epochs before this one (replay of one epoch onwards).
    pub min_epoch: Option<u64>,
    pub barriers: Barriers,
    /// Partition count of the log (for the slot ranges a sweep keeps to).
    pub partitions: u32,
    /// Expiry times closer than this are pushed this far ahead (see [`crate::command`]).
    pub ttl_extension_ms: i64,
    /// What to do with values the destination cannot hold (see [`crate::rewrite`]).
    pub on_unsupported: OnUnsupported,
    /// Where the destination's own keys are remembered; a sweep keeps them
    /// (see [`crate::existing`]).
    pub existing_log: Option<String>,
    /// An earlier run claimed the destination: a partition without a checkpoint may hold keys
    /// it wrote that the source has deleted since, so it sweeps after its first snapshot.
    pub sweep_unstarted: bool,
    /// The claim this run writes before its first write (it passed the look for keys of the
    /// destination's own); `None` when there is none to write.
    pub claim: Option<Arc<PendingClaim>>,
    /// The slots the records come from (one shard of a cluster source); a sweep keeps to them.
    pub slots: Option<SlotRanges>,
    /// The replication id the source continued under, stored with the checkpoints instead of
    /// the one they held (see [`crate::apply::RunOptions::continued_replid`]).
    pub continued_replid: Option<String>,
    /// The source the records come from, when known before the first (see
    /// [`crate::apply::RunOptions::source`]).
    pub source: Option<String>,
    /// Sources whose records are passed over (see [`crate::apply::RunOptions::passed_over`]).
    pub passed_over: Vec<String>,
    /// Which destination database receives each source database.
    pub db_map: DbMap,
}

/// The claim of the destination for a log (see [`crate::existing`]), written once, by
/// whichever partition commits first, before its batch.
pub struct PendingClaim {
    pub log: String,
    pub written: tokio::sync::OnceCell<()>,
}

impl PendingClaim {
    pub fn new(log: String) -> PendingClaim {
        PendingClaim {
            log,
            written: tokio::sync::OnceCell::new(),
        }
    }
}

impl PartitionContext {
    pub(super) fn snapshot_writer(&self) -> SnapshotWriter<'_> {
        SnapshotWriter {
            target: &self.target_info,
            addr: &self.target.addr,
            extension_ms: self.ttl_extension_ms,
            on_unsupported: self.on_unsupported,
            stats: &self.stats,
        }
    }
}
