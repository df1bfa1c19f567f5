//! The apply driver: checks the destination, then runs one task per partition and gathers their
//! outcomes. The first failing partition stops the others.

use crate::batch::Limits;
use crate::checkpoint::{self, checkpoint_key, Checkpoint};
use crate::config::{OnExisting, TargetConfig};
use crate::error::ApplyError;
use crate::existing;
use crate::partition::{
    run_partition, AppliedHook, PartitionContext, PartitionSummary, PendingClaim,
};
use crate::stats::ApplyStats;
use crate::target::{SlotMap, Target, TargetInfo, Topology};
use crate::throttle::Throttles;
use slotstream_link::access;
use slotstream_schemas::log::PartitionReader;
use slotstream_schemas::slot::SlotRanges;
use slotstream_schemas::Position;
use std::sync::Arc;
use tokio::task::JoinSet;

/// What the apply side did, over all partitions.
#[derive(Debug, Clone, Default)]
pub struct ApplySummary {
    pub partitions: Vec<PartitionSummary>,
    pub keys: u64,
    pub expired: u64,
    /// Records skipped because a checkpoint already covered them.
    pub skipped: u64,
}

/// How to run the partitions.
#[derive(Default)]
pub struct RunOptions {
    /// Name of the log the records come from (the topic, or `sync:<source>`), for messages.
    pub log_name: String,
    /// Keep checkpoints in the destination under this log name (a durable log only).
    pub checkpoint_log: Option<String>,
    /// Each partition's checkpoint at start, by partition number.
    pub start: Vec<Option<Checkpoint>>,
    /// End each partition once its snapshot is applied.
    pub stop_after_snapshot: bool,
    /// With `stop_after_snapshot`: only the snapshot of this epoch (or a later one) ends a
    /// partition, not one its checkpoint already holds (`sync` taking a new snapshot).
    pub snapshot_epoch: Option<u64>,
    pub throttles: Throttles,
    pub on_applied: Option<AppliedHook>,
    /// Skip records of epochs before this one.
    pub min_epoch: Option<u64>,
    /// The name the destination's own keys are looked at and remembered under before the
    /// first write (when no partition has a checkpoint yet; see [`crate::existing`]).
    pub existing_log: Option<String>,
    /// The claim, when it was decided before this run (by [`Applier::claim`], once for the
    /// runs of every shard of a cluster source); then `existing_log` is not looked at.
    pub claim: Option<Claim>,
    /// The slots this run's records come from (one shard of a cluster source): a sweep keeps
    /// to them. `None`: every slot.
    pub slots: Option<SlotRanges>,
    /// The replication id the source continued under, when it answered `+CONTINUE` with a new
    /// one (a failover promoted a replica): the checkpoints store it from now on, so a later
    /// failover continues from it too.
    pub continued_replid: Option<String>,
    /// The source this run's records come from, when known before its first record (one shard
    /// of a cluster source whose log it shares with the others).
    pub source: Option<String>,
    /// Sources whose records share the log and are applied by runs of their own (the other
    /// shards of a cluster source): this run passes over their records instead of refusing them.
    pub passed_over: Vec<String>,
}

/// The destination's claim for a log ([`crate::existing`]), decided before the first write.
#[derive(Clone)]
pub struct Claim {
    /// The log the destination's own keys are remembered under.
    pub log: String,
    /// An earlier run had claimed the destination already.
    pub before: bool,
    /// The claim still to write before the first write, shared by every run that writes for
    /// the log; `None` when there is none to write.
    pub pending: Option<Arc<PendingClaim>>,
}

impl ApplySummary {
    /// True when every partition applied the `SnapshotEnd` of its last epoch.
    pub fn snapshot_complete(&self) -> bool {
        !self.partitions.is_empty() && self.partitions.iter().all(|p| p.snapshot_done)
    }
}

/// Refuses a cluster destination that cannot take every slot: one in `cluster_state:fail`, or
/// with slots no primary serves (named as ranges).
pub async fn check_cluster(
    addr: &str,
    map: &SlotMap,
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<(), ApplyError> {
    let info: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(conn)
        .await
        .map_err(|cause| ApplyError::Redis {
            addr: addr.to_string(),
            doing: "CLUSTER INFO".into(),
            cause,
        })?;
    let failing = info.lines().any(|line| line.trim() == "cluster_state:fail");
    let uncovered = map.uncovered();
    if !failing && uncovered.is_empty() {
        return Ok(());
    }
    let ranges: Vec<String> = uncovered
        .iter()
        .take(10)
        .map(|r| format!("{}-{}", r.start, r.end - 1))
        .collect();
    Err(ApplyError::ClusterDown {
        addr: addr.to_string(),
        why: format!(
            "cluster_state {}, slots no primary serves: {}; fix the cluster (redis-cli \
             --cluster check / fix) before copying into it",
            if failing { "fail" } else { "ok" },
            if ranges.is_empty() {
                "none".to_string()
            } else {
                ranges.join(", ")
            }
        ),
    })
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
        target.check_tls().await?;
        let mut conn = target.connect().await?;
        let info = target.info(&mut conn).await?;
        check_target_access(&target, &mut conn).await?;
        if let Topology::Cluster(map) = &info.topology {
            check_cluster(&target.addr, map, &mut conn).await?;
            tracing::info!(
                target = %target.addr,
                primaries = map.nodes.len(),
                "the target is a cluster: each slot's commands go to its primary"
            );
        }
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

    /// Reads the checkpoints of `log`'s partitions from the destination.
    pub async fn load_checkpoints(
        &self,
        log: &str,
        partitions: u32,
    ) -> Result<Vec<Option<Checkpoint>>, ApplyError> {
        let mut conn = self.target.queries(&self.info.topology).await?;
        let mut checkpoints = Vec::with_capacity(partitions as usize);
        for partition in 0..partitions {
            let key = checkpoint_key(log, partition);
            let loaded =
                checkpoint::load(&mut conn, &key)
                    .await
                    .map_err(|cause| ApplyError::Redis {
                        addr: self.target.addr.clone(),
                        doing: format!("reading the checkpoint of partition {partition}"),
                        cause,
                    })?;
            checkpoints.push(loaded);
        }
        Ok(checkpoints)
    }

    /// The replication id stored with partition 0's checkpoint of `log`.
    pub async fn load_replid(&self, log: &str) -> Result<Option<String>, ApplyError> {
        let mut conn = self.target.queries(&self.info.topology).await?;
        checkpoint::load_replid(&mut conn, &checkpoint_key(log, 0))
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.target.addr.clone(),
                doing: "reading the replication id of the checkpoints".into(),
                cause,
            })
    }

    /// Whether [`Applier::lower_checkpoints`] can run here: on one server, where the
    /// partitions' checkpoints change in one transaction (a cluster's are spread per slot).
    pub fn can_lower_checkpoints(&self) -> bool {
        !matches!(self.info.topology, Topology::Cluster(_))
    }

    /// Lowers every checkpoint of `log` past `to` to it, with `db` selected there, in one
    /// transaction, and the same in `checkpoints` (as read before): for a source that continues
    /// from a failover's fork below them, past which the stream changed nothing. A kill before
    /// the transaction leaves them all as they were, which the next run sees again.
    pub async fn lower_checkpoints(
        &self,
        log: &str,
        checkpoints: &mut [Option<Checkpoint>],
        to: Position,
        db: u32,
    ) -> Result<(), ApplyError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (partition, checkpoint) in checkpoints.iter_mut().enumerate() {
            let Some(checkpoint) = checkpoint.as_mut().filter(|c| c.position > to) else {
                continue;
            };
            checkpoint.position = to;
            checkpoint.db = db;
            pipe.cmd("HSET")
                .arg(checkpoint_key(log, partition as u32))
                .arg("offset")
                .arg(to.offset)
                .arg("index")
                .arg(to.index)
                .arg("db")
                .arg(db)
                .ignore();
        }
        let mut conn = self.target.queries(&self.info.topology).await?;
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.target.addr.clone(),
                doing: format!("lowering the checkpoints of {log} to the source's fork"),
                cause,
            })
    }

    /// Before the first write of `log` (`first_write`: no checkpoint of it yet): refuses a
    /// destination with keys of its own, or remembers them, as `--on-existing` says. Returns
    /// whether an earlier run had claimed it already (its keys are slotstream's; see
    /// [`existing`]), and the claim this run is to write before its first write.
    pub async fn claim(
        &self,
        log: &str,
        partitions: u32,
        first_write: bool,
    ) -> Result<Claim, ApplyError> {
        let mut store = self.target.queries(&self.info.topology).await?;
        let redis_failed = |doing: &str| {
            let addr = self.target.addr.clone();
            let doing = doing.to_string();
            move |cause| ApplyError::Redis { addr, doing, cause }
        };
        let claimed = existing::claimed(&mut store, log)
            .await
            .map_err(redis_failed("reading the claim of an earlier run"))?;
        let decided = |pending: bool| Claim {
            log: log.to_string(),
            before: claimed,
            pending: pending.then(|| Arc::new(PendingClaim::new(log.to_string()))),
        };
        if claimed || !first_write {
            return Ok(decided(false));
        }
        let mut nodes = self.target.node_connections(&self.info.topology).await?;
        let policy = self.config.on_existing;
        let checked = existing::check(&mut nodes, &mut store, policy, log, partitions)
            .await
            .map_err(redis_failed(
                "looking for keys of its own before the first write",
            ))?;
        match policy {
            _ if checked.count == 0 => {}
            OnExisting::Fail => {
                return Err(ApplyError::NotEmpty {
                    addr: self.target.addr.clone(),
                    why: checked.refusal(),
                })
            }
            OnExisting::Overwrite => tracing::warn!(
                keys = checked.count,
                examples = %checked.examples.join(", "),
                "the target holds keys of its own: copying over them (--on-existing \
                 overwrite); they are remembered and no sweep will delete them"
            ),
        }
        Ok(decided(true))
    }

    /// Applies every partition until its log ends (or its snapshot, with
    /// `stop_after_snapshot`). `options.start` holds each partition's checkpoint.
    pub async fn run<R: PartitionReader>(
        self,
        readers: Vec<R>,
        stats: Arc<ApplyStats>,
        options: RunOptions,
    ) -> Result<ApplySummary, ApplyError> {
        let first_write = options.start.iter().all(Option::is_none);
        let claim = match (options.claim, &options.existing_log) {
            (Some(claim), _) => Some(claim),
            (None, Some(log)) => Some(self.claim(log, readers.len() as u32, first_write).await?),
            (None, None) => None,
        };
        let ctx = Arc::new(PartitionContext {
            target: self.target,
            target_info: self.info,
            limits: Limits {
                commands: self.config.batch_records,
                bytes: self.config.batch_bytes,
                // Set per batch, from the throttles.
                writes: None,
            },
            stats,
            log_name: options.log_name,
            checkpoint_log: options.checkpoint_log,
            stop_after_snapshot: options.stop_after_snapshot,
            snapshot_epoch: options.snapshot_epoch,
            throttles: options.throttles,
            on_applied: options.on_applied,
            min_epoch: options.min_epoch,
            barriers: Default::default(),
            partitions: readers.len() as u32,
            ttl_extension_ms: self.config.ttl_extension.as_millis() as i64,
            on_unsupported: self.config.on_unsupported,
            existing_log: claim.as_ref().map(|c| c.log.clone()),
            db_map: self.config.db_map.clone(),
            sweep_unstarted: claim.as_ref().is_some_and(|c| c.before),
            claim: claim.and_then(|c| c.pending),
            slots: options.slots,
            continued_replid: options.continued_replid,
            source: options.source,
            passed_over: options.passed_over,
        });
        let mut tasks = JoinSet::new();
        for reader in readers {
            let start = options
                .start
                .get(reader.partition() as usize)
                .copied()
                .flatten();
            tasks.spawn(run_partition(reader, ctx.clone(), start));
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
            summary.skipped += partition.skipped;
            summary.expired += partition.expired;
            summary.partitions.push(partition);
        }
        summary.partitions.sort_by_key(|p| p.partition);
        Ok(summary)
    }
}

/// Asks, before any write, whether the target account may run what every copy sends (`ACL
/// DRYRUN`); a missing permission stops the run naming it and the rule that allows it.
async fn check_target_access(
    target: &Target,
    conn: &mut redis::aio::MultiplexedConnection,
) -> Result<(), ApplyError> {
    let addr = &target.addr;
    let user = target.username();
    let (user, access) = access::check_async(conn, user, &[access::TARGET_NEEDS]).await;
    access
        .settle("target", &user, addr)
        .map_err(|why| ApplyError::Permission {
            addr: addr.to_string(),
            why,
        })
}
