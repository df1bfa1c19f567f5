//! Where a producer may continue from: the replication position whose records are all in the log.

/// Where the producer may continue from: every record before it is in the log (for Kafka:
/// acknowledged). `produce` keeps it in the data topic's resume topic; `sync` rebuilds it from
/// the checkpoints in the target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResumePoint {
    /// The source's name in the records.
    pub source: String,
    /// Replication id the offset belongs to.
    pub replid: String,
    /// Last replication offset whose records are all in the log.
    pub offset: u64,
    /// Epoch those records belong to.
    pub epoch: u64,
    /// Partition count of the log.
    pub partitions: u32,
    /// Database selected in the stream at `offset` (a continued stream does not repeat it).
    #[serde(default)]
    pub db: u32,
    /// False while `epoch`'s snapshot is being written: the point then only claims the epoch
    /// (a restart cannot continue a snapshot cut short, and takes the next epoch so the
    /// consumer sweeps what the cut-short one left). Points saved before this field was kept
    /// read as complete.
    #[serde(default = "complete")]
    pub snapshot_complete: bool,
    /// The slots the source serves when it is one shard of a cluster (`0-5460`), so the
    /// consumer's sweep of a new epoch keeps to them; absent for a whole source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<String>,
}

fn complete() -> bool {
    true
}
