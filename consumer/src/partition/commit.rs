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
//!   again. Nothing has to be put back. On a cluster, where a transaction holds one slot's keys,
//!   a slot's batch of whole snapshot keys goes without `MULTI … EXEC` (each write replaces its
//!   key; the same reasoning holds command by command); one with a big value's part keeps it,
//!   since the part's mark must apply with its elements ([`Batch::needs_transaction`]).

use super::PartitionContext;
use crate::barrier::Arrival;
use crate::batch::{Batch, BatchFailure, Refusal, Replies, Tally};
use crate::batches::Batches;
use crate::checkpoint::{self, Checkpoint};
use crate::error::{hint_for, ApplyError};
use crate::existing;
use crate::target::{Queries, SlotMap, Topology};
use crate::wire::Wire;
use slotstream_schemas::display::show_key;
use slotstream_schemas::slot::key_slot;
use std::sync::atomic::Ordering;
use std::sync::Arc;

const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";
const EXEC: &[u8] = b"*1\r\n$4\r\nEXEC\r\n";

/// A partition's connections to the destination: [`Wire`]s for batches (one per primary of a
/// cluster), [`Queries`] for the rest.
pub(super) struct Committer {
    pub partition: u32,
    pub ctx: Arc<PartitionContext>,
    /// The server's, or one per primary in the order of [`SlotMap::nodes`].
    pub wires: Vec<Wire>,
    /// For the occasional query (checkpoints, marks).
    pub conn: Queries,
    /// Where this partition's checkpoint is kept; `None`: no checkpoints.
    pub checkpoint_key: Option<Vec<u8>>,
}

impl Committer {
    /// Sends the batches with the checkpoints of `arrivals` as the module says (on one server,
    /// always one transaction when `atomic`), judges every reply, and empties the batches.
    /// Returns the batches' tally.
    pub async fn commit(
        &mut self,
        batches: &mut Batches,
        arrivals: &[Arrival],
        atomic: bool,
    ) -> Result<Tally, ApplyError> {
        let ctx = self.ctx.clone();
        if let Some(claim) = &ctx.claim {
            claim
                .written
                .get_or_try_init(|| async {
                    let mut store = ctx.target.queries(&ctx.target_info.topology).await?;
                    existing::claim(&mut store, &claim.log)
                        .await
                        .map_err(|cause| ApplyError::Redis {
                            addr: ctx.target.addr.clone(),
                            doing: "claiming the target before the first write".into(),
                            cause,
                        })
                })
                .await?;
        }
        if let Topology::Cluster(map) = &ctx.target_info.topology {
            return self.commit_slots(map, batches, arrivals).await;
        }
        let tally = self.commit_one(batches.one(), arrivals, atomic).await?;
        batches.clear();
        Ok(tally)
    }

    /// [`Self::commit`] on one server.
    async fn commit_one(
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

    /// On a cluster: each slot's batch as a transaction on its primary (with the slot's
    /// checkpoint when the batches are not replayable), the commands for every primary on each,
    /// then the checkpoints of `arrivals`, then the bookkeeping keys the batches let go.
    async fn commit_slots(
        &mut self,
        map: &SlotMap,
        batches: &mut Batches,
        arrivals: &[Arrival],
    ) -> Result<Tally, ApplyError> {
        let moves = arrivals.iter().any(|a| a.checkpoint.is_some());
        // Where this partition stands once the batches are applied.
        let at: Option<Checkpoint> = arrivals
            .iter()
            .find(|a| a.partition == self.partition)
            .and_then(|a| a.checkpoint.as_ref().map(|(_, c)| *c));
        let with_slot_checkpoints = moves && !batches.replayable();
        let log = self.ctx.checkpoint_log.clone();
        let tally = batches.tally();
        let every_node = batches.every_node();
        if !every_node.is_empty() {
            let count = every_node.len();
            let body = every_node.bytes().to_vec();
            for replies in self.round_trip_all(&body, count).await? {
                self.judge(batches.every_node(), replies, true)?;
            }
        }
        let mut forgotten = Vec::new();
        let mut per_node: Vec<Vec<&mut Batch>> = (0..map.nodes.len()).map(|_| Vec::new()).collect();
        for (slot, batch) in batches.slots_mut() {
            if let (true, Some(log), Some(at)) = (with_slot_checkpoints, &log, at) {
                let key = checkpoint::slot_checkpoint_key(log, self.partition, slot);
                let mut push = batch.push(Replies::Strict);
                push.commands()
                    .push_cmd(&checkpoint::write_slot_command(&key, &at));
                push.concerning(key);
            }
            forgotten.extend(batch.take_forgotten());
            let node = map.owner(slot).ok_or_else(|| self.uncovered(slot))?;
            per_node[node].push(batch);
        }
        self.send_transactions(map, per_node).await?;
        fail::fail_point!("commit-between-batch-and-checkpoint", |_| Err(
            self.stopped_at("commit-between-batch-and-checkpoint")
        ));
        let mut bookkeeping = Batch::default();
        store_checkpoints(&mut bookkeeping, arrivals);
        for (db, key) in forgotten {
            bookkeeping.select(db);
            bookkeeping.command(Replies::Strict, key.clone(), &[&b"DEL"[..], &key]);
        }
        self.send_keyed(map, bookkeeping).await?;
        batches.clear();
        Ok(tally)
    }

    /// Sends each node's slot transactions, every node before reading any reply, and judges
    /// every reply.
    async fn send_transactions(
        &mut self,
        map: &SlotMap,
        mut per_node: Vec<Vec<&mut Batch>>,
    ) -> Result<(), ApplyError> {
        let (writes, bytes) = per_node.iter().flatten().fold((0, 0), |(w, b), batch| {
            (w + batch.writes(), b + batch.byte_len())
        });
        let replicated = per_node.iter().flatten().any(|batch| !batch.replayable());
        self.ctx.throttles.admit(replicated, writes, bytes).await;
        for (node, batches) in per_node.iter_mut().enumerate() {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(batches.len() * 3);
            for batch in batches.iter_mut() {
                let transaction = batch.needs_transaction();
                if transaction {
                    parts.push(MULTI);
                }
                parts.push(batch.bytes());
                if transaction {
                    parts.push(EXEC);
                }
            }
            let sent = self.wires[node].send(&parts).await;
            sent.map_err(|cause| self.failed(&map.nodes[node].to_string(), cause))?;
        }
        for (node, batches) in per_node.iter_mut().enumerate() {
            for batch in batches.iter_mut() {
                let transaction = batch.needs_transaction();
                let count = batch.len() + if transaction { 2 } else { 0 };
                let received = self.wires[node].receive(count).await;
                let replies =
                    received.map_err(|cause| self.failed(&map.nodes[node].to_string(), cause))?;
                self.judge(batch, replies, transaction)?;
            }
        }
        self.ctx
            .stats
            .bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Sends `batch` as one transaction to the primary of `slot`, and judges every reply.
    pub(super) async fn transaction_in_slot(
        &mut self,
        map: &SlotMap,
        slot: u16,
        batch: &mut Batch,
    ) -> Result<(), ApplyError> {
        let node = map.owner(slot).ok_or_else(|| self.uncovered(slot))?;
        let count = batch.len();
        let replies = self.wires[node]
            .round_trip(&[MULTI, batch.bytes(), EXEC], count + 2)
            .await;
        let replies = replies.map_err(|cause| self.failed(&map.nodes[node].to_string(), cause))?;
        self.judge(batch, replies, true)
    }

    /// Sends bookkeeping commands (checkpoints, deletions), each as its own transaction to the
    /// primary of its key's slot, and checks the replies.
    async fn send_keyed(&mut self, map: &SlotMap, mut batch: Batch) -> Result<(), ApplyError> {
        for (key, command) in batch.commands_by_key() {
            let slot = key_slot(&key);
            let node = map.owner(slot).ok_or_else(|| self.uncovered(slot))?;
            let replies = self.wires[node]
                .round_trip(&[MULTI, &command, EXEC], 3)
                .await;
            let replies =
                replies.map_err(|cause| self.failed(&map.nodes[node].to_string(), cause))?;
            let mut one = Batch::default();
            let mut push = one.push(Replies::Strict);
            push.commands().push_raw(&command);
            push.concerning(key);
            self.judge(&mut one, replies, true)?;
        }
        Ok(())
    }

    /// The same commands to every primary, as one transaction on each; the replies of each.
    async fn round_trip_all(
        &mut self,
        body: &[u8],
        count: usize,
    ) -> Result<Vec<Vec<redis::Value>>, ApplyError> {
        let failed = |cause| ApplyError::Redis {
            addr: self.ctx.target.addr.clone(),
            doing: "sending commands for every primary".into(),
            cause,
        };
        let mut all = Vec::with_capacity(self.wires.len());
        for wire in &mut self.wires {
            wire.send(&[MULTI, body, EXEC]).await.map_err(failed)?;
        }
        for wire in &mut self.wires {
            all.push(wire.receive(count + 2).await.map_err(failed)?);
        }
        Ok(all)
    }

    fn uncovered(&self, slot: u16) -> ApplyError {
        ApplyError::Incompatible {
            addr: self.ctx.target.addr.clone(),
            why: format!("no primary of the cluster serves slot {slot}"),
        }
    }

    pub(super) fn failed(&self, addr: &str, cause: redis::RedisError) -> ApplyError {
        ApplyError::Redis {
            addr: addr.to_string(),
            doing: format!("applying a batch in partition {}", self.partition),
            cause,
        }
    }

    /// One round trip: the batch (inside `MULTI … EXEC` when `transaction`), every reply judged.
    async fn send(&mut self, batch: &mut Batch, transaction: bool) -> Result<(), ApplyError> {
        let (count, writes, replicated) = (batch.len(), batch.writes(), !batch.replayable());
        // What goes on the wire, RESP framing included.
        let body = batch.bytes();
        let bytes = body.len();
        self.ctx.throttles.admit(replicated, writes, bytes).await;
        let (parts, replies): (Vec<&[u8]>, usize) = if transaction {
            (vec![MULTI, body, EXEC], count + 2)
        } else {
            (vec![body], count)
        };
        let replies = self.wires[0]
            .round_trip(&parts, replies)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.ctx.target.addr.clone(),
                doing: format!("applying a batch in partition {}", self.partition),
                cause,
            })?;
        self.judge(batch, replies, transaction)?;
        self.ctx
            .stats
            .bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Judges the replies to `batch`: refused replicated commands counted, a failure an error.
    fn judge(
        &self,
        batch: &mut Batch,
        replies: Vec<redis::Value>,
        transaction: bool,
    ) -> Result<(), ApplyError> {
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
            let count = self.ctx.stats.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if self
                .ctx
                .stats
                .refusal_warning_due(slotstream_schemas::now_ms())
            {
                tracing::warn!(
                    partition = self.partition,
                    db,
                    key = %show_key(key),
                    %reply,
                    refused_so_far = count,
                    "a replicated command failed on the target as it may have on the source \
                     (a key that differs between them, say); the copy goes on. `slotstream \
                     verify` shows where they differ. One such warning every 10 s at most; \
                     slotstream_commands_refused_total counts them all"
                );
            } else {
                tracing::debug!(
                    partition = self.partition,
                    db,
                    key = %show_key(key),
                    %reply,
                    "a replicated command failed on the target as it may have on the source"
                );
            }
        }
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
            let origin = checkpoint::Origin {
                replid: arrival.replid.clone(),
                source: arrival.source.clone(),
            };
            for cmd in checkpoint::write_commands(key, checkpoint, arrival.records, &origin) {
                let mut push = batch.push(Replies::Strict);
                push.commands().push_cmd(&cmd);
                push.concerning(key.clone());
            }
        }
    }
}
