//! Committing a partition's batch: one pipeline (a `MULTI/EXEC` when checkpoints move with it),
//! every reply checked; and barriers, committed by the last involved partition for all of them.

use super::Lane;
use crate::barrier::{self, Arrival, BarrierId, Turn};
use crate::checkpoint::{self, Checkpoint};
use crate::command::{selected_db, swapped_with_db0};
use crate::error::{hint_for, is_target_fault, ApplyError};
use redis::Value;
use slotstream_schemas::display::show_key;
use slotstream_schemas::Barrier;
use std::sync::atomic::Ordering;

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";
/// A batch buffer up to this size is kept for the next batch.
const KEEP_BUFFER_BYTES: usize = 4 << 20;

impl Lane {
    /// Sends the batch with the checkpoints of `arrivals` (one `MULTI/EXEC` when there are
    /// checkpoints, or when `atomic`), checks every reply and moves this partition's checkpoint.
    pub(super) async fn commit(
        &mut self,
        arrivals: Vec<Arrival>,
        atomic: bool,
    ) -> Result<(), ApplyError> {
        let mut transaction = atomic;
        for arrival in &arrivals {
            if let Some((key, checkpoint)) = &arrival.checkpoint {
                self.select(0);
                let replid = arrival.replid.as_deref();
                for cmd in checkpoint::write_commands(key, checkpoint, arrival.records, replid) {
                    self.push_cmd(0, key.clone(), &cmd);
                }
                transaction = true;
            }
        }
        let mut batch = std::mem::take(&mut self.batch);
        let (count, writes) = (batch.cmds.len(), batch.cmds.writes());
        // What goes on the wire, RESP framing included.
        let body = batch.cmds.bytes();
        let bytes = body.len();
        if let Some(throttle) = &self.ctx.throttle {
            throttle.admit(writes, bytes).await;
        }
        let (parts, replies): (Vec<&[u8]>, usize) = if transaction {
            (vec![MULTI, body, EXEC], count + 2)
        } else {
            (vec![body], count)
        };
        let replies: Vec<Value> = self
            .wire
            .round_trip(&parts, replies)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.ctx.target.addr.clone(),
                doing: format!("applying a batch in partition {}", self.summary.partition),
                cause,
            })?;
        // The next batch reuses the buffer rather than growing a new one.
        let mut buffer = batch.cmds;
        buffer.clear(KEEP_BUFFER_BYTES);
        self.batch.cmds = buffer;
        let results = if transaction {
            self.transaction_results(replies, &batch.keys).await?
        } else {
            replies
        };
        let failed = results
            .iter()
            .enumerate()
            .position(|(index, reply)| match reply {
                Value::ServerError(err) => {
                    !batch.lenient.get(index).copied().unwrap_or(false) || is_target_fault(err)
                }
                _ => false,
            });
        if let Some(index) = failed {
            return Err(self.rejected(&results[index], &batch.keys[index]));
        }
        for (reply, (db, key)) in results.iter().zip(&batch.keys) {
            if let Value::ServerError(err) = reply {
                self.ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    partition = self.summary.partition,
                    db,
                    key = %show_key(key),
                    %err,
                    "a replicated command failed on the target as it may have on the source"
                );
            }
        }
        let own = arrivals
            .iter()
            .find(|a| a.partition == self.summary.partition)
            .and_then(|a| a.checkpoint.as_ref());
        if let Some((_, checkpoint)) = own {
            self.applied = Some(*checkpoint);
            if let (Some(hook), Some(offset)) = (&self.ctx.on_applied, checkpoint.log_offset) {
                hook(self.summary.partition, offset);
            }
        }
        self.summary.keys += batch.snapshot_keys;
        self.ctx
            .stats
            .keys
            .fetch_add(batch.snapshot_keys, Ordering::Relaxed);
        self.ctx
            .stats
            .commands
            .fetch_add(batch.commands, Ordering::Relaxed);
        self.ctx
            .stats
            .bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        // The next batch reuses these lists' room too.
        let (mut keys, mut lenient) = (batch.keys, batch.lenient);
        keys.clear();
        lenient.clear();
        self.batch.keys = keys;
        self.batch.lenient = lenient;
        Ok(())
    }

    /// Applies a barrier once every involved partition has reached it (see [`crate::barrier`]).
    pub(super) async fn barrier(
        &mut self,
        id: BarrierId,
        db: u32,
        ran_ms: i64,
        barrier: Barrier,
        next: Checkpoint,
    ) -> Result<(), ApplyError> {
        self.flush().await?;
        let arrival = Arrival {
            partition: self.summary.partition,
            checkpoint: self.checkpoint_key.clone().map(|key| (key, next)),
            records: 1,
            replid: self.replid.clone(),
        };
        match self
            .ctx
            .barriers
            .arrive(id, barrier.partitions.len(), arrival)
        {
            Turn::Apply(arrivals, done) => {
                self.select(db);
                for command in barrier.commands {
                    // A `SELECT` inside a block moves this connection to another db: follow it,
                    // so the checkpoints and later commands go where they belong.
                    if let Some(db) = selected_db(&command) {
                        self.db = db;
                    }
                    let swapped = swapped_with_db0(&command);
                    self.write_command(command, ran_ms);
                    self.mark_lenient();
                    self.batch.commands += 1;
                    if let Some(db) = swapped {
                        self.drop_moved_checkpoints(db);
                    }
                }
                let result = self.commit(arrivals, true).await;
                let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
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
                if self.checkpoint_key.is_some() {
                    self.applied = Some(next);
                }
            }
        }
        self.pending = Some(next);
        Ok(())
    }

    /// After `SWAPDB 0 db`: the checkpoints moved to `db` with the rest of db 0; delete them
    /// there (the barrier rewrites every partition's checkpoint in db 0 in the same transaction),
    /// so no bookkeeping is left among the user's keys.
    fn drop_moved_checkpoints(&mut self, db: u32) {
        let Some(log) = self.ctx.checkpoint_log.clone() else {
            return;
        };
        let back = self.db;
        self.select(db);
        for partition in 0..self.ctx.partitions {
            let key = checkpoint::checkpoint_key(&log, partition);
            let mut del = redis::cmd("DEL");
            del.arg(&key);
            self.push_cmd(db, key, &del);
        }
        self.select(back);
    }

    /// Unpacks `MULTI … EXEC` replies into one result per command. A command refused while
    /// queuing aborts the whole transaction (nothing applied); a command that failed inside
    /// `EXEC` did not stop the others, so the checkpoint is put back where it was before the
    /// error is reported: the failed record must not count as applied.
    pub(super) async fn transaction_results(
        &mut self,
        mut replies: Vec<Value>,
        keys: &[(u32, Vec<u8>)],
    ) -> Result<Vec<Value>, ApplyError> {
        let exec = replies.pop().unwrap_or(Value::Nil);
        let queued = replies.get(1..).unwrap_or_default();
        if let Some(index) = queued
            .iter()
            .position(|r| matches!(r, Value::ServerError(_)))
        {
            return Err(self.rejected(&queued[index], &keys[index]));
        }
        let results = match exec {
            Value::Array(results) if results.len() == keys.len() => results,
            other => {
                return Err(self.log_error(format!(
                    "the target answered EXEC with {other:?}; nothing of the batch was applied"
                )))
            }
        };
        if results.iter().any(|r| matches!(r, Value::ServerError(_))) {
            self.restore_checkpoint().await;
        }
        Ok(results)
    }

    /// Writes the last good checkpoint back after a failed transaction (best effort: the
    /// error being reported matters more).
    pub(super) async fn restore_checkpoint(&mut self) {
        let Some(key) = &self.checkpoint_key else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SELECT").arg(0);
        match &self.applied {
            Some(applied) => {
                let [set, _] = checkpoint::write_commands(key, applied, 0, self.replid.as_deref());
                pipe.add_command(set);
            }
            None => {
                pipe.cmd("DEL").arg(key);
            }
        }
        if let Err(err) = pipe.query_async::<()>(&mut self.conn).await {
            tracing::error!(partition = self.summary.partition, %err, "could not put the checkpoint back");
        }
    }

    pub(super) fn rejected(&self, reply: &Value, (db, key): &(u32, Vec<u8>)) -> ApplyError {
        let reply = match reply {
            Value::ServerError(err) => err.to_string(),
            other => format!("{other:?}"),
        };
        ApplyError::Rejected {
            addr: self.ctx.target.addr.clone(),
            partition: self.summary.partition,
            db: *db,
            key: show_key(key),
            hint: hint_for(&reply),
            reply,
        }
    }
}
