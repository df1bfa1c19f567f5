//! A partition's records form one history: one source, epochs that never go back, and each
//! epoch opening with its `EpochBegin` (the producer writes it into every partition before any
//! other record of the epoch, and numbers a new epoch past every earlier one). A record that
//! breaks it stops the partition before anything of it is applied, instead of being mixed in
//! or skipped: another producer on the topic, one that started its epochs over, or a log that
//! is not the one the checkpoints came from (the topic was created again, or its broker lost
//! its data, and the consumer reads on from its checkpoints into records of a new epoch).
//!
//! The epoch rules are checked against the epoch last *read*, copies included, not the last
//! applied: on a cluster a restarted partition may skip an `EpochBegin` its slots' checkpoints
//! cover, and still must not take the epoch's next record for a stray one.

use super::Lane;
use crate::error::{ApplyError, StrayRecord};
use slotstream_schemas::{Body, Record};

impl Lane {
    /// Refuses a record of another source than the partition's, of an epoch older than the one
    /// the partition has read, or of a newer one that did not open with its `EpochBegin`. The
    /// first record of a partition without a stored source names it; without a checkpoint, the
    /// first record read sets the epoch (older ones may have aged out of the log).
    pub(super) fn check_lineage(
        &mut self,
        record: &Record,
        log_offset: Option<i64>,
    ) -> Result<(), ApplyError> {
        let log = self.ctx.log_name.clone();
        let partition = self.partition;
        let offset = log_offset.map_or_else(|| "unknown".to_string(), |o| o.to_string());
        match &self.source {
            Some(expected) if *expected != record.source => {
                return Err(ApplyError::Stray(Box::new(StrayRecord::OtherSource {
                    log,
                    partition,
                    offset,
                    expected: expected.clone(),
                    found: record.source.clone(),
                })));
            }
            Some(_) => {}
            None => self.source = Some(record.source.clone()),
        }
        let read = self
            .epoch_read
            .replace(record.epoch.max(self.epoch_read.unwrap_or(0)));
        match read {
            Some(reached) if record.epoch < reached => {
                Err(ApplyError::Stray(Box::new(StrayRecord::OlderEpoch {
                    log,
                    partition,
                    offset,
                    found: record.epoch,
                    applied: reached,
                })))
            }
            Some(reached)
                if record.epoch > reached && !matches!(record.body, Body::EpochBegin(_)) =>
            {
                Err(ApplyError::Stray(Box::new(StrayRecord::UnannouncedEpoch {
                    log,
                    partition,
                    offset,
                    found: record.epoch,
                    applied: reached,
                })))
            }
            _ => Ok(()),
        }
    }
}
