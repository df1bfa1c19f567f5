//! One task per partition: reads the partition's records in order, batches them into pipelines
//! and applies them to the destination, one batch at a time so order is kept.
//!
//! With checkpoints on (a durable log such as Kafka), every batch is one `MULTI/EXEC` that also
//! moves the partition's checkpoint, and records the checkpoint covers are skipped (see
//! [`crate::checkpoint`]).

mod chunk;
mod commit;

use crate::barrier::{Arrival, Barriers};
use crate::checkpoint::{self, Checkpoint};
use crate::command::write_command;
use crate::error::ApplyError;
use crate::precheck::{self, Fit};
use crate::restore::{function_command, library_name, write_restore};
use crate::rewrite::{write_part, OnUnsupported, Part, RewriteContext, Rewritten};
use crate::stats::ApplyStats;
use crate::sweep::{self, SeenKeys};
use crate::target::{Target, TargetInfo};
use crate::throttle::Throttle;
use crate::wire::{Commands, Wire};
use redis::aio::MultiplexedConnection;
use slotstream_rdb::elements;
use slotstream_schemas::display::show_key;
use slotstream_schemas::log::{Delivery, Lease, PartitionReader};
pub(crate) use slotstream_schemas::now_ms;
use slotstream_schemas::{Body, EpochBegin, Function, Record, SnapshotKey};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// What one partition saw and did.
#[derive(Debug, Clone, Default)]
pub struct PartitionSummary {
    pub partition: u32,
    /// Epoch of the last `EpochBegin` seen.
    pub epoch: Option<u64>,
    /// Whether that epoch's `SnapshotEnd` was applied.
    pub snapshot_done: bool,
    pub keys: u64,
    pub expired: u64,
    /// Records skipped because the checkpoint already covered them.
    pub skipped: u64,
}

pub use slotstream_schemas::log::AppliedHook;

/// Everything a partition task shares with the others.
pub struct PartitionContext {
    pub target: Target,
    pub target_info: TargetInfo,
    pub batch_records: usize,
    /// With a rate limit: the most writes (keys of an `MSET` counted) a batch holds.
    pub batch_writes: Option<usize>,
    pub batch_bytes: usize,
    pub stats: Arc<ApplyStats>,
    /// Name of the log whose checkpoints are kept in the destination; `None`: no checkpoints.
    pub checkpoint_log: Option<String>,
    /// End the partition once its snapshot is applied.
    pub stop_after_snapshot: bool,
    pub throttle: Option<Throttle>,
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
}

/// Applies one partition until its log ends (or its snapshot does, when asked to stop there).
pub async fn run_partition<R: PartitionReader>(
    mut reader: R,
    ctx: Arc<PartitionContext>,
    start: Option<Checkpoint>,
) -> Result<PartitionSummary, ApplyError> {
    let partition = reader.partition();
    let mut conn = ctx.target.connect().await?;
    let checkpoint_key = ctx
        .checkpoint_log
        .as_deref()
        .map(|log| checkpoint::checkpoint_key(log, partition));
    let replid = match &checkpoint_key {
        Some(key) => checkpoint::load_replid(&mut conn, key)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: ctx.target.addr.clone(),
                doing: format!("reading the checkpoint of partition {partition}"),
                cause,
            })?,
        None => None,
    };
    let wire = Wire::connect(&ctx.target).await?;
    let mut lane = Lane {
        conn,
        wire,
        replid,
        db: 0,
        checkpoint_key,
        applied: start,
        pending: None,
        // Restarted in the middle of a snapshot that is swept: reading resumed at its start.
        seen: start
            .filter(|c| !c.snapshot_done && c.sweep_from.is_some())
            .map(|_| SeenKeys::default()),
        ctx: ctx.clone(),
        summary: PartitionSummary {
            partition,
            epoch: start.map(|c| c.epoch),
            snapshot_done: start.is_some_and(|c| c.snapshot_done),
            ..Default::default()
        },
        batch: Batch::default(),
        chunked: None,
    };
    if ctx.stop_after_snapshot && lane.summary.snapshot_done {
        return Ok(lane.summary);
    }
    let read = |cause| ApplyError::Read { partition, cause };
    while let Some(delivery) = reader.next().await.map_err(read)? {
        lane.take(delivery).await?;
        // Keep filling the batch while records are ready; apply once none is waiting.
        while lane.batch.has_room(&ctx) && !lane.done() {
            // Unconstrained: tokio's cooperative budget would end every batch near 128 records.
            match poll_once(tokio::task::unconstrained(reader.next())) {
                Some(next) => match next.map_err(read)? {
                    Some(delivery) => lane.take(delivery).await?,
                    None => break,
                },
                None => break,
            }
        }
        lane.flush().await?;
        if lane.done() {
            break;
        }
    }
    lane.flush().await?;
    Ok(lane.summary)
}

/// The value of a small string key that needs nothing but setting (no TTL, no LRU/LFU hint):
/// such keys go in an `MSET` with their neighbours, which costs the destination a third less
/// than a `RESTORE` each (measured on Redis 7.0). Larger or undecodable strings take the
/// `RESTORE` path (which reports a bad value with the destination's own error). Destinations are
/// standalone servers; a cluster destination would need one `MSET` per slot.
fn plain_string(key: &SnapshotKey) -> Option<std::borrow::Cow<'_, [u8]>> {
    const MOST_BYTES: usize = 16 << 10;
    let plain = key.rdb_type == elements::TYPE_STRING
        && key.expire_ms.is_none()
        && key.idle_s.is_none()
        && key.freq.is_none()
        && key.object.len() <= MOST_BYTES;
    plain
        .then(|| elements::string_value(&key.object).ok())
        .flatten()
}

/// Polls a future once; `None` if it is not ready. Only for cancel-safe futures.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// A partition's connections, the batch connection's selected database, checkpoints and the
/// batch being built.
struct Lane {
    /// For the occasional query (checkpoints, sweeps).
    conn: MultiplexedConnection,
    /// For batches.
    wire: Wire,
    db: u32,
    checkpoint_key: Option<Vec<u8>>,
    /// The checkpoint stored in the destination.
    applied: Option<Checkpoint>,
    /// The checkpoint the current batch will store.
    pending: Option<Checkpoint>,
    /// Keys of the snapshot being applied, when it must be swept at its end.
    seen: Option<SeenKeys>,
    /// Replication id of the current epoch, stored with every checkpoint.
    replid: Option<String>,
    ctx: Arc<PartitionContext>,
    summary: PartitionSummary,
    batch: Batch,
    /// The chunked value whose chunks are arriving.
    chunked: Option<chunk::InValue>,
}

/// Commands queued for one pipeline, with what is needed to name a failing one.
#[derive(Default)]
struct Batch {
    cmds: Commands,
    /// For each command: the (db, key) it writes, for error messages.
    keys: Vec<(u32, Vec<u8>)>,
    /// For each command: whether an error reply that is the command's own outcome is accepted
    /// (commands of a replicated `MULTI` block, which the source ran whole).
    lenient: Vec<bool>,
    /// Log space held by the batch's records: released once the batch is applied.
    leases: Vec<Lease>,
    /// Data records in the batch (keys, functions, commands; a chunked value once, with its
    /// last chunk), counted into the checkpoint.
    records: u64,
    /// Live commands in the batch.
    commands: u64,
    snapshot_keys: u64,
}

impl Batch {
    fn has_room(&self, ctx: &PartitionContext) -> bool {
        self.cmds.len() < ctx.batch_records
            && self.cmds.byte_len() < ctx.batch_bytes
            && ctx
                .batch_writes
                .is_none_or(|most| self.cmds.writes() < most)
    }
}

impl Lane {
    fn done(&self) -> bool {
        self.ctx.stop_after_snapshot && self.summary.snapshot_done
    }

    /// Adds a record to the batch, or handles a control record (flushing first so it takes
    /// effect in order).
    async fn take(&mut self, delivery: Delivery) -> Result<(), ApplyError> {
        let Delivery {
            record,
            log_offset,
            lease,
        } = delivery;
        self.batch.leases.extend(lease);
        // A snapshot being swept needs every key it holds, applied now or before a restart.
        if let Some(seen) = &mut self.seen {
            let (key, expire_ms) = match &record.body {
                Body::SnapshotKey(key) => (Some(&key.key), key.expire_ms),
                Body::SnapshotChunk(chunk) if chunk.last => (Some(&chunk.key), chunk.expire_ms),
                _ => (None, None),
            };
            if let Some(key) = key.filter(|_| expire_ms.is_none_or(|at| at > now_ms())) {
                seen.insert(record.db, key);
            }
        }
        let before_min_epoch = self.ctx.min_epoch.is_some_and(|min| record.epoch < min);
        // Positions only grow within a partition, so anything at or below the last record taken
        // (applied, or still in the batch) is a copy: a producer that re-sent records after a
        // restart, or a log that delivered some twice.
        if before_min_epoch
            || self
                .last_taken()
                .is_some_and(|c| c.covers(record.epoch, record.position))
        {
            self.summary.skipped += 1;
            return Ok(());
        }
        let previous = self
            .pending
            .or(self.applied)
            .filter(|c| c.epoch == record.epoch);
        let mut next = Checkpoint {
            epoch: record.epoch,
            position: record.position,
            log_offset,
            snapshot_done: previous.is_some_and(|c| c.snapshot_done),
            db: record.db,
            sweep_from: previous.and_then(|c| c.sweep_from),
        };
        let Record {
            db,
            epoch,
            position,
            capture_ms,
            body,
            ..
        } = record;
        match body {
            Body::SnapshotKey(key) => {
                self.select(db);
                self.write_snapshot_key(db, key)?;
            }
            Body::Function(function) => self.write_function(&function)?,
            Body::EpochBegin(begin) => {
                self.flush().await?;
                self.check_epoch(&begin)?;
                tracing::debug!(partition = self.summary.partition, epoch, "epoch begins");
                // Keys of an earlier epoch may be gone from the source: sweep after this
                // snapshot. A first epoch into a destination never sweeps what was there.
                if self.applied.is_some_and(|c| c.epoch < epoch) {
                    self.seen = Some(SeenKeys::default());
                    next.sweep_from = log_offset.or(Some(0));
                }
                self.replid = Some(begin.replid.clone());
                self.summary.epoch = Some(epoch);
                self.summary.snapshot_done = false;
                next.snapshot_done = false;
            }
            Body::SnapshotEnd(end) => {
                if self.summary.epoch != Some(epoch) {
                    return Err(self.log_error(format!(
                        "snapshot end of epoch {epoch} without its beginning"
                    )));
                }
                tracing::debug!(
                    partition = self.summary.partition,
                    records = end.records,
                    "snapshot applied"
                );
                if let Some(seen) = self.seen.take() {
                    self.flush().await?;
                    self.sweep(&seen).await?;
                }
                self.summary.snapshot_done = true;
                next.snapshot_done = true;
                next.sweep_from = None;
            }
            Body::Command(command) => {
                self.select(db);
                self.write_command(command, capture_ms);
                self.mark_lenient();
                self.batch.records += 1;
                self.batch.commands += 1;
            }
            Body::Barrier(barrier) => {
                return self
                    .barrier((epoch, position), db, capture_ms, barrier, next)
                    .await;
            }
            Body::Heartbeat(_) => {
                self.ctx
                    .stats
                    .note_lag(self.summary.partition, now_ms() - capture_ms);
            }
            Body::SnapshotChunk(chunk) => {
                self.resume_chunked(db, &chunk).await?;
                self.select(db);
                self.write_chunk(db, chunk)?;
            }
        }
        self.pending = Some(next);
        Ok(())
    }

    /// The higher of the applied checkpoint and the one the current batch will store.
    fn last_taken(&self) -> Option<Checkpoint> {
        match (self.pending, self.applied) {
            (Some(pending), Some(applied)) => Some(
                if (pending.epoch, pending.position) >= (applied.epoch, applied.position) {
                    pending
                } else {
                    applied
                },
            ),
            (pending, applied) => pending.or(applied),
        }
    }

    /// Deletes the keys of this partition's slots that the epoch's snapshot did not contain.
    async fn sweep(&mut self, seen: &SeenKeys) -> Result<(), ApplyError> {
        let partition = self.summary.partition;
        let deleted = sweep::sweep(&mut self.conn, partition, self.ctx.partitions, seen)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.ctx.target.addr.clone(),
                doing: format!("deleting keys the new snapshot lacks (partition {partition})"),
                cause,
            })?;
        // The sweep moved the connection between databases.
        self.db = u32::MAX;
        tracing::info!(
            partition,
            kept = seen.len(),
            deleted,
            "new epoch: deleted the keys its snapshot did not contain"
        );
        Ok(())
    }

    /// Stops before the epoch's first write when its snapshot holds what the destination cannot
    /// take (as [`precheck::fit`] finds); says when its values will be rewritten as commands
    /// rather than restored. Partition 0 speaks for all.
    fn check_epoch(&self, begin: &EpochBegin) -> Result<(), ApplyError> {
        let info = &self.ctx.target_info;
        let speaks = self.summary.partition == 0;
        match precheck::fit(begin, info, self.ctx.on_unsupported) {
            Fit::Whole => {}
            Fit::Partly(warnings) => {
                for warning in warnings.iter().filter(|_| speaks) {
                    tracing::warn!("{warning}");
                }
            }
            Fit::Refused(why) => {
                return Err(ApplyError::Incompatible {
                    addr: self.ctx.target.addr.clone(),
                    why,
                })
            }
        }
        if !info.restores(begin.rdb_version) && speaks {
            tracing::info!(
                source = %begin.source_version,
                source_rdb = begin.rdb_version,
                target = %info.version,
                target_rdb = info.rdb_version,
                "the target cannot RESTORE the source's RDB format: values are written as commands"
            );
        }
        Ok(())
    }

    /// Adds a function library to the batch (`FUNCTION LOAD REPLACE`), or, on a destination
    /// without functions (before Redis 7.0), stops or leaves it out as `--on-unsupported` says.
    fn write_function(&mut self, function: &Function) -> Result<(), ApplyError> {
        let name = library_name(&function.code);
        if !self.ctx.target_info.at_least(7, 0) {
            let why = format!(
                "the source has the function library {name}, and {} has no functions (Redis 7.0+)",
                self.ctx.target_info.version
            );
            return match self.ctx.on_unsupported {
                OnUnsupported::Fail => Err(ApplyError::Incompatible {
                    addr: self.ctx.target.addr.clone(),
                    why: format!(
                        "{why}; pass --on-unsupported=skip-with-warning to copy without it"
                    ),
                }),
                OnUnsupported::SkipWithWarning => {
                    tracing::warn!(%why, "function library left out");
                    self.ctx.stats.left_out.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
            };
        }
        self.select(0);
        self.push_cmd(0, name.into_bytes(), &function_command(function));
        self.batch.records += 1;
        Ok(())
    }

    /// Adds a snapshot key to the batch: `RESTORE` of its payload where the destination reads
    /// the format, else the value rewritten as commands ([`crate::rewrite`]).
    fn write_snapshot_key(&mut self, db: u32, key: SnapshotKey) -> Result<(), ApplyError> {
        let now = now_ms();
        if key.expire_ms.is_some_and(|at| at <= now) {
            self.count_expired();
            return Ok(());
        }
        if let Some(value) = plain_string(&key) {
            if self.batch.cmds.mset_pair(&key.key, &value) {
                self.batch.keys.push((db, key.key));
            }
            self.batch.snapshot_keys += 1;
            self.batch.records += 1;
            return Ok(());
        }
        let commands = if self.ctx.target_info.restores(key.rdb_version) {
            write_restore(&mut self.batch.cmds, &key, now, self.ctx.ttl_extension_ms);
            1
        } else {
            let what = || {
                format!(
                    "RDB type {} of RDB version {}",
                    key.rdb_type, key.rdb_version
                )
            };
            match self.write_rewritten(db, &key.key, &key.key, &Part::whole(&key), now, what)? {
                Some(n) => n,
                None => return Ok(()),
            }
        };
        self.batch
            .keys
            .extend(std::iter::repeat_n((db, key.key), commands));
        self.batch.snapshot_keys += 1;
        self.batch.records += 1;
        Ok(())
    }

    /// Writes `part` of `key`'s value as commands on `on` (the key, or where it is built):
    /// `Some(n)` commands written; `None` when the value is left out (warned and counted, as
    /// `--on-unsupported` said); an error naming the key and `what` part of it otherwise.
    fn write_rewritten(
        &mut self,
        db: u32,
        key: &[u8],
        on: &[u8],
        part: &Part<'_>,
        now: i64,
        what: impl FnOnce() -> String,
    ) -> Result<Option<usize>, ApplyError> {
        let ctx = RewriteContext {
            target: &self.ctx.target_info,
            now_ms: now,
            extension_ms: self.ctx.ttl_extension_ms,
            on_unsupported: self.ctx.on_unsupported,
        };
        match write_part(&mut self.batch.cmds, on, part, &ctx) {
            Ok(Rewritten::Commands(n)) => Ok(Some(n)),
            Ok(Rewritten::Skipped(why)) => {
                tracing::warn!(db, key = %show_key(key), %why, "key left out");
                self.ctx.stats.left_out.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
            Err(err) => Err(ApplyError::Incompatible {
                addr: self.ctx.target.addr.clone(),
                why: format!("key {} (db {db}, {}): {err}", show_key(key), what()),
            }),
        }
    }

    /// Counts a snapshot key that expired before it could be applied.
    fn count_expired(&mut self) {
        self.summary.expired += 1;
        self.ctx.stats.expired.fetch_add(1, Ordering::Relaxed);
    }

    fn log_error(&self, what: String) -> ApplyError {
        ApplyError::Log {
            partition: self.summary.partition,
            what,
        }
    }

    /// Adds a live command to the batch, in the database selected last.
    fn write_command(&mut self, command: slotstream_schemas::Command, ran_ms: i64) {
        let name = write_command(
            &mut self.batch.cmds,
            command,
            ran_ms,
            now_ms(),
            self.ctx.ttl_extension_ms,
            self.ctx.target_info.at_least(6, 2),
        );
        self.batch.keys.push((self.db, name));
    }

    /// Adds a command built with the `redis` crate to the batch.
    fn push_cmd(&mut self, db: u32, name: Vec<u8>, cmd: &redis::Cmd) {
        self.batch.cmds.push_cmd(cmd);
        self.batch.keys.push((db, name));
    }

    /// The command just pushed is a replicated one: an error reply that is its own outcome is
    /// what a replica of the source would get too (the source runs a `MULTI` block whole, and a
    /// key with a TTL can expire on the destination a moment before the source's `DEL` arrives),
    /// so it is counted and logged, not fatal. Faults of the destination itself stay fatal.
    fn mark_lenient(&mut self) {
        self.batch.lenient.resize(self.batch.keys.len() - 1, false);
        self.batch.lenient.push(true);
    }

    fn select(&mut self, db: u32) {
        if db != self.db {
            self.batch.cmds.command(2);
            self.batch.cmds.arg(b"SELECT");
            self.batch.cmds.arg_int(i64::from(db));
            self.batch.keys.push((db, b"<SELECT>".to_vec()));
            self.db = db;
        }
    }

    /// Applies the batch (and moves the checkpoint with it) and checks every reply.
    async fn flush(&mut self) -> Result<(), ApplyError> {
        let own = match (&self.checkpoint_key, self.pending) {
            (Some(key), Some(pending)) if Some(pending) != self.applied => Arrival {
                partition: self.summary.partition,
                checkpoint: Some((key.clone(), pending)),
                records: self.batch.records,
                replid: self.replid.clone(),
            },
            _ if self.batch.cmds.is_empty() => {
                self.batch.leases.clear();
                return Ok(());
            }
            _ => Arrival {
                partition: self.summary.partition,
                checkpoint: None,
                records: self.batch.records,
                replid: None,
            },
        };
        self.commit(vec![own], false).await
    }
}
