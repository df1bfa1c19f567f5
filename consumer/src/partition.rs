//! One task per partition: reads the partition's records in order, batches them and applies
//! them to the destination, one round trip at a time so order is kept.
//!
//! With checkpoints on, every batch moves the partition's checkpoint, and records the
//! checkpoint covers are skipped ([`crate::position`]); `partition::commit` says how a batch
//! and its checkpoint are stored so that nothing is applied twice.
//!
//! The pieces: [`Positions`] decides what is new, [`Batches`] hold the commands and what they
//! concern (one batch, or one per slot on a cluster), [`SnapshotWriter`](crate::snapshot::SnapshotWriter)
//! and [`ChunkedValue`] turn snapshot records into commands, [`LiveWriter`] live ones, and
//! `commit::Committer` sends the batches and judges the replies. [`Lane`] routes each record
//! to them; `epoch` handles the control records, `barrier` the barriers.

mod barrier;
mod commit;
mod context;
mod cross_slot;
mod epoch;
mod fill;
mod fork;
mod lineage;

pub use context::{AppliedHook, PartitionContext, PendingClaim};

use crate::barrier::Arrival;
use crate::batch::{Replies, Tally};
use crate::batches::Batches;
use crate::checkpoint::{self, Checkpoint};
use crate::chunk::{resume_state, ChunkedValue};
use crate::command::{Live, LiveWriter};
use crate::error::ApplyError;
use crate::existing;
use crate::position::Positions;
use crate::snapshot::Written;
use crate::stats::{Applied, LagKey};
use crate::sweep::SeenKeys;
use crate::target::Topology;
use commit::Committer;
use slotstream_schemas::log::{Delivery, PartitionReader};
pub(crate) use slotstream_schemas::now_ms;
use slotstream_schemas::slot::{slots_of_partition, SlotRanges};
use slotstream_schemas::{Body, Record, SnapshotChunk};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

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

/// Applies one partition until its log ends (or its snapshot does, when asked to stop there).
pub async fn run_partition<R: PartitionReader>(
    mut reader: R,
    ctx: Arc<PartitionContext>,
    start: Option<Checkpoint>,
) -> Result<PartitionSummary, ApplyError> {
    let partition = reader.partition();
    let mut lane = Lane::open(partition, ctx.clone(), start).await?;
    if lane.done() {
        return Ok(lane.summary);
    }
    let read = |cause| ApplyError::Read { partition, cause };
    while let Some(delivery) = reader.next().await.map_err(read)? {
        lane.take(delivery).await?;
        lane.fill(&mut reader).await?;
        lane.flush().await?;
        if lane.done() {
            break;
        }
    }
    lane.flush().await?;
    Ok(lane.summary)
}

/// A partition being applied: where it stands, the batches being built, and its connections.
struct Lane {
    partition: u32,
    ctx: Arc<PartitionContext>,
    link: Committer,
    batches: Batches,
    positions: Positions,
    /// On a cluster, after a restart: the slot checkpoints ahead of the partition's (a batch
    /// whose slots committed but whose partition checkpoint was not stored yet).
    slots_ahead: HashMap<u16, Checkpoint>,
    /// Replication id of the current epoch, stored with every checkpoint.
    replid: Option<String>,
    /// The source this partition applies: from its checkpoint, or its first record.
    source: Option<String>,
    /// The newest epoch read in this partition (copies included), from its checkpoint at start.
    epoch_read: Option<u64>,
    /// Keys of the snapshot being applied, when it must be swept at its end.
    seen: Option<SeenKeys>,
    /// Before the first snapshot is applied: keys the destination held of its own, remembered
    /// so no sweep deletes them; one the snapshot writes over becomes the source's.
    own_keys: Option<SeenKeys>,
    chunked: ChunkedValue,
    summary: PartitionSummary,
    /// On a cluster: a plain connection to one node, for `COMMAND GETKEYS` (opened by the
    /// first command across slots, then kept).
    key_lookup: Option<redis::aio::MultiplexedConnection>,
    /// Capture time of the newest live record (command, barrier, heartbeat) taken since the
    /// last commit: the partition's lag is noted from it once that commit is applied.
    live_capture_ms: Option<i64>,
}

impl Lane {
    /// Connects and reads what the destination holds of the partition.
    async fn open(
        partition: u32,
        ctx: Arc<PartitionContext>,
        start: Option<Checkpoint>,
    ) -> Result<Lane, ApplyError> {
        let topology = &ctx.target_info.topology;
        let mut conn = ctx.target.queries(topology).await?;
        let failed = |doing: &str, cause| ApplyError::Redis {
            addr: ctx.target.addr.clone(),
            doing: format!("{doing} (partition {partition})"),
            cause,
        };
        let checkpoint_key = ctx
            .checkpoint_log
            .as_deref()
            .map(|log| checkpoint::checkpoint_key(log, partition));
        let origin = match &checkpoint_key {
            Some(key) => checkpoint::load_origin(&mut conn, key)
                .await
                .map_err(|cause| failed("reading the checkpoint", cause))?,
            None => Default::default(),
        };
        let cluster = matches!(topology, Topology::Cluster(_));
        let slots_ahead = match (&ctx.checkpoint_log, start, topology) {
            (Some(log), Some(start), Topology::Cluster(map)) => {
                let slots = slots_of_partition(partition, ctx.partitions);
                let mut nodes = ctx.target.node_connections(topology).await?;
                checkpoint::load_slots(&mut nodes, map, log, partition, slots)
                    .await
                    .map_err(|cause| failed("reading the slot checkpoints", cause))?
                    .into_iter()
                    .filter(|(_, at)| !start.covers(at.epoch, at.position))
                    .collect()
            }
            _ => HashMap::new(),
        };
        let own_keys = match (&ctx.existing_log, start) {
            (Some(log), None) => {
                let mut own = SeenKeys::default();
                existing::load(&mut conn, log, partition, |db, key| own.insert(db, key))
                    .await
                    .map_err(|cause| failed("reading the keys the target held", cause))?;
                (!own.is_empty()).then_some(own)
            }
            _ => None,
        };
        let wires = ctx.target.wires(topology).await?;
        let continued = ctx.continued_replid.clone();
        let source = origin.source.or_else(|| ctx.source.clone());
        Ok(Lane {
            partition,
            link: Committer {
                partition,
                ctx: ctx.clone(),
                wires,
                conn,
                checkpoint_key,
            },
            batches: Batches::new(cluster),
            ctx,
            positions: Positions::new(start),
            slots_ahead,
            replid: continued.or(origin.replid),
            source,
            epoch_read: start.map(|c| c.epoch),
            // Restarted in the middle of a snapshot that is swept: reading resumed at its start.
            seen: start
                .filter(|c| !c.snapshot_done && c.sweep_from.is_some())
                .map(|_| SeenKeys::default()),
            own_keys,
            chunked: ChunkedValue::default(),
            key_lookup: None,
            live_capture_ms: None,
            summary: PartitionSummary {
                partition,
                epoch: start.map(|c| c.epoch),
                snapshot_done: start.is_some_and(|c| c.snapshot_done),
                ..Default::default()
            },
        })
    }

    fn done(&self) -> bool {
        let wanted = self.ctx.snapshot_epoch.unwrap_or(0);
        self.ctx.stop_after_snapshot
            && self.summary.snapshot_done
            && self.summary.epoch.is_some_and(|epoch| epoch >= wanted)
    }

    /// Whether a record was applied already: by the partition's checkpoint or, on a cluster
    /// after a restart, by its slot's.
    fn covered(&self, record: &Record) -> bool {
        !self.positions.is_new(record.epoch, record.position)
            || self
                .slots_ahead
                .get(&record.slot)
                .is_some_and(|at| at.covers(record.epoch, record.position))
    }

    /// Adds a record to the batches, or handles a control record (flushing first so it takes
    /// effect in order).
    async fn take(&mut self, delivery: Delivery) -> Result<(), ApplyError> {
        let Delivery {
            mut record,
            log_offset,
            lease,
        } = delivery;
        self.batches.hold(lease);
        if self.ctx.passed_over.contains(&record.source) {
            return Ok(());
        }
        self.check_lineage(&record, log_offset)?;
        if let Body::Fork(fork) = record.body {
            // Its position is the fork, below what it lowers: it is never a copy.
            return self.fork(record.epoch, fork, log_offset).await;
        }
        // From here on `record.db` is the destination's database.
        let source_db = self.ctx.db_map.record(&mut record);
        self.remember_for_sweep(&record);
        let before_min_epoch = self.ctx.min_epoch.is_some_and(|min| record.epoch < min);
        if before_min_epoch || self.covered(&record) {
            self.summary.skipped += 1;
            return Ok(());
        }
        self.check_db(&record)?;
        let mut next = self
            .positions
            .after(record.epoch, record.position, source_db, log_offset);
        next.captured_ms = Some(record.capture_ms);
        self.claim(&record);
        let Record {
            db,
            epoch,
            position,
            slot,
            capture_ms,
            body,
            ..
        } = record;
        let now = now_ms();
        match body {
            Body::SnapshotKey(key) => {
                let writer = self.ctx.snapshot_writer();
                let written = self.batches.with(slot, |batch| {
                    batch.select(db);
                    writer.key(batch, db, key, now)
                })?;
                self.count_expired(written);
            }
            Body::SnapshotChunk(chunk) => self.take_chunk(db, slot, chunk, now).await?,
            Body::Function(function) => {
                let writer = self.ctx.snapshot_writer();
                self.batches
                    .with_every_node(|batch| writer.function(batch, &function))?;
            }
            Body::Command(command) => {
                // Our own writes and replicated commands do not share a batch: a batch of the
                // first may be applied twice, and is committed so (see `partition::commit`).
                if !self.batches.is_empty() && self.batches.replayable() {
                    self.flush().await?;
                }
                self.write_command(slot, db, command, capture_ms)?;
                self.live_capture_ms = Some(capture_ms);
            }
            Body::EpochBegin(begin) => {
                self.begin_epoch(epoch, &begin, log_offset, &mut next)
                    .await?
            }
            Body::SnapshotEnd(end) => self.end_snapshot(epoch, end.records, &mut next).await?,
            Body::Barrier(barrier) => {
                self.live_capture_ms = Some(capture_ms);
                return self
                    .barrier((epoch, position), db, slot, capture_ms, barrier, next)
                    .await;
            }
            Body::Fork(_) => {}
            Body::Heartbeat(_) => self.live_capture_ms = Some(capture_ms),
        }
        self.positions.take(next);
        Ok(())
    }

    /// A cluster has db 0 only: a record of another database stops the partition before it is
    /// written.
    fn check_db(&self, record: &Record) -> Result<(), ApplyError> {
        if !self.batches.cluster() || record.db == 0 || matches!(record.body, Body::Heartbeat(_)) {
            return Ok(());
        }
        Err(ApplyError::Incompatible {
            addr: self.ctx.target.addr.clone(),
            why: format!(
                "the source has keys in db {}, and a cluster has db 0 only; map it with \
                 --map-db {}=0 (keys of both databases then share db 0), or copy into a \
                 standalone target",
                record.db, record.db
            ),
        })
    }

    /// Adds a part of a big value to the batches. A part that continues a value this run has
    /// not seen begin (a restart in its middle) first asks the destination what an earlier run
    /// left of the value.
    async fn take_chunk(
        &mut self,
        db: u32,
        slot: u16,
        chunk: SnapshotChunk,
        now: i64,
    ) -> Result<(), ApplyError> {
        if self.chunked.resumes_unseen(&chunk) {
            let resumed = resume_state(&mut self.link.conn, db, &chunk.key)
                .await
                .map_err(|cause| self.query_failed("reading a big value's marks", cause))?;
            self.chunked.resume(&chunk, resumed);
        }
        let writer = self.ctx.snapshot_writer();
        let chunked = &mut self.chunked;
        let written = self.batches.with(slot, |batch| {
            batch.select(db);
            chunked.write(batch, &writer, db, chunk, now)
        })?;
        self.count_expired(written);
        Ok(())
    }

    /// Counts a snapshot key that expired before it could be applied.
    fn count_expired(&mut self, written: Written) {
        if written == Written::Expired {
            self.summary.expired += 1;
            self.ctx.stats.expired.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds a live command to the batch of `slot`, in database `db`, in a form the destination
    /// knows; one it cannot take stops the partition before the batch is sent, or is left out,
    /// as `--on-unsupported` says ([`LiveWriter`]).
    fn write_command(
        &mut self,
        slot: u16,
        db: u32,
        command: slotstream_schemas::Command,
        ran_ms: i64,
    ) -> Result<(), ApplyError> {
        let ctx = self.ctx.clone();
        let live = live_writer(&ctx, self.partition);
        self.batches.with(slot, |batch| {
            batch.select(db);
            push_live(batch, &live, command, ran_ms)?;
            batch.tally.records += 1;
            Ok(())
        })
    }

    /// Applies the batches (and moves the checkpoint with them) and checks every reply.
    async fn flush(&mut self) -> Result<(), ApplyError> {
        let records = self.batches.tally().records;
        let own = match (&self.link.checkpoint_key, self.positions.to_store()) {
            (Some(key), Some(pending)) => Arrival {
                partition: self.partition,
                checkpoint: Some((key.clone(), pending)),
                records,
                replid: self.replid.clone(),
                source: self.source.clone(),
            },
            _ if self.batches.is_empty() => {
                self.batches.clear();
                return Ok(());
            }
            _ => Arrival {
                partition: self.partition,
                checkpoint: None,
                records,
                replid: None,
                source: None,
            },
        };
        self.commit(vec![own], false).await
    }

    /// Commits the batches with the checkpoints of `arrivals` and moves this partition's own.
    async fn commit(&mut self, arrivals: Vec<Arrival>, atomic: bool) -> Result<(), ApplyError> {
        let started = std::time::Instant::now();
        let tally = self
            .link
            .commit(&mut self.batches, &arrivals, atomic)
            .await?;
        self.ctx.stats.batch_latency.observe(started.elapsed());
        let own = arrivals
            .iter()
            .find(|a| a.partition == self.partition)
            .and_then(|a| a.checkpoint.as_ref());
        if let Some((_, checkpoint)) = own {
            self.positions.stored(*checkpoint);
            let applied = Applied {
                epoch: checkpoint.epoch,
                offset: checkpoint.position.offset,
            };
            self.ctx.stats.note_applied(self.lag_key(), applied);
            // A slot checkpoint past the partition's still covers records to come.
            self.slots_ahead
                .retain(|_, at| !checkpoint.covers(at.epoch, at.position));
            if let (Some(hook), Some(offset)) = (&self.ctx.on_applied, checkpoint.log_offset) {
                hook(self.partition, offset);
            }
        }
        self.count_applied(tally);
        self.note_lag();
        Ok(())
    }

    /// The lag of the newest live record the commit applied: now minus when the source wrote
    /// it. Snapshot records set none, so a partition has a lag once it is past its snapshot.
    fn note_lag(&mut self) {
        if let Some(captured) = self.live_capture_ms.take() {
            self.ctx.stats.note_lag(self.lag_key(), now_ms() - captured);
        }
    }

    /// The partition (of its shard) in the run's numbers.
    fn lag_key(&self) -> LagKey {
        LagKey {
            shard: self.ctx.slots.as_ref().and_then(SlotRanges::first),
            partition: self.partition,
        }
    }

    fn count_applied(&mut self, tally: Tally) {
        self.summary.keys += tally.snapshot_keys;
        let stats = &self.ctx.stats;
        stats.keys.fetch_add(tally.snapshot_keys, Ordering::Relaxed);
        stats.commands.fetch_add(tally.commands, Ordering::Relaxed);
    }

    fn log_error(&self, what: String) -> ApplyError {
        ApplyError::Log {
            partition: self.partition,
            what,
        }
    }

    fn query_failed(&self, doing: &str, cause: redis::RedisError) -> ApplyError {
        ApplyError::Redis {
            addr: self.ctx.target.addr.clone(),
            doing: format!("{doing} (partition {})", self.partition),
            cause,
        }
    }
}

/// How partition `partition` writes live commands.
fn live_writer(ctx: &PartitionContext, partition: u32) -> LiveWriter<'_> {
    LiveWriter {
        target: &ctx.target_info,
        addr: &ctx.target.addr,
        partition,
        extension_ms: ctx.ttl_extension_ms,
        on_unsupported: ctx.on_unsupported,
        stats: &ctx.stats,
    }
}

/// Adds one live command to `batch`, in the database selected last.
fn push_live(
    batch: &mut crate::batch::Batch,
    live: &LiveWriter<'_>,
    command: slotstream_schemas::Command,
    ran_ms: i64,
) -> Result<(), ApplyError> {
    let db = batch.db();
    let mut push = batch.push(Replies::Replicated);
    match live.write(push.commands(), command, db, ran_ms, now_ms())? {
        Live::Written(key) => {
            push.concerning(key);
            batch.tally.commands += 1;
        }
        Live::LeftOut(key) => {
            push.concerning(key);
        }
    }
    Ok(())
}
