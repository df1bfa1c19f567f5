//! Turns replicated commands into records and decides where each goes, as ARCHITECTURE.md says:
//! single-slot commands to their slot's partition; `MSET`, `MSETNX`, `DEL` and `UNLINK` split per
//! slot; any other command or `MULTI … EXEC` block that spans slots, and every keyless command
//! that changes state (`FLUSHALL`, `FLUSHDB`, `SWAPDB`, `SCRIPT`, `FUNCTION`), as a barrier in
//! every partition involved.

mod control;
mod keep;

use crate::error::CaptureError;
use crate::fork::StreamTail;
use crate::keys::CommandTable;
use slotstream_schemas::filter::KeyFilter;
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::name::Name;
use slotstream_schemas::now_ms;
use slotstream_schemas::slot::{key_slot, partition_for_slot, NO_SLOT};
use slotstream_schemas::{Barrier, Body, Command, Element, Position, Record};
use std::collections::BTreeMap;

/// Index of heartbeats: after every part of a split command at the same offset.
pub const HEARTBEAT_INDEX: u64 = Position::LAST_INDEX;

/// Where a run of the router writes, and what it calls itself.
pub struct Router {
    table: CommandTable,
    source: String,
    epoch: u64,
    partitions: u32,
    forward_publish: bool,
    db: u32,
    /// An open `MULTI` block, held until its `EXEC`.
    block: Option<Block>,
    addr: String,
    /// The source is one shard of a cluster ([`Router::of_shard`]).
    shard: bool,
    /// What the stream held after its last change ([`Router::following`]).
    tail: Option<StreamTail>,
    /// The databases and keys captured ([`Router::filtered`]).
    filter: KeyFilter,
    /// When the source wrote what is routed next ([`Router::written_at`]); `None`: now.
    written_ms: Option<i64>,
    /// Which partitions need a heartbeat ([`Router::heartbeat`]).
    heartbeats: control::Heartbeats,
}

/// A `MULTI` block being collected.
struct Block {
    /// Stream offset before the `MULTI`.
    start: u64,
    /// The database selected when it began (a `SELECT` inside is one of its commands).
    db: u32,
    commands: Vec<Vec<Vec<u8>>>,
}

/// How one command (or block) is routed.
enum Route {
    /// Nothing to apply (liveness, bookkeeping, or not forwarded).
    Drop,
    /// One record in one partition.
    Single { slot: u16 },
    /// One part per slot, each a command of its own.
    Split(Vec<(u16, Vec<Vec<u8>>)>),
    /// One barrier copy in each listed partition.
    Barrier(Vec<u32>),
}

impl Router {
    pub fn new(
        table: CommandTable,
        source: String,
        epoch: u64,
        partitions: u32,
        db: u32,
        forward_publish: bool,
        addr: String,
    ) -> Self {
        Self {
            table,
            source,
            epoch,
            partitions,
            forward_publish,
            db,
            block: None,
            addr,
            shard: false,
            tail: None,
            filter: KeyFilter::default(),
            written_ms: None,
            heartbeats: control::Heartbeats::new(partitions),
        }
    }

    /// Dates the records of what is routed next: the source wrote it by `ms` (Unix ms, from
    /// [`crate::source_clock`]), or just now when `None`.
    pub fn written_at(&mut self, ms: Option<i64>) {
        self.written_ms = ms;
    }

    /// Captures only what `filter` keeps.
    pub fn filtered(mut self, filter: KeyFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Keeps the [`StreamTail`] of history `replid` from `offset` on, where the run begins to
    /// follow (with the database given to [`Router::new`] selected).
    pub fn following(mut self, replid: &str, offset: u64) -> Self {
        self.tail = Some(StreamTail::at(replid.to_string(), offset, self.db));
        self
    }

    /// What the stream held after its last change, when [`Router::following`] set it up.
    pub fn tail(&self) -> Option<&StreamTail> {
        self.tail.as_ref()
    }

    /// A command ending at `end` changed something, or might have.
    fn changed(&mut self, end: u64) {
        let db = self.db;
        if let Some(tail) = &mut self.tail {
            tail.changed(end, db);
        }
    }

    /// A command ending at `end` changed nothing the log holds.
    fn read_only(&mut self, end: u64) {
        if let Some(tail) = &mut self.tail {
            tail.read(end);
        }
    }

    /// Routes the stream of one shard of a cluster: commands that would reach past the shard's
    /// slots on the target stop the capture ([`Router::command`]).
    pub fn of_shard(mut self, shard: bool) -> Self {
        self.shard = shard;
        self
    }

    /// The database the stream has selected.
    pub fn db(&self) -> u32 {
        self.db
    }

    /// The offset up to which every command has been written to the log: before an open
    /// `MULTI` block, whose commands are held until its `EXEC`.
    pub fn safe_offset(&self, offset: u64) -> u64 {
        self.block.as_ref().map_or(offset, |block| block.start)
    }

    /// Handles one command that ends at stream offset `end` (and started at `start`).
    pub fn command<W: LogWriter>(
        &mut self,
        args: Vec<Vec<u8>>,
        start: u64,
        end: u64,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        let name = Name::of_command(&args);
        // The source's own liveness traffic changes nothing and passes no partition.
        if let b"PING" | b"REPLCONF" = name.as_bytes() {
            self.read_only(end);
            return Ok(());
        }
        self.heartbeats.source_wrote();
        match name.as_bytes() {
            b"SELECT" => {
                self.db = parse_db(&args)
                    .ok_or_else(|| self.protocol("SELECT without a database number"))?;
                if let Some(tail) = &mut self.tail {
                    tail.selected(end, self.db);
                }
                if let Some(block) = &mut self.block {
                    block.commands.push(args);
                }
                return Ok(());
            }
            b"MULTI" => {
                self.changed(end);
                self.block = Some(Block {
                    start,
                    db: self.db,
                    commands: Vec::new(),
                });
                return Ok(());
            }
            b"EXEC" => {
                let Some(block) = self.block.take() else {
                    return Err(self.protocol("EXEC without MULTI"));
                };
                self.changed(end);
                return self.write_block(block, end, log);
            }
            b"RESTORE-ASKING" if self.shard => {
                return Err(CaptureError::SlotsMoved {
                    addr: self.addr.clone(),
                    what: "RESTORE-ASKING: a key is moving to this shard".into(),
                });
            }
            // A shard's flush alone is applied by its effect (the consumer empties the shard's
            // slots); inside a block, or a swap, it cannot be.
            b"FLUSHALL" | b"FLUSHDB" | b"SWAPDB"
                if self.shard && (self.block.is_some() || name.as_bytes() == b"SWAPDB") =>
            {
                return Err(CaptureError::Unsupported {
                    addr: self.addr.clone(),
                    what: format!(
                        "{} on a shard of a cluster source, {}, cannot be applied yet: on the \
                         target it would reach the keys of the other shards too. Start a new \
                         copy (with an emptied target) after it",
                        String::from_utf8_lossy(name.as_bytes()),
                        if self.block.is_some() {
                            "inside a MULTI block"
                        } else {
                            "alone"
                        }
                    ),
                });
            }
            _ => {}
        }
        if let Some(block) = &mut self.block {
            block.commands.push(args);
            self.changed(end);
            return Ok(());
        }
        let Some(args) = self.keep(&name, self.db, args)? else {
            self.read_only(end);
            return Ok(());
        };
        let route = self.route(&name, &args)?;
        match route {
            Route::Drop => self.read_only(end),
            _ => self.changed(end),
        }
        self.write(route, args, end, log)
    }

    fn route(&self, name: &[u8], args: &[Vec<u8>]) -> Result<Route, CaptureError> {
        match name {
            b"PUBLISH" | b"SPUBLISH" if !self.forward_publish => return Ok(Route::Drop),
            b"PUBLISH" | b"SPUBLISH" => return Ok(Route::Single { slot: 0 }),
            _ if is_global(name) => return Ok(Route::Barrier(self.all_partitions())),
            _ => {}
        }
        let indices = self.key_indices(args)?;
        let Some(&first) = indices.first() else {
            // A keyless command that changes state: ordered against every partition.
            return Ok(Route::Barrier(self.all_partitions()));
        };
        let slot = key_slot(&args[first]);
        if indices.iter().all(|&i| key_slot(&args[i]) == slot) {
            return Ok(Route::Single { slot });
        }
        if let Some(parts) = split(name, args, &indices) {
            return Ok(Route::Split(parts));
        }
        Ok(Route::Barrier(
            self.partitions_of(indices.iter().map(|&i| &args[i][..])),
        ))
    }

    fn key_indices(&self, args: &[Vec<u8>]) -> Result<Vec<usize>, CaptureError> {
        self.table.key_indices(args).map_err(|e| {
            self.protocol(&format!(
                "cannot find the keys of a replicated command: {e}"
            ))
        })
    }

    fn write<W: LogWriter>(
        &mut self,
        route: Route,
        args: Vec<Vec<u8>>,
        end: u64,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        let db = self.db;
        match route {
            Route::Drop => {}
            Route::Single { slot } => {
                let partition = partition_for_slot(slot, self.partitions);
                let body = Body::Command(command(args));
                let record = self.record(end, 0, slot, db, body);
                self.append(partition, record, log)?;
            }
            Route::Split(parts) => {
                for (index, (slot, part)) in parts.into_iter().enumerate() {
                    let partition = partition_for_slot(slot, self.partitions);
                    let body = Body::Command(command(part));
                    let record = self.record(end, index as u64, slot, db, body);
                    self.append(partition, record, log)?;
                }
            }
            Route::Barrier(partitions) => {
                // A barrier of one command spans slots, or names no key.
                self.write_barrier(partitions, vec![command(args)], NO_SLOT, db, end, log)?;
            }
        }
        Ok(())
    }

    /// A `MULTI … EXEC` block: one barrier (in one partition when all its keys share one).
    fn write_block<W: LogWriter>(
        &mut self,
        block: Block,
        end: u64,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        let Block { db, commands, .. } = block;
        // What the filter keeps of each command, in the database selected where it runs.
        let mut kept = Vec::with_capacity(commands.len());
        let mut selected = db;
        for args in commands {
            let name = Name::of_command(&args);
            if name.as_bytes() == b"SELECT" {
                selected = parse_db(&args).unwrap_or(selected);
            }
            if let Some(args) = self.keep(&name, selected, args)? {
                kept.push(args);
            }
        }
        let commands = kept;
        let mut partitions = Vec::new();
        // The slots the block's keyed commands name (one: the block fits a cluster's
        // transaction); `None` once a command spans slots.
        let mut slots: Vec<u16> = Vec::new();
        let mut spans_slots = false;
        for args in &commands {
            let name = Name::of_command(args);
            match self.route(&name, args)? {
                Route::Drop => {}
                Route::Single { slot } => {
                    slots.push(slot);
                    partitions.push(partition_for_slot(slot, self.partitions))
                }
                Route::Split(parts) => {
                    for (slot, _) in &parts {
                        slots.push(*slot);
                        partitions.push(partition_for_slot(*slot, self.partitions));
                    }
                }
                Route::Barrier(all) => {
                    spans_slots = true;
                    partitions.extend(all)
                }
            }
        }
        let slot = match &slots[..] {
            [first, rest @ ..] if !spans_slots && rest.iter().all(|s| s == first) => *first,
            _ => NO_SLOT,
        };
        partitions.sort_unstable();
        partitions.dedup();
        if partitions.is_empty() {
            return Ok(());
        }
        let commands = commands.into_iter().map(command).collect();
        self.write_barrier(partitions, commands, slot, db, end, log)
    }

    /// A barrier copy in each of `partitions`; `slot` is the one slot its keys share, or
    /// [`NO_SLOT`] (a cluster target applies the first as that slot's transaction).
    fn write_barrier<W: LogWriter>(
        &mut self,
        partitions: Vec<u32>,
        commands: Vec<Command>,
        slot: u16,
        db: u32,
        end: u64,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        let barrier = Barrier {
            partitions: partitions.clone(),
            commands,
        };
        for &partition in &partitions {
            let body = Body::Barrier(barrier.clone());
            let record = self.record(end, 0, slot, db, body);
            self.append(partition, record, log)?;
        }
        Ok(())
    }

    fn all_partitions(&self) -> Vec<u32> {
        (0..self.partitions).collect()
    }

    fn partitions_of<'a>(&self, keys: impl Iterator<Item = &'a [u8]>) -> Vec<u32> {
        let mut partitions: Vec<u32> = keys
            .map(|key| partition_for_slot(key_slot(key), self.partitions))
            .collect();
        partitions.sort_unstable();
        partitions.dedup();
        partitions
    }

    fn record(&self, offset: u64, index: u64, slot: u16, db: u32, body: Body) -> Record {
        Record {
            source: self.source.clone(),
            epoch: self.epoch,
            position: Position { offset, index },
            db,
            slot,
            capture_ms: self.written_ms.unwrap_or_else(now_ms),
            body,
        }
    }

    fn protocol(&self, what: &str) -> CaptureError {
        CaptureError::Protocol {
            addr: self.addr.clone(),
            what: what.to_string(),
        }
    }
}

/// Commands that change state without keys: ordered against every partition.
fn is_global(name: &[u8]) -> bool {
    matches!(
        name,
        b"FLUSHALL" | b"FLUSHDB" | b"SWAPDB" | b"SCRIPT" | b"FUNCTION"
    )
}

/// Splits a multi-slot `MSET`, `MSETNX`, `DEL` or `UNLINK` into one command per slot, in the
/// order the slots first appear. `None` for any other command.
fn split(name: &[u8], args: &[Vec<u8>], indices: &[usize]) -> Option<Vec<(u16, Vec<Vec<u8>>)>> {
    let pairs = match name {
        b"MSET" | b"MSETNX" => true,
        b"DEL" | b"UNLINK" => false,
        _ => return None,
    };
    let mut parts: BTreeMap<u16, (usize, Vec<Vec<u8>>)> = BTreeMap::new();
    for (order, &index) in indices.iter().enumerate() {
        let slot = key_slot(&args[index]);
        let part = parts
            .entry(slot)
            .or_insert_with(|| (order, vec![args[0].clone()]));
        part.1.push(args[index].clone());
        if pairs {
            part.1.push(args.get(index + 1)?.clone());
        }
    }
    let mut parts: Vec<(usize, u16, Vec<Vec<u8>>)> = parts
        .into_iter()
        .map(|(slot, (order, part))| (order, slot, part))
        .collect();
    parts.sort_by_key(|(order, ..)| *order);
    Some(
        parts
            .into_iter()
            .map(|(_, slot, part)| (slot, part))
            .collect(),
    )
}

fn command(args: Vec<Vec<u8>>) -> Command {
    Command {
        args: args.into_iter().map(Element).collect(),
    }
}

fn parse_db(args: &[Vec<u8>]) -> Option<u32> {
    std::str::from_utf8(args.get(1)?).ok()?.parse().ok()
}
