//! A [`Fork`] record: the source failed over, and the promoted replica's history reuses the
//! positions this partition took past the fork (they held pings and messages, which changed
//! nothing). The partition's checkpoint, and on a cluster its slots' checkpoints, are lowered to
//! the fork, so the records that follow are taken.
//!
//! Order makes it restart-safe: the batches before the fork are applied first, the slot
//! checkpoints are lowered next, and the partition's checkpoint, with the fork's log offset,
//! last. A kill before that last write reads the fork again and does the same again.

use super::Lane;
use crate::checkpoint::{self, Checkpoint};
use crate::error::ApplyError;
use crate::target::Topology;
use slotstream_schemas::slot::slots_of_partition;
use slotstream_schemas::{Fork, Position};

impl Lane {
    pub(super) async fn fork(
        &mut self,
        epoch: u64,
        fork: Fork,
        log_offset: Option<i64>,
    ) -> Result<(), ApplyError> {
        let to = Position::end_of(fork.offset);
        let Some(taken) = self
            .positions
            .last_taken()
            .filter(|c| c.epoch == epoch && c.position > to)
        else {
            return Ok(());
        };
        self.flush().await?;
        tracing::info!(
            partition = self.partition,
            from = taken.position.offset,
            to = fork.offset,
            "the source failed over: lowering the checkpoint to the fork"
        );
        self.lower_slot_checkpoints(epoch, to).await?;
        self.positions.take(Checkpoint {
            position: to,
            db: fork.db,
            log_offset: log_offset.or(taken.log_offset),
            ..taken
        });
        self.flush().await
    }

    /// On a cluster: the slot checkpoints of this partition past `to`, in the destination and
    /// in memory.
    async fn lower_slot_checkpoints(&mut self, epoch: u64, to: Position) -> Result<(), ApplyError> {
        self.slots_ahead
            .retain(|_, at| !(at.epoch == epoch && at.position > to));
        let (Some(log), Topology::Cluster(map)) = (
            self.ctx.checkpoint_log.clone(),
            &self.ctx.target_info.topology,
        ) else {
            return Ok(());
        };
        let failed = |cause| ApplyError::Redis {
            addr: self.ctx.target.addr.clone(),
            doing: format!(
                "lowering the slot checkpoints to the fork (partition {})",
                self.partition
            ),
            cause,
        };
        let topology = &self.ctx.target_info.topology;
        let mut nodes = self.ctx.target.node_connections(topology).await?;
        let slots = slots_of_partition(self.partition, self.ctx.partitions);
        let stored = checkpoint::load_slots(&mut nodes, map, &log, self.partition, slots)
            .await
            .map_err(failed)?;
        for (slot, at) in stored {
            if at.epoch != epoch || at.position <= to {
                continue;
            }
            let lowered = Checkpoint { position: to, ..at };
            let key = checkpoint::slot_checkpoint_key(&log, self.partition, slot);
            checkpoint::write_slot_command(&key, &lowered)
                .query_async::<()>(&mut self.link.conn)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }
}
