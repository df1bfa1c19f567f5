//! Committing a partition's batch with its checkpoint, so that a record is applied exactly once
//! whatever fails and whenever the process dies:
//!
//! - A batch that holds replicated commands (not harmless to apply twice) goes in one
//!   `MULTI … EXEC` with its checkpoint: both happen or neither. A replicated command refused
//!   inside it is its own outcome, counted; the transaction's checkpoint stands.
//! - A batch of our own writes only (snapshot keys, functions, big values' parts: applying them
//!   again is harmless, see [`Replies`]) goes in a `MULTI … EXEC` of its own, and its checkpoint
//!   in a second one, sent only once every reply of the first was checked. A write refused, a
//!   crash, a lost link: the checkpoint is still before the batch, and a restart applies it
//!   again. Nothing has to be put back.

use super::PartitionContext;
use crate::barrier::Arrival;
use crate::batch::{Batch, BatchFailure, Refusal, Replies, Tally};
use crate::checkpoint;
use crate::error::{hint_for, ApplyError};
use crate::wire::Wire;
use redis::aio::MultiplexedConnection;
use slotstream_schemas::display::show_key;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// A partition's connections to the destination: [`Wire`] for batches, a `redis` connection
/// for the rest.
pub(super) struct Committer {
    pub partition: u32,
    pub ctx: Arc<PartitionContext>,
    pub wire: Wire,
    /// For the occasional query (checkpoints, sweeps, marks).
    pub conn: MultiplexedConnection,
    /// Where this partition's checkpoint is kept; `None`: no checkpoints.
    pub checkpoint_key: Option<Vec<u8>>,
}

impl Committer {
    /// Sends `batch` with the checkpoints of `arrivals` (one `MULTI/EXEC`, or two as the module
    /// says; always one when `atomic`), judges every reply, and empties the batch. Returns the
    /// batch's tally.
    pub async fn commit(
        &mut self,
        batch: &mut Batch,
        arrivals: &[Arrival],
        atomic: bool,
    ) -> Result<Tally, ApplyError> {
        let moves_checkpoints = arrivals.iter().any(|a| a.checkpoint.is_some());
        if moves_checkpoints && !atomic && batch.replayable() {
            if !batch.is_empty() {
                self.send(batch, true).await?;
            }
            fail::fail_point!("commit-between-batch-and-checkpoint", |_| Err(
                self.stopped_at("commit-between-batch-and-checkpoint")
            ));
            let tally = batch.clear();
            store_checkpoints(batch, arrivals);
            batch.forget_when_stored();
            self.send(batch, true).await?;
            batch.clear();
            return Ok(tally);
        }
        store_checkpoints(batch, arrivals);
        batch.forget_when_stored();
        self.send(batch, atomic || moves_checkpoints).await?;
        Ok(batch.clear())
    }

    /// One round trip: the batch (inside `MULTI … EXEC` when `transaction`), every reply judged.
    async fn send(&mut self, batch: &mut Batch, transaction: bool) -> Result<(), ApplyError> {
        let (count, writes) = (batch.len(), batch.writes());
        // What goes on the wire, RESP framing included.
        let body = batch.bytes();
        let bytes = body.len();
        if let Some(throttle) = &self.ctx.throttle {
            throttle.admit(writes, bytes).await;
        }
        let (parts, replies): (Vec<&[u8]>, usize) = if transaction {
            (vec![MULTI, body, EXEC], count + 2)
        } else {
            (vec![body], count)
        };
        let replies = self
            .wire
            .round_trip(&parts, replies)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.ctx.target.addr.clone(),
                doing: format!("applying a batch in partition {}", self.partition),
                cause,
            })?;
        fail::fail_point!("commit-after-exec", |_| Err(
            self.stopped_at("commit-after-exec")
        ));
        let refused = match batch.outcome(replies, transaction) {
            Ok(refused) => refused,
            Err(BatchFailure::Refused { refusal, ran_rest }) => {
                return Err(self.rejected(refusal, ran_rest && !batch.replayable()))
            }
            Err(BatchFailure::Aborted(reply)) => {
                return Err(ApplyError::Log {
                    partition: self.partition,
                    what: format!(
                        "the target answered EXEC with {reply}; nothing of the batch was applied"
                    ),
                })
            }
        };
        for Refusal { db, key, reply } in &refused {
            self.ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                partition = self.partition,
                db,
                key = %show_key(key),
                %reply,
                "a replicated command failed on the target as it may have on the source"
            );
        }
        self.ctx
            .stats
            .bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    /// The error a failpoint set to `return` ends the partition with (tests only).
    #[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
    fn stopped_at(&self, failpoint: &str) -> ApplyError {
        ApplyError::Log {
            partition: self.partition,
            what: format!("stopped at failpoint {failpoint}"),
        }
    }

    /// The error for a refused command. `stored`: it was refused inside a transaction that
    /// also stored the checkpoint past it (a batch with replicated commands, where the servers
    /// refuse our own bookkeeping writes only for faults that abort the whole transaction).
    fn rejected(&self, refusal: Refusal, stored: bool) -> ApplyError {
        let Refusal { db, key, reply } = refusal;
        if stored {
            return ApplyError::Log {
                partition: self.partition,
                what: format!(
                    "the target refused a write of key {} (db {db}) inside a transaction that \
                     ran and moved the checkpoint past it: {reply}{}; compare the key with the \
                     source (slotstream verify) before going on",
                    show_key(&key),
                    hint_for(&reply)
                ),
            };
        }
        ApplyError::Rejected {
            addr: self.ctx.target.addr.clone(),
            partition: self.partition,
            db,
            key: show_key(&key),
            hint: hint_for(&reply),
            reply,
        }
    }
}

/// Adds the commands that store the checkpoints of `arrivals` to `batch` (in db 0).
fn store_checkpoints(batch: &mut Batch, arrivals: &[Arrival]) {
    for arrival in arrivals {
        if let Some((key, checkpoint)) = &arrival.checkpoint {
            batch.select(0);
            let replid = arrival.replid.as_deref();
            for cmd in checkpoint::write_commands(key, checkpoint, arrival.records, replid) {
                let mut push = batch.push(Replies::Strict);
                push.commands().push_cmd(&cmd);
                push.concerning(key.clone());
            }
        }
    }
}
