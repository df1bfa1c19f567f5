//! A barrier whose keys span hash slots, on a cluster destination: its commands' keys looked up
//! on the destination (`COMMAND GETKEYS`), planned as one-slot steps ([`crate::cross_slot`]),
//! and each step applied as a transaction in its slot together with a mark of its own.
//!
//! Invariant: a step's writes and its mark commit in one `MULTI/EXEC`, and a step whose mark
//! is there is passed over. The barrier's checkpoints are stored after the last step, so a
//! barrier applied again after a crash (any step, any checkpoint missing) applies only the steps
//! that did not commit: every effect once. Marks are deleted once the checkpoints are stored
//! and expire on their own after [`MARK_TTL_MS`] (a crash before the deletion leaves them).

use super::{live_writer, push_live, Lane};
use crate::barrier::BarrierId;
use crate::batch::{Batch, Replies};
use crate::config::OnUnsupported;
use crate::cross_slot::{key_indices, plan, Keyed, Step};
use crate::error::ApplyError;
use crate::target::{SlotMap, Topology};
use redis::aio::MultiplexedConnection;
use slotstream_schemas::display::show_key;
use slotstream_schemas::name::Name;
use slotstream_schemas::slot::slot_tag;
use slotstream_schemas::{Command, Element, BOOKKEEPING_PREFIX};
use std::sync::atomic::Ordering;

/// How long a step's mark outlives a crash that kept it from being deleted.
pub const MARK_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

impl Lane {
    /// Applies a barrier's `commands` step by step; returns the marks to delete once the
    /// barrier's checkpoints are stored.
    pub(super) async fn apply_across_slots(
        &mut self,
        id: BarrierId,
        ran_ms: i64,
        commands: Vec<Command>,
    ) -> Result<Vec<Vec<u8>>, ApplyError> {
        let Topology::Cluster(map) = self.ctx.target_info.topology.clone() else {
            return Err(self.not_by_effect("a cluster".into(), "the target is not a cluster"));
        };
        let mut node = match self.key_lookup.take() {
            Some(node) => node,
            None => self.ctx.target.connect().await?,
        };
        let mut keyed = Vec::with_capacity(commands.len());
        for command in commands {
            let args: Vec<Vec<u8>> = command.args.into_iter().map(|a| a.0).collect();
            if Name::of_command(&args) == b"SELECT" {
                // The cluster has db 0 only; records of other databases stop before here.
                continue;
            }
            let keys = self.keys_of(&mut node, &args).await?;
            keyed.push(Keyed { args, keys });
        }
        self.key_lookup = Some(node);
        let steps = match plan(keyed) {
            Ok(steps) => steps,
            Err(not) if self.ctx.on_unsupported == OnUnsupported::SkipWithWarning => {
                self.ctx.stats.left_out.fetch_add(1, Ordering::Relaxed);
                self.ctx
                    .stats
                    .left_out_commands
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    partition = self.partition,
                    command = %not.command,
                    "a command across hash slots left out (--on-unsupported=skip-with-warning): \
                     {}",
                    not.why
                );
                return Ok(Vec::new());
            }
            Err(not) => return Err(self.not_by_effect(not.command, not.why)),
        };
        let mut marks = Vec::with_capacity(steps.len());
        let log = self.ctx.checkpoint_log.clone().unwrap_or_default();
        for (n, step) in steps.into_iter().enumerate() {
            let mark = mark_key(&log, id, &n.to_string(), step.slot());
            if !self.marked(&mark).await? {
                self.apply_step(&map, &mark, step, ran_ms).await?;
                fail::fail_point!("cross-slot-step-applied", |_| {
                    crate::failpoints::kill_here("cross-slot-step-applied")
                });
            }
            marks.push(mark);
        }
        Ok(marks)
    }

    /// Deletes the marks of a barrier whose checkpoints are stored. A failure is only logged:
    /// the marks expire on their own.
    pub(super) async fn forget_marks(&mut self, marks: Vec<Vec<u8>>) {
        for mark in marks {
            let deleted: Result<i64, _> = redis::cmd("DEL")
                .arg(&mark)
                .query_async(&mut self.link.conn)
                .await;
            if let Err(err) = deleted {
                tracing::debug!(partition = self.partition, mark = %show_key(&mark), %err,
                    "a step mark was left to expire");
            }
        }
    }

    /// One step: what it reads, then its commands and its mark as one transaction in its slot.
    async fn apply_step(
        &mut self,
        map: &SlotMap,
        mark: &[u8],
        step: Step,
        ran_ms: i64,
    ) -> Result<(), ApplyError> {
        let ctx = self.ctx.clone();
        let live = live_writer(&ctx, self.partition);
        let mut batch = Batch::default();
        let slot = step.slot();
        match step {
            Step::Run { commands, .. } => {
                for args in commands {
                    let command = Command {
                        args: args.into_iter().map(Element).collect(),
                    };
                    push_live(&mut batch, &live, command, ran_ms)?;
                }
            }
            Step::CopyValue { src, dst, .. } => {
                let Some((payload, expire_at)) = self.dumped(&src).await? else {
                    self.refused(&src, "no such key");
                    return self.mark_only(map, slot, mark).await;
                };
                let mut push = batch.push(Replies::Strict);
                let out = push.commands();
                out.command(6);
                out.arg(b"RESTORE");
                out.arg(&dst);
                out.arg_int(expire_at.unwrap_or(0));
                out.arg(&payload);
                out.arg(b"REPLACE");
                out.arg(b"ABSTTL");
                push.concerning(dst);
            }
            Step::PushEnd {
                src,
                from_left,
                dst,
                to_left,
                ..
            } => {
                let end: &[u8] = if from_left { b"0" } else { b"-1" };
                let element: Option<Vec<u8>> =
                    self.query(&["LINDEX".as_bytes(), &src, end]).await?;
                let Some(element) = element else {
                    self.refused(&src, "an empty list");
                    return self.mark_only(map, slot, mark).await;
                };
                let push: &[u8] = if to_left { b"LPUSH" } else { b"RPUSH" };
                batch.command(Replies::Replicated, dst.clone(), &[push, &dst, &element]);
            }
            Step::StoreFrom {
                mut command,
                foreign,
                ..
            } => {
                let mut temporary = Vec::new();
                for (n, index) in foreign.into_iter().enumerate() {
                    let key = self.temporary_key(slot, n);
                    let dumped: Option<Vec<u8>> =
                        self.query(&["DUMP".as_bytes(), &command[index]]).await?;
                    if let Some(payload) = dumped {
                        batch.command(
                            Replies::Strict,
                            key.clone(),
                            &[&b"RESTORE"[..], &key, b"0", &payload, b"REPLACE"],
                        );
                    }
                    // A missing input stays missing: the command takes it as empty, as the
                    // source did.
                    command[index] = key.clone();
                    temporary.push(key);
                }
                let key = command.get(1).cloned().unwrap_or_default();
                batch.command(Replies::Replicated, key, &command);
                for key in temporary {
                    batch.command(Replies::Strict, key.clone(), &[&b"DEL"[..], &key]);
                }
            }
        }
        push_mark(&mut batch, mark);
        self.link.transaction_in_slot(map, slot, &mut batch).await
    }

    /// The key arguments of `args`, by the destination's own command table (asked through
    /// `node`, any node of it).
    async fn keys_of(
        &self,
        node: &mut MultiplexedConnection,
        args: &[Vec<u8>],
    ) -> Result<Vec<usize>, ApplyError> {
        let name = String::from_utf8_lossy(Name::of_command(args).as_bytes()).into_owned();
        let reply: Result<Vec<Vec<u8>>, redis::RedisError> = redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg(args)
            .query_async(node)
            .await;
        match reply {
            Ok(keys) => key_indices(args, &keys)
                .ok_or_else(|| self.not_by_effect(name, "its keys were not found in it")),
            Err(err) if err.to_string().contains("no key arguments") => Ok(Vec::new()),
            Err(err) if err.code().is_some() => {
                Err(self.not_by_effect(name, "the target does not know the command"))
            }
            Err(cause) => Err(ApplyError::Redis {
                addr: self.ctx.target.addr.clone(),
                doing: format!("looking up the keys of {name}"),
                cause,
            }),
        }
    }

    /// `src`'s payload and absolute expiry (ms), read on the destination; `None` when it has
    /// no such key.
    async fn dumped(&mut self, src: &[u8]) -> Result<Option<(Vec<u8>, Option<i64>)>, ApplyError> {
        let payload: Option<Vec<u8>> = self.query(&["DUMP".as_bytes(), src]).await?;
        let Some(payload) = payload else {
            return Ok(None);
        };
        let ttl: i64 = self.query(&["PTTL".as_bytes(), src]).await?;
        let expire_at = (ttl > 0).then(|| super::now_ms() + ttl);
        Ok(Some((payload, expire_at)))
    }

    /// A move whose source the destination does not hold (a key it expired a moment before the
    /// source's command arrived, or a target that diverged): what the command itself would
    /// have answered on one server (`ERR no such key`), counted as refused, as there.
    fn refused(&self, src: &[u8], found: &str) {
        self.ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            partition = self.partition,
            key = %show_key(src),
            "a command across slots moves a key the target holds as {found}: refused, counted"
        );
    }

    /// The step's mark alone: the step is decided, with nothing to write.
    async fn mark_only(&mut self, map: &SlotMap, slot: u16, mark: &[u8]) -> Result<(), ApplyError> {
        let mut batch = Batch::default();
        push_mark(&mut batch, mark);
        self.link.transaction_in_slot(map, slot, &mut batch).await
    }

    /// Whether a mark exists.
    pub(super) async fn marked(&mut self, mark: &[u8]) -> Result<bool, ApplyError> {
        let found: i64 = self.query(&["EXISTS".as_bytes(), mark]).await?;
        Ok(found == 1)
    }

    /// Writes a mark on its own.
    pub(super) async fn set_mark(&mut self, mark: &[u8]) -> Result<(), ApplyError> {
        let ttl = MARK_TTL_MS.to_string();
        self.query::<()>(&[b"SET", mark, b"1", b"PX", ttl.as_bytes()])
            .await
    }

    async fn query<T: redis::FromRedisValue>(&mut self, args: &[&[u8]]) -> Result<T, ApplyError> {
        let mut cmd = redis::cmd(&String::from_utf8_lossy(args[0]));
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(&mut self.link.conn)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.ctx.target.addr.clone(),
                doing: format!(
                    "reading for a command across slots (partition {})",
                    self.partition
                ),
                cause,
            })
    }

    /// The `n`th temporary key of a step in `slot`.
    fn temporary_key(&self, slot: u16, n: usize) -> Vec<u8> {
        let mut key = BOOKKEEPING_PREFIX.to_vec();
        key.extend_from_slice(format!("input:{n}:{{{}}}", slot_tag(slot)).as_bytes());
        key
    }

    fn not_by_effect(&self, command: String, why: &str) -> ApplyError {
        ApplyError::Incompatible {
            addr: self.ctx.target.addr.clone(),
            why: format!(
                "the source ran {command} across hash slots, which a cluster target cannot take \
                 in one transaction, and slotstream cannot apply it by its effect: {why}; \
                 --on-unsupported=skip-with-warning leaves such commands out"
            ),
        }
    }
}

/// The mark `what` (a step's number, or `done`) of barrier `id` of `log`, in `slot`.
pub(super) fn mark_key(log: &str, id: BarrierId, what: &str, slot: u16) -> Vec<u8> {
    let (epoch, at) = id;
    let mut key = BOOKKEEPING_PREFIX.to_vec();
    key.extend_from_slice(
        format!(
            "barrier:{log}:{epoch}:{}:{}:{what}:{{{}}}",
            at.offset,
            at.index,
            slot_tag(slot)
        )
        .as_bytes(),
    );
    key
}

/// Adds the command that writes `mark` (with its expiry) to `batch`.
pub(super) fn push_mark(batch: &mut Batch, mark: &[u8]) {
    let mut push = batch.push(Replies::Strict);
    let out = push.commands();
    out.command(5);
    out.arg(b"SET");
    out.arg(mark);
    out.arg(b"1");
    out.arg(b"PX");
    out.arg_int(MARK_TTL_MS);
    push.concerning(mark.to_vec());
}
