//! The records every partition gets from the router whatever the stream holds: heartbeats
//! (idle partitions' checkpoints move along, lag is measured) and forks (the source's history
//! parted after a failover).
//!
//! A partition gets a heartbeat only when it needs one, checked every tick (100 ms): on the
//! first tick of a run; when the source wrote something (any command but its own `PING` and
//! `REPLCONF`) and moved past the partition's last record, so its checkpoint follows the stream
//! although none of its keys changed; when only the source's liveness traffic moved it past,
//! once the partition had no record for [`LIVENESS_TICKS`] (so `slotstream status` of an idle
//! copy is caught up a moment after each `PING`, and a short `repl-ping-replica-period` cannot
//! make heartbeats frequent); and after [`IDLE_TICKS`] without any record, so an idle source's
//! lag is still measured. A partition whose own records carry it needs none. An idle topic
//! with the default 10 s `PING` gets one round of heartbeats (one per partition) about every
//! 10 s, never more than one every 5 s, where it got one every 100 ms.

use super::{Router, HEARTBEAT_INDEX};
use crate::error::CaptureError;
use crate::fork::ForkPoint;
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::{Body, Fork, Heartbeat, Record};

/// Ticks (of 100 ms at least) a partition goes without any record before it gets a heartbeat.
pub const IDLE_TICKS: u64 = 100;

/// Ticks a partition goes without any record before the source's liveness traffic alone
/// (`PING`, `REPLCONF`) gets it a heartbeat.
pub const LIVENESS_TICKS: u64 = 50;

/// What the heartbeat rule remembers of each partition.
#[derive(Debug, Default)]
pub(super) struct Heartbeats {
    /// Per partition: the offset of its last record and the tick it was written in (`None`:
    /// nothing yet in this run).
    last: Vec<(u64, Option<u64>)>,
    /// Heartbeat ticks so far.
    tick: u64,
    /// The source wrote something since the last tick.
    busy: bool,
}

impl Heartbeats {
    pub(super) fn new(partitions: u32) -> Heartbeats {
        Heartbeats {
            last: vec![(0, None); partitions as usize],
            tick: 0,
            busy: false,
        }
    }

    /// A command that is not the source's own liveness traffic arrived.
    pub(super) fn source_wrote(&mut self) {
        self.busy = true;
    }

    /// A record at `offset` went to `partition`.
    fn wrote(&mut self, partition: u32, offset: u64) {
        if let Some(last) = self.last.get_mut(partition as usize) {
            *last = (offset, Some(self.tick));
        }
    }

    /// Whether `partition` needs a heartbeat at `offset` on this tick.
    fn needs(&self, partition: u32, offset: u64) -> bool {
        match self.last.get(partition as usize) {
            Some(&(at, Some(tick))) => {
                let quiet = self.tick - tick;
                (at < offset && (self.busy || quiet >= LIVENESS_TICKS)) || quiet >= IDLE_TICKS
            }
            _ => true,
        }
    }
}

impl Router {
    /// Appends `record` to `partition` and remembers it for the heartbeat rule.
    pub(super) fn append<W: LogWriter>(
        &mut self,
        partition: u32,
        record: Record,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        let offset = record.position.offset;
        log.append(partition, record)?;
        self.heartbeats.wrote(partition, offset);
        Ok(())
    }

    /// Writes a [`Fork`] to every partition: the source's history parted at `to`, and the
    /// records that follow reuse the positions past it.
    pub fn fork<W: LogWriter>(&mut self, to: ForkPoint, log: &mut W) -> Result<(), CaptureError> {
        let fork = Fork {
            offset: to.offset,
            db: to.db,
        };
        for partition in 0..self.partitions {
            let body = Body::Fork(fork);
            let record = self.record(to.offset, HEARTBEAT_INDEX, 0, to.db, body);
            self.append(partition, record, log)?;
        }
        Ok(())
    }

    /// One heartbeat tick (every 100 ms): a heartbeat, positioned after every record of
    /// `offset`, to each partition that needs one (see the module's rule). Returns how many.
    pub fn heartbeat<W: LogWriter>(
        &mut self,
        offset: u64,
        log: &mut W,
    ) -> Result<u32, CaptureError> {
        self.heartbeats.tick += 1;
        let mut sent = 0;
        for partition in 0..self.partitions {
            if !self.heartbeats.needs(partition, offset) {
                continue;
            }
            let body = Body::Heartbeat(Heartbeat {
                source_offset: offset,
            });
            let record = self.record(offset, HEARTBEAT_INDEX, 0, self.db, body);
            self.append(partition, record, log)?;
            sent += 1;
        }
        self.heartbeats.busy = false;
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_needs_a_heartbeat_first_when_passed_by_writes_and_when_idle() {
        let mut beats = Heartbeats::new(2);
        assert!(beats.needs(0, 100), "the first tick of a run");
        beats.wrote(0, 100);
        beats.wrote(1, 100);
        beats.tick += 1;
        assert!(!beats.needs(0, 100), "nothing moved");
        assert!(
            !beats.needs(0, 114),
            "only the source's PING moved the offset, just now"
        );
        beats.source_wrote();
        beats.wrote(1, 150);
        assert!(beats.needs(0, 150), "writes elsewhere passed partition 0");
        assert!(!beats.needs(1, 150), "partition 1's own record carries it");
        beats.busy = false;
        // Partition 0's last record was written on tick 0.
        beats.tick = LIVENESS_TICKS - 1;
        assert!(!beats.needs(0, 150));
        assert!(!beats.needs(0, 100));
        beats.tick = LIVENESS_TICKS;
        assert!(
            beats.needs(0, 150),
            "a PING passed it, and it was quiet long enough"
        );
        assert!(
            !beats.needs(0, 100),
            "nothing passed it, and it is not idle yet"
        );
        beats.tick = IDLE_TICKS;
        assert!(beats.needs(0, 100), "idle for IDLE_TICKS ticks");
    }
}
