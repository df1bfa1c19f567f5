//! Where a partition stands, and the exactly-once rule.
//!
//! A partition has two checkpoints: the one the destination holds (`applied`), and the one the
//! batch being built will store with it (`pending`). Positions only grow within a partition's
//! log, so a record at or below the later of the two was applied already, or is in the batch:
//! it is a copy (a producer that re-sent records after a restart, a log that delivered some
//! twice, a consumer that read again from an earlier offset) and is skipped. Every other record
//! is taken, and the checkpoint after it is what the batch will store. That is all the
//! exactly-once rule needs, given that a checkpoint moves only with its batch
//! ([`crate::checkpoint`]).

use crate::checkpoint::Checkpoint;
use slotstream_schemas::Position;

/// A partition's applied and pending checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Positions {
    /// What the destination holds.
    applied: Option<Checkpoint>,
    /// What the batch being built will store; `None` until a record is taken.
    pending: Option<Checkpoint>,
}

impl Positions {
    /// A partition that starts from `applied` (its checkpoint read from the destination).
    pub fn new(applied: Option<Checkpoint>) -> Self {
        Self {
            applied,
            pending: None,
        }
    }

    /// The checkpoint the destination holds.
    pub fn applied(&self) -> Option<Checkpoint> {
        self.applied
    }

    /// The later of the applied checkpoint and the pending one.
    pub fn last_taken(&self) -> Option<Checkpoint> {
        match (self.pending, self.applied) {
            (Some(pending), Some(applied)) => {
                Some(if applied.covers(pending.epoch, pending.position) {
                    applied
                } else {
                    pending
                })
            }
            (pending, applied) => pending.or(applied),
        }
    }

    /// Whether a record at `(epoch, position)` is new: neither applied nor in the batch.
    pub fn is_new(&self, epoch: u64, position: Position) -> bool {
        !self.last_taken().is_some_and(|c| c.covers(epoch, position))
    }

    /// The checkpoint right after a record at `(epoch, position)` of database `db`, read at
    /// `log_offset`. Within an epoch it keeps what the epoch's earlier records set (snapshot
    /// done, where its sweep reads from); a new epoch starts with neither.
    pub fn after(
        &self,
        epoch: u64,
        position: Position,
        db: u32,
        log_offset: Option<i64>,
    ) -> Checkpoint {
        let previous = self.pending.or(self.applied).filter(|c| c.epoch == epoch);
        Checkpoint {
            epoch,
            position,
            log_offset,
            snapshot_done: previous.is_some_and(|c| c.snapshot_done),
            db,
            sweep_from: previous.and_then(|c| c.sweep_from),
            captured_ms: None,
        }
    }

    /// A record was taken into the batch: the batch will store `next`.
    pub fn take(&mut self, next: Checkpoint) {
        self.pending = Some(next);
    }

    /// The checkpoint the batch must store, when it moves the partition on.
    pub fn to_store(&self) -> Option<Checkpoint> {
        self.pending
            .filter(|&pending| Some(pending) != self.applied)
    }

    /// The destination now holds `checkpoint` (its batch was applied, or a barrier another
    /// partition applied stored it).
    pub fn stored(&mut self, checkpoint: Checkpoint) {
        self.applied = Some(checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(offset: u64, index: u64) -> Position {
        Position { offset, index }
    }

    fn at(epoch: u64, offset: u64, index: u64) -> Checkpoint {
        Checkpoint {
            epoch,
            position: pos(offset, index),
            ..Default::default()
        }
    }

    #[test]
    fn a_fresh_partition_takes_everything() {
        let positions = Positions::new(None);
        assert!(positions.is_new(1, pos(0, 0)));
        assert_eq!(positions.to_store(), None);
    }

    #[test]
    fn records_at_or_below_the_applied_checkpoint_are_copies() {
        let positions = Positions::new(Some(at(2, 100, 5)));
        assert!(!positions.is_new(2, pos(100, 5)));
        assert!(!positions.is_new(2, pos(100, 4)));
        assert!(!positions.is_new(1, pos(900, 0)), "an older epoch");
        assert!(positions.is_new(2, pos(100, 6)));
        assert!(positions.is_new(2, pos(101, 0)));
        assert!(positions.is_new(3, pos(0, 0)), "a newer epoch");
    }

    #[test]
    fn records_already_in_the_batch_are_copies() {
        let mut positions = Positions::new(Some(at(1, 10, 0)));
        let next = positions.after(1, pos(20, 0), 0, Some(7));
        positions.take(next);
        assert!(!positions.is_new(1, pos(20, 0)), "taken, not applied yet");
        assert!(!positions.is_new(1, pos(15, 0)));
        assert!(positions.is_new(1, pos(20, 1)));
        assert_eq!(positions.to_store(), Some(next));
    }

    #[test]
    fn the_checkpoint_moves_only_when_stored() {
        let mut positions = Positions::new(Some(at(1, 10, 0)));
        let next = positions.after(1, pos(20, 0), 3, Some(7));
        positions.take(next);
        assert_eq!(positions.applied(), Some(at(1, 10, 0)));
        positions.stored(next);
        assert_eq!(positions.applied(), Some(next));
        assert_eq!(positions.to_store(), None, "nothing new to store");
        assert_eq!(next.db, 3);
        assert_eq!(next.log_offset, Some(7));
    }

    #[test]
    fn an_epoch_keeps_its_snapshot_state_and_a_new_one_drops_it() {
        let mut applied = at(4, 50, 0);
        applied.snapshot_done = true;
        applied.sweep_from = Some(12);
        let positions = Positions::new(Some(applied));
        let same = positions.after(4, pos(60, 0), 0, None);
        assert!(same.snapshot_done);
        assert_eq!(same.sweep_from, Some(12));
        let next_epoch = positions.after(5, pos(0, 0), 0, None);
        assert!(!next_epoch.snapshot_done);
        assert_eq!(next_epoch.sweep_from, None);
    }

    #[test]
    fn a_pending_checkpoint_behind_the_applied_one_does_not_hide_it() {
        // A barrier stored by another partition can move `applied` past what this
        // partition's batch last took.
        let mut positions = Positions::new(None);
        positions.take(at(1, 10, 0));
        positions.stored(at(1, 30, 0));
        assert_eq!(positions.last_taken(), Some(at(1, 30, 0)));
        assert!(!positions.is_new(1, pos(20, 0)));
    }
}
