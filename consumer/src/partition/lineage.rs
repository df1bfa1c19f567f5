//! A partition's records form one history: one source, epochs that never go back. A record
//! that breaks it (another producer on the topic, or one that started its epochs over) stops
//! the partition before anything of it is applied, instead of being mixed in or skipped.

use super::Lane;
use crate::error::{ApplyError, StrayRecord};
use slotstream_schemas::Record;

impl Lane {
    /// Refuses a record of another source than the partition's, or of an epoch older than the
    /// one the partition has reached. The first record of a partition without a stored source
    /// names it.
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
        match self.positions.last_taken() {
            Some(reached) if record.epoch < reached.epoch => {
                Err(ApplyError::Stray(Box::new(StrayRecord::OlderEpoch {
                    log,
                    partition,
                    offset,
                    found: record.epoch,
                    applied: reached.epoch,
                })))
            }
            _ => Ok(()),
        }
    }
}
