//! A partition's control records: an epoch begins (the destination is checked, a sweep is
//! arranged), its snapshot ends (the sweep runs), and the keys both need to know.

use super::{now_ms, Lane};
use crate::batch::Replies;
use crate::checkpoint::Checkpoint;
use crate::error::ApplyError;
use crate::existing;
use crate::expiry;
use crate::precheck;
use crate::sweep::{self, SeenKeys};
use slotstream_schemas::slot::key_slot;
use slotstream_schemas::{Body, EpochBegin, Record};

impl Lane {
    /// Opens an epoch: checks the destination can take its snapshot, and arranges a sweep at
    /// its end when an earlier epoch's keys may be gone from the source.
    pub(super) async fn begin_epoch(
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
        // source: sweep after this snapshot. So too after a run that wrote here and stopped
        // before its first checkpoint. A first epoch into a destination never sweeps what was
        // there.
        let after_earlier_epoch = self.positions.last_taken().is_some_and(|c| c.epoch < epoch);
        let after_claimed_run = self.ctx.sweep_unstarted && self.positions.last_taken().is_none();
        if after_earlier_epoch || after_claimed_run {
            self.seen = Some(SeenKeys::default());
            next.sweep_from = log_offset.or(Some(0));
        }
        self.replid = Some(begin.replid.clone());
        self.summary.epoch = Some(epoch);
        self.summary.snapshot_done = false;
        next.snapshot_done = false;
        Ok(())
    }

    /// Closes an epoch's snapshot: sweeps when the epoch must, and marks the snapshot done.
    pub(super) async fn end_snapshot(
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
        let mut deleted = 0;
        let topology = &self.ctx.target_info.topology;
        for mut node in self.ctx.target.node_connections(topology).await? {
            deleted += sweep::sweep(
                &mut node,
                partition,
                self.ctx.partitions,
                &seen,
                self.ctx.slots.as_ref(),
            )
            .await
            .map_err(|cause| self.query_failed("deleting keys the new snapshot lacks", cause))?;
        }
        tracing::info!(
            partition,
            kept = seen.len(),
            deleted,
            "new epoch: deleted the keys its snapshot did not contain"
        );
        Ok(())
    }

    /// A key the destination held of its own that the snapshot writes over is the source's
    /// from then on: it is forgotten in the batches that write it.
    pub(super) fn claim(&mut self, record: &Record) {
        let (Some(own), Some(log)) = (&self.own_keys, &self.ctx.existing_log) else {
            return;
        };
        let key = match &record.body {
            Body::SnapshotKey(key) => &key.key,
            Body::SnapshotChunk(chunk) if chunk.last => &chunk.key,
            _ => return,
        };
        if !own.contains(record.db, key) {
            return;
        }
        let remembered = existing::remembered_key(log, self.partition);
        let member = existing::member(record.db, key);
        let name = key.clone();
        // The remembered set has a slot of its own on a cluster.
        self.batches.with(key_slot(&remembered), |batch| {
            let back = batch.db();
            batch.select(0);
            batch.command(Replies::Strict, name, &[&b"SREM"[..], &remembered, &member]);
            batch.select(back);
        });
    }

    /// A snapshot being swept needs every key it holds, applied now or before a restart: every
    /// key the snapshot writes, by the rule it is written by. A key is written until its expiry
    /// time on the target (the source's, moved the TTL extension later) has passed; judged by
    /// the source's time alone, a key applied in between was written and then swept away, and
    /// the source's renewal of it, which follows the snapshot, found nothing to renew.
    pub(super) fn remember_for_sweep(&mut self, record: &Record) {
        let Some(seen) = &mut self.seen else {
            return;
        };
        let (key, expire_ms) = match &record.body {
            Body::SnapshotKey(key) => (&key.key, key.expire_ms),
            Body::SnapshotChunk(chunk) if chunk.last => (&chunk.key, chunk.expire_ms),
            _ => return,
        };
        let extension_ms = self.ctx.ttl_extension_ms;
        if expire_ms.is_none_or(|at| !expiry::passed(at, extension_ms, now_ms())) {
            seen.insert(record.db, key);
        }
    }
}
