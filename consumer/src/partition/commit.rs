//! Committing a partition's batch on its connections: one round trip (a `MULTI … EXEC` when
//! checkpoints move with it), every reply judged by [`Batch::outcome`].

use super::PartitionContext;
use crate::barrier::Arrival;
use crate::batch::{Batch, BatchFailure, Refusal, Replies, Tally};
use crate::checkpoint::{self, Checkpoint};
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

/// What the partition held before the batch, to put back after a failure inside `EXEC`.
pub(super) struct Before<'a> {
    pub applied: Option<Checkpoint>,
    pub replid: Option<&'a str>,
}

impl Committer {
    /// Sends `batch` with the checkpoints of `arrivals` (one `MULTI/EXEC` when there are
    /// checkpoints, or when `atomic`), judges every reply, and empties the batch. Returns the
    /// batch's tally.
    pub async fn commit(
        &mut self,
        batch: &mut Batch,
        arrivals: &[Arrival],
        atomic: bool,
        before: Before<'_>,
    ) -> Result<Tally, ApplyError> {
        let mut transaction = atomic;
        for arrival in arrivals {
            if let Some((key, checkpoint)) = &arrival.checkpoint {
                batch.select(0);
                let replid = arrival.replid.as_deref();
                for cmd in checkpoint::write_commands(key, checkpoint, arrival.records, replid) {
                    let mut push = batch.push(Replies::Strict);
                    push.commands().push_cmd(&cmd);
                    push.concerning(key.clone());
                }
                transaction = true;
            }
        }
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
        let outcome = batch.outcome(replies, transaction);
        // A replicated command refused as its own outcome is part of what the batch did: the
        // checkpoint the transaction stored stands. Only a refused write of our own leaves the
        // transaction's checkpoint past a record that did not apply.
        let failed_in_exec = matches!(&outcome, Err(BatchFailure::Refused { ran_rest: true, .. }));
        if failed_in_exec {
            self.restore_checkpoint(&before).await;
        }
        let refused = match outcome {
            Ok(refused) => refused,
            Err(BatchFailure::Refused { refusal, .. }) => return Err(self.rejected(refusal)),
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
        Ok(batch.clear())
    }

    /// Writes the last good checkpoint back after a failed transaction (best effort: the
    /// error being reported matters more).
    async fn restore_checkpoint(&mut self, before: &Before<'_>) {
        let Some(key) = &self.checkpoint_key else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SELECT").arg(0);
        match &before.applied {
            Some(applied) => {
                let [set, _] = checkpoint::write_commands(key, applied, 0, before.replid);
                pipe.add_command(set);
            }
            None => {
                pipe.cmd("DEL").arg(key);
            }
        }
        if let Err(err) = pipe.query_async::<()>(&mut self.conn).await {
            tracing::error!(partition = self.partition, %err, "could not put the checkpoint back");
        }
    }

    fn rejected(&self, refusal: Refusal) -> ApplyError {
        ApplyError::Rejected {
            addr: self.ctx.target.addr.clone(),
            partition: self.partition,
            db: refusal.db,
            key: show_key(&refusal.key),
            hint: hint_for(&refusal.reply),
            reply: refusal.reply,
        }
    }
}
