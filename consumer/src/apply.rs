//! The apply driver: checks the destination, then runs one task per partition and gathers their
//! outcomes. The first failing partition stops the others.

use crate::config::TargetConfig;
use crate::error::ApplyError;
use crate::partition::{run_partition, PartitionContext, PartitionSummary};
use crate::stats::ApplyStats;
use crate::target::{Target, TargetInfo};
use slotstream_schemas::log::PartitionReader;
use std::sync::Arc;
use tokio::task::JoinSet;

/// What the apply side did, over all partitions.
#[derive(Debug, Clone, Default)]
pub struct ApplySummary {
    pub partitions: Vec<PartitionSummary>,
    pub keys: u64,
    pub expired: u64,
}

impl ApplySummary {
    /// True when every partition applied the `SnapshotEnd` of its last epoch.
    pub fn snapshot_complete(&self) -> bool {
        !self.partitions.is_empty() && self.partitions.iter().all(|p| p.snapshot_done)
    }
}

/// A destination checked and ready: connections open, version known.
pub struct Applier {
    target: Target,
    info: TargetInfo,
    config: TargetConfig,
}

impl Applier {
    /// Connects once to check the destination is reachable and learn what it is.
    pub async fn connect(config: &TargetConfig) -> Result<Self, ApplyError> {
        let target = Target::new(config)?;
        let mut conn = target.connect().await?;
        let info = target.info(&mut conn).await?;
        tracing::info!(target = %target.addr, version = %info.version, rdb_version = info.rdb_version, "target ready");
        Ok(Self {
            target,
            info,
            config: config.clone(),
        })
    }

    pub fn info(&self) -> &TargetInfo {
        &self.info
    }

    /// Applies every partition until its log ends.
    pub async fn run<R: PartitionReader>(
        self,
        readers: Vec<R>,
        stats: Arc<ApplyStats>,
    ) -> Result<ApplySummary, ApplyError> {
        let ctx = Arc::new(PartitionContext {
            target: self.target,
            target_info: self.info,
            batch_records: self.config.batch_records,
            batch_bytes: self.config.batch_bytes,
            stats,
        });
        let mut tasks = JoinSet::new();
        for reader in readers {
            tasks.spawn(run_partition(reader, ctx.clone()));
        }
        let mut summary = ApplySummary::default();
        while let Some(joined) = tasks.join_next().await {
            let partition = match joined {
                Ok(Ok(partition)) => partition,
                Ok(Err(err)) => {
                    tasks.abort_all();
                    return Err(err);
                }
                Err(join_error) => {
                    tasks.abort_all();
                    return Err(ApplyError::Log {
                        partition: u32::MAX,
                        what: format!("a partition task failed: {join_error}"),
                    });
                }
            };
            summary.keys += partition.keys;
            summary.expired += partition.expired;
            summary.partitions.push(partition);
        }
        summary.partitions.sort_by_key(|p| p.partition);
        Ok(summary)
    }
}
