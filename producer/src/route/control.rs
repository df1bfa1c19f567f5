//! The records every partition gets from the router whatever the stream holds: heartbeats
//! (idle partitions' checkpoints move along, lag is measured) and forks (the source's history
//! parted after a failover).

use super::{Router, HEARTBEAT_INDEX};
use crate::error::CaptureError;
use crate::fork::ForkPoint;
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::{Body, Fork, Heartbeat};

impl Router {
    /// Writes a [`Fork`] to every partition: the source's history parted at `to`, and the
    /// records that follow reuse the positions past it.
    pub fn fork<W: LogWriter>(&mut self, to: ForkPoint, log: &mut W) -> Result<(), CaptureError> {
        let fork = Fork {
            offset: to.offset,
            db: to.db,
        };
        for partition in 0..self.partitions {
            let body = Body::Fork(fork);
            log.append(
                partition,
                self.record(to.offset, HEARTBEAT_INDEX, 0, to.db, body),
            )?;
        }
        Ok(())
    }

    /// Writes a heartbeat to every partition, positioned after every record of `offset`.
    pub fn heartbeat<W: LogWriter>(
        &mut self,
        offset: u64,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        for partition in 0..self.partitions {
            let body = Body::Heartbeat(Heartbeat {
                source_offset: offset,
            });
            log.append(
                partition,
                self.record(offset, HEARTBEAT_INDEX, 0, self.db, body),
            )?;
        }
        Ok(())
    }
}
