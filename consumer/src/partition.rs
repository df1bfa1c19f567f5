//! One task per partition: reads the partition's records in order, batches them and applies
//! them to the destination, one batch at a time so order is kept.
//!
//! With checkpoints on, every batch is one `MULTI/EXEC` that also moves the partition's
//! checkpoint, and records the checkpoint covers are skipped ([`crate::position`]).
//!
//! The pieces: [`Positions`] decides what is new, [`Batch`] holds the commands and what they
//! concern, [`SnapshotWriter`](crate::snapshot::SnapshotWriter) and [`ChunkedValue`] turn snapshot records into commands,
//! [`crate::command`] live ones, and [`commit::Committer`] sends a batch and judges the replies.
//! [`Lane`] routes each record to them and handles the control records.

mod commit;
mod context;

pub use context::{AppliedHook, PartitionContext};

use crate::barrier::{self, Arrival, BarrierId, Turn};
use crate::batch::{Batch, Replies, Tally};
use crate::checkpoint::{self, Checkpoint};
use crate::chunk::{resume_state, ChunkedValue};
use crate::command::{selected_db, swapped_with_db0, Live, LiveWriter};
use crate::error::{with_causes, ApplyError};
use crate::existing;
use crate::position::Positions;
use crate::precheck;
use crate::snapshot::Written;
use crate::sweep::{self, SeenKeys};
use commit::Committer;
use slotstream_schemas::log::{Delivery, PartitionReader};
pub(crate) use slotstream_schemas::now_ms;
use slotstream_schemas::{Barrier, Body, EpochBegin, Record, SnapshotChunk};
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
        // Keep filling the batch while records are ready; apply once none is waiting.
        while lane.batch.has_room(&ctx.limits) && !lane.done() {
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

/// A partition being applied: where it stands, the batch being built, and its connections.
struct Lane {
    partition: u32,
    ctx: Arc<PartitionContext>,
    link: Committer,
    batch: Batch,
    positions: Positions,
    /// Replication id of the current epoch, stored with every checkpoint.
    replid: Option<String>,
    /// Keys of the snapshot being applied, when it must be swept at its end.
    seen: Option<SeenKeys>,
    /// Before the first snapshot is applied: keys the destination held of its own, remembered
    /// so no sweep deletes them; one the snapshot writes over becomes the source's.
    own_keys: Option<SeenKeys>,
    chunked: ChunkedValue,
    summary: PartitionSummary,
}

impl Lane {
    /// Connects and reads what the destination holds of the partition.
    async fn open(
        partition: u32,
        ctx: Arc<PartitionContext>,
        start: Option<Checkpoint>,
    ) -> Result<Lane, ApplyError> {
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
        let wire = ctx.target.wire().await?;
        let own_keys = match (&ctx.existing_log, start) {
            (Some(log), None) => {
                let mut own = SeenKeys::default();
                existing::load(&mut conn, log, partition, |db, key| own.insert(db, key))
                    .await
                    .map_err(|cause| ApplyError::Redis {
                        addr: ctx.target.addr.clone(),
                        doing: format!("reading the keys the target held (partition {partition})"),
                        cause,
                    })?;
                (!own.is_empty()).then_some(own)
            }
            _ => None,
        };
        Ok(Lane {
            partition,
            link: Committer {
                partition,
                ctx: ctx.clone(),
                wire,
                conn,
                checkpoint_key,
            },
            ctx,
            batch: Batch::default(),
            positions: Positions::new(start),
            replid,
            // Restarted in the middle of a snapshot that is swept: reading resumed at its start.
            seen: start
                .filter(|c| !c.snapshot_done && c.sweep_from.is_some())
                .map(|_| SeenKeys::default()),
            own_keys,
            chunked: ChunkedValue::default(),
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

    /// Adds a record to the batch, or handles a control record (flushing first so it takes
    /// effect in order).
    async fn take(&mut self, delivery: Delivery) -> Result<(), ApplyError> {
        let Delivery {
            record,
            log_offset,
            lease,
        } = delivery;
        self.batch.hold(lease);
        self.remember_for_sweep(&record);
        let before_min_epoch = self.ctx.min_epoch.is_some_and(|min| record.epoch < min);
        if before_min_epoch || !self.positions.is_new(record.epoch, record.position) {
            self.summary.skipped += 1;
            return Ok(());
        }
        let mut next = self
            .positions
            .after(record.epoch, record.position, record.db, log_offset);
        self.claim(&record);
        let Record {
            db,
            epoch,
            position,
            capture_ms,
            body,
            ..
        } = record;
        let now = now_ms();
        match body {
            Body::SnapshotKey(key) => {
                self.batch.select(db);
                let written = self
                    .ctx
                    .snapshot_writer()
                    .key(&mut self.batch, db, key, now)?;
                self.count_expired(written);
            }
            Body::SnapshotChunk(chunk) => self.take_chunk(db, chunk, now).await?,
            Body::Function(function) => {
                self.ctx
                    .snapshot_writer()
                    .function(&mut self.batch, &function)?;
            }
            Body::Command(command) => {
                // Our own writes and replicated commands do not share a batch: a batch of the
                // first may be applied twice, and is committed so (see `partition::commit`).
                if !self.batch.is_empty() && self.batch.replayable() {
                    self.flush().await?;
                }
                self.batch.select(db);
                self.write_command(command, capture_ms)?;
                self.batch.tally.records += 1;
            }
            Body::EpochBegin(begin) => {
                self.begin_epoch(epoch, &begin, log_offset, &mut next)
                    .await?
            }
            Body::SnapshotEnd(end) => self.end_snapshot(epoch, end.records, &mut next).await?,
            Body::Barrier(barrier) => {
                return self
                    .barrier((epoch, position), db, capture_ms, barrier, next)
                    .await;
            }
            Body::Heartbeat(_) => self.ctx.stats.note_lag(self.partition, now - capture_ms),
        }
        self.positions.take(next);
        Ok(())
    }

    /// Adds a part of a big value to the batch. A part that continues a value this run has not
    /// seen begin (a restart in its middle) first asks the destination what an earlier run left
    /// of the value.
    async fn take_chunk(
        &mut self,
        db: u32,
        chunk: SnapshotChunk,
        now: i64,
    ) -> Result<(), ApplyError> {
        if self.chunked.resumes_unseen(&chunk) {
            let resumed = resume_state(&mut self.link.conn, db, &chunk.key)
                .await
                .map_err(|cause| self.query_failed("reading a big value's marks", cause))?;
            self.chunked.resume(&chunk, resumed);
        }
        self.batch.select(db);
        let writer = self.ctx.snapshot_writer();
        let written = self
            .chunked
            .write(&mut self.batch, &writer, db, chunk, now)?;
        self.count_expired(written);
        Ok(())
    }

    /// Closes an epoch's snapshot: sweeps when the epoch must, and marks the snapshot done.
    async fn end_snapshot(
        &mut self,
        epoch: u64,
        records: u64,
        next: &mut Checkpoint,
    ) -> Result<(), ApplyError> {
        if self.summary.epoch != Some(epoch) {
            return Err(self.log_error(format!(
                "snapshot end of epoch {epoch} without its beginning"
            )));
        }
        tracing::debug!(partition = self.partition, records, "snapshot applied");
        if let Some(seen) = self.seen.take() {
            self.flush().await?;
            self.sweep(seen).await?;
        }
        self.summary.snapshot_done = true;
        self.own_keys = None;
        next.snapshot_done = true;
        next.sweep_from = None;
        Ok(())
    }

    /// A key the destination held of its own that the snapshot writes over is the source's
    /// from then on: it is forgotten in the batch that writes it.
    fn claim(&mut self, record: &Record) {
        let (Some(own), Some(log)) = (&self.own_keys, &self.ctx.existing_log) else {
            return;
        };
        let key = match &record.body {
            Body::SnapshotKey(key) => &key.key,
            Body::SnapshotChunk(chunk) if chunk.last => &chunk.key,
            _ => return,
        };
        if own.contains(record.db, key) {
            let back = self.batch.db();
            let remembered = existing::remembered_key(log, self.partition);
            let member = existing::member(record.db, key);
            self.batch.select(0);
            self.batch.command(
                Replies::Strict,
                key.clone(),
                &[&b"SREM"[..], &remembered, &member],
            );
            self.batch.select(back);
        }
    }

    /// A snapshot being swept needs every key it holds, applied now or before a restart.
    fn remember_for_sweep(&mut self, record: &Record) {
        let Some(seen) = &mut self.seen else {
            return;
        };
        let (key, expire_ms) = match &record.body {
            Body::SnapshotKey(key) => (&key.key, key.expire_ms),
            Body::SnapshotChunk(chunk) if chunk.last => (&chunk.key, chunk.expire_ms),
            _ => return,
        };
        if expire_ms.is_none_or(|at| at > now_ms()) {
            seen.insert(record.db, key);
        }
    }

    /// Opens an epoch: checks the destination can take its snapshot, and arranges a sweep at
    /// its end when an earlier epoch's keys may be gone from the source.
    async fn begin_epoch(
        &mut self,
        epoch: u64,
        begin: &EpochBegin,
        log_offset: Option<i64>,
        next: &mut Checkpoint,
    ) -> Result<(), ApplyError> {
        self.flush().await?;
        let speaks = self.partition == 0;
        precheck::check_epoch(
            begin,
            &self.ctx.target_info,
            self.ctx.on_unsupported,
            speaks,
        )
        .map_err(|why| ApplyError::Incompatible {
            addr: self.ctx.target.addr.clone(),
            why,
        })?;
        tracing::debug!(partition = self.partition, epoch, "epoch begins");
        // After an earlier epoch, applied before or in this run, its keys may be gone from the
        // source: sweep after this snapshot. A first epoch into a destination never sweeps what
        // was there.
        if self.positions.last_taken().is_some_and(|c| c.epoch < epoch) {
            self.seen = Some(SeenKeys::default());
            next.sweep_from = log_offset.or(Some(0));
        }
        self.replid = Some(begin.replid.clone());
        self.summary.epoch = Some(epoch);
        self.summary.snapshot_done = false;
        next.snapshot_done = false;
        Ok(())
    }

    /// Deletes the keys of this partition's slots that the epoch's snapshot did not contain,
    /// but those the destination held before slotstream's first write.
    async fn sweep(&mut self, mut seen: SeenKeys) -> Result<(), ApplyError> {
        let partition = self.partition;
        if let Some(log) = &self.ctx.existing_log {
            existing::load(&mut self.link.conn, log, partition, |db, key| {
                seen.insert(db, key)
            })
            .await
            .map_err(|cause| self.query_failed("reading the keys the target held before", cause))?;
        }
        let seen = &seen;
        let deleted = sweep::sweep(&mut self.link.conn, partition, self.ctx.partitions, seen)
            .await
            .map_err(|cause| self.query_failed("deleting keys the new snapshot lacks", cause))?;
        tracing::info!(
            partition,
            kept = seen.len(),
            deleted,
            "new epoch: deleted the keys its snapshot did not contain"
        );
        Ok(())
    }

    /// Counts a snapshot key that expired before it could be applied.
    fn count_expired(&mut self, written: Written) {
        if written == Written::Expired {
            self.summary.expired += 1;
            self.ctx.stats.expired.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds a live command to the batch, in the database selected last, in a form the
    /// destination knows; one it cannot take stops the partition before the batch is sent, or is
    /// left out, as `--on-unsupported` says ([`LiveWriter`]).
    fn write_command(
        &mut self,
        command: slotstream_schemas::Command,
        ran_ms: i64,
    ) -> Result<(), ApplyError> {
        let ctx = &self.ctx;
        let live = LiveWriter {
            target: &ctx.target_info,
            addr: &ctx.target.addr,
            partition: self.partition,
            extension_ms: ctx.ttl_extension_ms,
            on_unsupported: ctx.on_unsupported,
            stats: &ctx.stats,
        };
        let db = self.batch.db();
        let mut push = self.batch.push(Replies::Replicated);
        match live.write(push.commands(), command, db, ran_ms, now_ms())? {
            Live::Written(key) => {
                push.concerning(key);
                self.batch.tally.commands += 1;
            }
            Live::LeftOut(key) => {
                push.concerning(key);
            }
        }
        Ok(())
    }

    /// Applies the batch (and moves the checkpoint with it) and checks every reply.
    async fn flush(&mut self) -> Result<(), ApplyError> {
        let own = match (&self.link.checkpoint_key, self.positions.to_store()) {
            (Some(key), Some(pending)) => Arrival {
                partition: self.partition,
                checkpoint: Some((key.clone(), pending)),
                records: self.batch.tally.records,
                replid: self.replid.clone(),
            },
            _ if self.batch.is_empty() => {
                self.batch.clear();
                return Ok(());
            }
            _ => Arrival {
                partition: self.partition,
                checkpoint: None,
                records: self.batch.tally.records,
                replid: None,
            },
        };
        self.commit(vec![own], false).await
    }

    /// Commits the batch with the checkpoints of `arrivals` and moves this partition's own.
    async fn commit(&mut self, arrivals: Vec<Arrival>, atomic: bool) -> Result<(), ApplyError> {
        let tally = self.link.commit(&mut self.batch, &arrivals, atomic).await?;
        let own = arrivals
            .iter()
            .find(|a| a.partition == self.partition)
            .and_then(|a| a.checkpoint.as_ref());
        if let Some((_, checkpoint)) = own {
            self.positions.stored(*checkpoint);
            if let (Some(hook), Some(offset)) = (&self.ctx.on_applied, checkpoint.log_offset) {
                hook(self.partition, offset);
            }
        }
        self.count_applied(tally);
        Ok(())
    }

    fn count_applied(&mut self, tally: Tally) {
        self.summary.keys += tally.snapshot_keys;
        let stats = &self.ctx.stats;
        stats.keys.fetch_add(tally.snapshot_keys, Ordering::Relaxed);
        stats.commands.fetch_add(tally.commands, Ordering::Relaxed);
    }

    /// Applies a barrier once every involved partition has reached it (see [`crate::barrier`]).
    async fn barrier(
        &mut self,
        id: BarrierId,
        db: u32,
        ran_ms: i64,
        barrier: Barrier,
        next: Checkpoint,
    ) -> Result<(), ApplyError> {
        self.flush().await?;
        let arrival = Arrival {
            partition: self.partition,
            checkpoint: self.link.checkpoint_key.clone().map(|key| (key, next)),
            records: 1,
            replid: self.replid.clone(),
        };
        match self
            .ctx
            .barriers
            .arrive(id, barrier.partitions.len(), arrival)
        {
            Turn::Apply(arrivals, done) => {
                let result = match self.write_barrier(db, ran_ms, barrier.commands) {
                    Ok(()) => self.commit(arrivals, true).await,
                    Err(err) => Err(err),
                };
                let outcome = result.as_ref().map(|_| ()).map_err(|e| with_causes(e));
                done.send_replace(Some(outcome));
                result?;
            }
            Turn::Wait(outcome) => {
                barrier::wait(outcome).await.map_err(|why| {
                    self.log_error(format!(
                        "a barrier at offset {} was not applied: {why}",
                        id.1.offset
                    ))
                })?;
                if self.link.checkpoint_key.is_some() {
                    self.positions.stored(next);
                }
            }
        }
        self.positions.take(next);
        Ok(())
    }

    /// Adds a barrier's commands to the batch, from `db`.
    fn write_barrier(
        &mut self,
        db: u32,
        ran_ms: i64,
        commands: Vec<slotstream_schemas::Command>,
    ) -> Result<(), ApplyError> {
        self.batch.select(db);
        for command in commands {
            // A `SELECT` inside a block moves this connection to another db: follow it, so the
            // checkpoints and later commands go where they belong.
            let selected = selected_db(&command);
            let swapped = swapped_with_db0(&command);
            self.write_command(command, ran_ms)?;
            if let Some(db) = selected {
                self.batch.moved_to(db);
            }
            if let (Some(db), Some(log)) = (swapped, &self.ctx.checkpoint_log) {
                checkpoint::delete_moved(&mut self.batch, log, self.ctx.partitions, db);
            }
        }
        Ok(())
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
