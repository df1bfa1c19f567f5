//! A partition at a barrier: the last involved partition to arrive applies it for all
//! ([`crate::barrier`]). On a cluster, a barrier whose keys share one slot is that slot's
//! transaction, one without keys (`FLUSHALL`, `SCRIPT`, `FUNCTION`) goes to every primary, and
//! one across slots is applied by its effect, step by step (`partition::cross_slot`).

use super::{live_writer, push_live, Lane};
use crate::barrier::{self, Arrival, BarrierId, Failed, Turn};
use crate::checkpoint::{self, Checkpoint};
use crate::command::{selected_db, swapped_with_db0};
use crate::error::{with_causes, ApplyError};
use crate::sweep;
use slotstream_schemas::retry::Retryable;
use slotstream_schemas::slot::{SlotRanges, NO_SLOT, SLOTS};
use slotstream_schemas::{Barrier, Command};

impl Lane {
    /// Applies a barrier once every involved partition has reached it.
    pub(super) async fn barrier(
        &mut self,
        id: BarrierId,
        db: u32,
        slot: u16,
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
            source: self.source.clone(),
        };
        let done_mark = self.done_mark(id, slot, &barrier);
        if let Some(mark) = &done_mark {
            if self.marked(mark).await? {
                // An earlier run applied it and died before this partition's checkpoint moved
                // past it (others' may have): move it now, without waiting for them.
                self.commit(vec![arrival], true).await?;
                self.positions.take(next);
                return Ok(());
            }
        }
        match self
            .ctx
            .barriers
            .arrive(id, barrier.partitions.len(), arrival)
        {
            Turn::Apply(arrivals, done) => {
                let result = self
                    .apply_barrier(id, db, slot, ran_ms, barrier.commands, arrivals, done_mark)
                    .await;
                if result.is_ok() {
                    fail::fail_point!("barrier-applied", |_| {
                        crate::failpoints::kill_here("barrier-applied")
                    });
                }
                let outcome = result.as_ref().map(|_| ()).map_err(|e| Failed {
                    why: with_causes(e),
                    retry: e.retry(),
                });
                done.send_replace(Some(outcome));
                result?;
            }
            Turn::Wait(outcome) => {
                barrier::wait(outcome)
                    .await
                    .map_err(|failed| ApplyError::Barrier {
                        partition: self.partition,
                        offset: id.1.offset,
                        why: failed.why,
                        retry: failed.retry,
                    })?;
                if self.link.checkpoint_key.is_some() {
                    self.positions.stored(next);
                }
            }
        }
        self.positions.take(next);
        Ok(())
    }

    /// On a cluster, where the checkpoints of a barrier's partitions cannot commit in one
    /// transaction: the key that says the barrier was applied, written before any of them
    /// moves (with the commands, when they are of one slot), so that a partition arriving at
    /// it again after a crash neither applies it twice nor waits for partitions that have
    /// gone past it. `None` elsewhere (one server: one transaction; one partition: nobody to
    /// wait for; commands without keys, which go to every primary).
    fn done_mark(&self, id: BarrierId, slot: u16, barrier: &Barrier) -> Option<Vec<u8>> {
        let log = self.ctx.checkpoint_log.as_deref()?;
        if !self.batches.cluster()
            || barrier.partitions.len() < 2
            || barrier.commands.iter().all(keyless)
        {
            return None;
        }
        let slot = if slot < SLOTS { slot } else { 0 };
        Some(super::cross_slot::mark_key(log, id, "done", slot))
    }

    /// Applies a barrier's commands with the checkpoints of `arrivals`; `done` is written with
    /// the commands (see [`Self::done_mark`]).
    #[allow(clippy::too_many_arguments)]
    async fn apply_barrier(
        &mut self,
        id: BarrierId,
        db: u32,
        slot: u16,
        ran_ms: i64,
        commands: Vec<Command>,
        arrivals: Vec<Arrival>,
        done: Option<Vec<u8>>,
    ) -> Result<(), ApplyError> {
        if let Some(slots) = self.ctx.slots.clone() {
            if let Some(db) = flush_of(&commands, db) {
                // One shard of a cluster source flushed its own keys: every partition of its
                // log waits here, so its slots hold exactly what the flush removed. Deleting
                // them again after a crash removes the same keys: no mark is needed.
                self.flush_shard(&slots, db).await?;
                self.commit(arrivals, true).await?;
                return Ok(());
            }
        }
        let across_slots = slot == NO_SLOT || slot >= SLOTS;
        if self.batches.cluster() && across_slots && !commands.iter().all(keyless) {
            let mut marks = self.apply_across_slots(id, ran_ms, commands).await?;
            if let Some(done) = done {
                self.set_mark(&done).await?;
                marks.push(done);
            }
            self.commit(arrivals, true).await?;
            self.forget_marks(marks).await;
            return Ok(());
        }
        self.write_barrier(db, slot, ran_ms, commands, done.as_deref())?;
        self.commit(arrivals, true).await?;
        self.forget_marks(done.into_iter().collect()).await;
        Ok(())
    }

    /// Adds a barrier's commands to the batches, from `db` (on a cluster: commands of one slot,
    /// or without keys).
    fn write_barrier(
        &mut self,
        db: u32,
        slot: u16,
        ran_ms: i64,
        commands: Vec<Command>,
        done: Option<&[u8]>,
    ) -> Result<(), ApplyError> {
        let ctx = self.ctx.clone();
        let live = live_writer(&ctx, self.partition);
        if !self.batches.cluster() {
            let log = self.ctx.checkpoint_log.clone();
            let partitions = self.ctx.partitions;
            return self.batches.with(0, |batch| {
                batch.select(db);
                for command in commands {
                    // A `SELECT` inside a block moves this connection to another db: follow it,
                    // so the checkpoints and later commands go where they belong.
                    let selected = selected_db(&command);
                    let swapped = swapped_with_db0(&command);
                    push_live(batch, &live, command, ran_ms)?;
                    if let Some(db) = selected {
                        batch.moved_to(db);
                    }
                    if let (Some(db), Some(log)) = (swapped, &log) {
                        checkpoint::delete_moved(batch, log, partitions, db);
                    }
                }
                Ok(())
            });
        }
        if commands.iter().all(keyless) {
            return self.batches.with_every_node(|batch| {
                for command in commands {
                    push_live(batch, &live, command, ran_ms)?;
                }
                Ok(())
            });
        }
        self.batches.with(slot, |batch| {
            for command in commands {
                push_live(batch, &live, command, ran_ms)?;
            }
            if let Some(done) = done {
                super::cross_slot::push_mark(batch, done);
            }
            Ok(())
        })
    }
}

impl Lane {
    /// A `FLUSHDB` (of `db`) or `FLUSHALL` (`db` `None`) of one shard of a cluster source, by
    /// its effect: the shard's slots emptied on every node of the destination.
    async fn flush_shard(&mut self, slots: &SlotRanges, db: Option<u32>) -> Result<(), ApplyError> {
        let topology = &self.ctx.target_info.topology;
        let mut deleted = 0;
        for mut node in self.ctx.target.node_connections(topology).await? {
            deleted += sweep::delete_in_slots(&mut node, slots, db)
                .await
                .map_err(|cause| self.query_failed("deleting the flushed shard's keys", cause))?;
        }
        tracing::info!(
            partition = self.partition,
            %slots,
            deleted,
            "a shard of the source flushed its keys: deleted them from its slots"
        );
        Ok(())
    }
}

/// The database a barrier of one `FLUSHDB` empties (`Some(None)` for `FLUSHALL`: every
/// database); `None` when the barrier is anything else.
fn flush_of(commands: &[Command], db: u32) -> Option<Option<u32>> {
    let [command] = commands else {
        return None;
    };
    match name_of(command).as_str() {
        "FLUSHALL" => Some(None),
        "FLUSHDB" => Some(Some(db)),
        _ => None,
    }
}

/// Whether a replicated command names no key: it applies to every primary of a cluster.
fn keyless(command: &Command) -> bool {
    let name = name_of(command);
    ["FLUSHALL", "FLUSHDB", "SCRIPT", "FUNCTION", "PUBLISH"].contains(&name.as_str())
}

/// A command's name, upper-cased.
fn name_of(command: &Command) -> String {
    command
        .args
        .first()
        .map(|name| String::from_utf8_lossy(&name.0).to_ascii_uppercase())
        .unwrap_or_default()
}
