//! The batches of one partition's round trip: one for a standalone destination; on a cluster,
//! one per hash slot, because a transaction there may only hold keys of one slot (and a shared
//! `MSET` only keys of one slot).

use crate::batch::{Batch, Limits, Tally};
use slotstream_schemas::log::Lease;
use std::collections::BTreeMap;

/// A partition's batches.
pub struct Batches {
    cluster: bool,
    /// The batch of a standalone destination.
    one: Batch,
    /// On a cluster: the batch of each slot written since the last commit.
    slots: BTreeMap<u16, Batch>,
    /// On a cluster: commands for every primary (function libraries, `FLUSHALL`).
    every_node: Batch,
    /// On a cluster: commands, bytes and writes over all slot batches.
    totals: (usize, usize, usize),
    /// Log space the records hold until the batches are applied.
    leases: Vec<Lease>,
}

impl Batches {
    pub fn new(cluster: bool) -> Self {
        Self {
            cluster,
            one: Batch::default(),
            slots: BTreeMap::new(),
            every_node: Batch::default(),
            totals: (0, 0, 0),
            leases: Vec::new(),
        }
    }

    /// Whether the destination is a cluster (a batch per slot).
    pub fn cluster(&self) -> bool {
        self.cluster
    }

    /// Runs `write` on the batch the records of `slot` go to.
    pub fn with<R>(&mut self, slot: u16, write: impl FnOnce(&mut Batch) -> R) -> R {
        if !self.cluster {
            return write(&mut self.one);
        }
        let batch = self.slots.entry(slot).or_default();
        let before = (batch.len(), batch.byte_len(), batch.writes());
        let result = write(batch);
        let after = (batch.len(), batch.byte_len(), batch.writes());
        self.totals.0 += after.0 - before.0;
        self.totals.1 += after.1.saturating_sub(before.1);
        self.totals.2 += after.2 - before.2;
        result
    }

    /// Runs `write` on the batch whose commands go to every primary of a cluster (the one
    /// batch of a standalone destination).
    pub fn with_every_node<R>(&mut self, write: impl FnOnce(&mut Batch) -> R) -> R {
        if self.cluster {
            write(&mut self.every_node)
        } else {
            write(&mut self.one)
        }
    }

    /// The batch of a standalone destination.
    pub fn one(&mut self) -> &mut Batch {
        &mut self.one
    }

    /// On a cluster: the batch for every primary.
    pub fn every_node(&mut self) -> &mut Batch {
        &mut self.every_node
    }

    /// On a cluster: the slot batches that hold commands, in slot order.
    pub fn slots_mut(&mut self) -> impl Iterator<Item = (u16, &mut Batch)> {
        self.slots.iter_mut().map(|(slot, batch)| (*slot, batch))
    }

    /// Keeps a record's log space until the batches are applied.
    pub fn hold(&mut self, lease: Option<Lease>) {
        self.leases.extend(lease);
    }

    pub fn is_empty(&self) -> bool {
        if self.cluster {
            self.totals.0 == 0 && self.every_node.is_empty()
        } else {
            self.one.is_empty()
        }
    }

    /// Whether applying every batch again is harmless (see [`Batch::replayable`]).
    pub fn replayable(&self) -> bool {
        self.one.replayable()
            && self.every_node.replayable()
            && self.slots.values().all(Batch::replayable)
    }

    /// Whether another record may join.
    pub fn has_room(&self, limits: &Limits) -> bool {
        if !self.cluster {
            return self.one.has_room(limits);
        }
        let (commands, bytes, writes) = self.totals;
        commands < limits.commands
            && bytes < limits.bytes
            && limits.writes.is_none_or(|most| writes < most)
    }

    /// The records' tally over every batch.
    pub fn tally(&self) -> Tally {
        let mut tally = self.one.tally;
        for batch in self.slots.values().chain([&self.every_node]) {
            tally.records += batch.tally.records;
            tally.commands += batch.tally.commands;
            tally.snapshot_keys += batch.tally.snapshot_keys;
        }
        tally
    }

    /// Empties every batch for the next round trip (their records are applied or abandoned)
    /// and frees the records' log space; returns their tally.
    pub fn clear(&mut self) -> Tally {
        let tally = self.tally();
        self.one.clear();
        self.every_node.clear();
        self.slots.clear();
        self.totals = (0, 0, 0);
        self.leases.clear();
        tally
    }
}
