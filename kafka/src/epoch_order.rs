//! The order of epochs along one partition of the data topic, checked as records are read.
//!
//! Invariant of a log the producer wrote: epochs only grow along a partition, and every epoch
//! opens with its `EpochBegin` in each partition (the producer writes it there before any other
//! record of the epoch, and numbers a new epoch past every one before it). A consumer that
//! starts after its checkpoint knows the epoch it applied last, so a record of an older epoch,
//! or of a newer one whose `EpochBegin` it never read, means the topic is not the log it was
//! reading: it was deleted and created again, its broker lost its data, or a second producer
//! writes it. The exactly-once rule would skip the first as a copy and apply the second past a
//! hole, both silently; the reader stops at such a record instead, and nothing from it on is
//! applied.

use slotstream_schemas::{Body, Record};

/// The last epoch read in a partition, or the one its checkpoint holds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EpochOrder {
    last: Option<u64>,
}

/// How a record broke the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broken {
    /// A record of `epoch`, older than `last`.
    Older { epoch: u64, last: u64 },
    /// The first record of `epoch`, newer than `last`, is not its `EpochBegin`.
    Unannounced { epoch: u64, last: u64 },
}

impl EpochOrder {
    /// A partition read from its checkpoint, which holds `epoch` (`None`: read from the start,
    /// where the first record read sets the epoch, since older ones may have aged out).
    pub(crate) fn starting_at(epoch: Option<u64>) -> Self {
        Self { last: epoch }
    }

    /// Checks the next record of the partition and moves on to its epoch.
    pub(crate) fn check(&mut self, record: &Record) -> Result<(), Broken> {
        let epoch = record.epoch;
        if let Some(last) = self.last {
            if epoch < last {
                return Err(Broken::Older { epoch, last });
            }
            if epoch > last && !matches!(record.body, Body::EpochBegin(_)) {
                return Err(Broken::Unannounced { epoch, last });
            }
        }
        self.last = Some(epoch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_schemas::{EpochBegin, Heartbeat, Position, SnapshotEnd};

    fn record(epoch: u64, body: Body) -> Record {
        Record {
            source: "s".into(),
            epoch,
            position: Position {
                offset: 1,
                index: 0,
            },
            db: 0,
            slot: 0,
            capture_ms: 0,
            body,
        }
    }

    fn begin(epoch: u64) -> Record {
        let begin = EpochBegin {
            replid: "r".into(),
            offset: 1,
            partitions: 1,
            rdb_version: 11,
            source_version: "redis 7.0.15".into(),
            modules: Vec::new(),
            field_ttl_hashes: Vec::new(),
            field_ttl_examples: Vec::new(),
        };
        record(epoch, Body::EpochBegin(begin))
    }

    fn other(epoch: u64) -> Record {
        record(epoch, Body::Heartbeat(Heartbeat { source_offset: 1 }))
    }

    fn end(epoch: u64) -> Record {
        record(epoch, Body::SnapshotEnd(SnapshotEnd { records: 0 }))
    }

    #[test]
    fn a_log_read_from_its_start_takes_its_first_epoch_as_it_comes() {
        let mut order = EpochOrder::starting_at(None);
        assert_eq!(order.check(&other(3)), Ok(()));
        assert_eq!(order.check(&other(3)), Ok(()));
        assert_eq!(order.check(&begin(4)), Ok(()));
        assert_eq!(order.check(&other(4)), Ok(()));
    }

    #[test]
    fn a_new_epoch_opens_with_its_begin() {
        let mut order = EpochOrder::starting_at(Some(2));
        assert_eq!(order.check(&other(2)), Ok(()));
        assert_eq!(
            order.check(&other(5)),
            Err(Broken::Unannounced { epoch: 5, last: 2 })
        );
        assert_eq!(order.check(&begin(5)), Ok(()));
        assert_eq!(order.check(&end(5)), Ok(()));
        // The same epoch's begin again (a producer that re-sent it) is no break.
        assert_eq!(order.check(&begin(5)), Ok(()));
    }

    #[test]
    fn an_older_epoch_after_a_newer_one_breaks_the_order() {
        let mut order = EpochOrder::starting_at(Some(7));
        assert_eq!(
            order.check(&begin(6)),
            Err(Broken::Older { epoch: 6, last: 7 })
        );
        let mut order = EpochOrder::starting_at(None);
        assert_eq!(order.check(&begin(1)), Ok(()));
        assert_eq!(order.check(&begin(2)), Ok(()));
        assert_eq!(
            order.check(&other(1)),
            Err(Broken::Older { epoch: 1, last: 2 })
        );
    }
}
