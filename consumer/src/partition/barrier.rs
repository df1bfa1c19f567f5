//! A partition at a barrier: the last involved partition to arrive applies it for all
//! ([`crate::barrier`]). On a cluster, a barrier whose keys share one slot is that slot's
//! transaction, and one without keys (`FLUSHALL`, `SCRIPT`, `FUNCTION`) goes to every primary;
//! one across slots is refused for now.

use super::{live_writer, push_live, Lane};
use crate::barrier::{self, Arrival, BarrierId, Failed, Turn};
use crate::checkpoint::{self, Checkpoint};
use crate::command::{selected_db, swapped_with_db0};
use crate::error::{with_causes, ApplyError};
use slotstream_schemas::retry::Retryable;
use slotstream_schemas::slot::{NO_SLOT, SLOTS};
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
        match self
            .ctx
            .barriers
            .arrive(id, barrier.partitions.len(), arrival)
        {
            Turn::Apply(arrivals, done) => {
                let result = match self.write_barrier(db, slot, ran_ms, barrier.commands) {
                    Ok(()) => self.commit(arrivals, true).await,
                    Err(err) => Err(err),
                };
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

    /// Adds a barrier's commands to the batches, from `db`.
    fn write_barrier(
        &mut self,
        db: u32,
        slot: u16,
        ran_ms: i64,
        commands: Vec<Command>,
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
        if slot == NO_SLOT || slot >= SLOTS {
            let names: Vec<String> = commands.iter().map(name_of).collect();
            return Err(ApplyError::Incompatible {
                addr: self.ctx.target.addr.clone(),
                why: format!(
                    "the source ran {} across hash slots, which a cluster target cannot take in \
                     one transaction; cross-slot commands into a cluster are not supported yet",
                    names.join(" … ")
                ),
            });
        }
        self.batches.with(slot, |batch| {
            for command in commands {
                push_live(batch, &live, command, ran_ms)?;
            }
            Ok(())
        })
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
