//! Turns the entries of an RDB snapshot into records: `EpochBegin` in every partition, one
//! `SnapshotKey` per key in its slot's partition, then `SnapshotEnd` in every partition.

use crate::error::CaptureError;
use crate::source_facts::SourceFacts;
use crate::stats::CaptureStats;
use slotstream_rdb::{ChunkEntry, Entry, KeyEntry, RdbReader};
use slotstream_schemas::filter::KeyFilter;
use slotstream_schemas::log::LogWriter;
pub use slotstream_schemas::now_ms;
use slotstream_schemas::slot::{key_slot, partition_for_slot};
use slotstream_schemas::{
    Body, EpochBegin, Function, Position, Record, SnapshotChunk, SnapshotEnd, SnapshotKey,
};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};

/// The epoch a snapshot opens.
#[derive(Debug, Clone)]
pub struct EpochInfo {
    pub source: String,
    /// Where the source is, for errors.
    pub source_addr: String,
    pub epoch: u64,
    pub replid: String,
    /// Replication offset of the snapshot (from `+FULLRESYNC`).
    pub offset: u64,
    /// What the source holds that some targets cannot.
    pub facts: SourceFacts,
    /// The databases and keys the snapshot keeps.
    pub filter: KeyFilter,
}

/// What a snapshot contained.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSummary {
    pub rdb_version: u16,
    pub source_version: String,
    pub keys: u64,
    /// Keys the filter left out.
    pub left_out: u64,
    pub functions: u64,
    pub bytes: u64,
    pub records_per_partition: Vec<u64>,
}

/// Reads the whole snapshot from `rdb` and appends its records to `log`. Checks `stop` before
/// each entry: a stop ends it with [`CaptureError::Stopped`] and no `SnapshotEnd`, so the
/// epoch stays incomplete and the next run takes a new one.
pub fn stream_snapshot<R: Read, W: LogWriter>(
    rdb: &mut RdbReader<R>,
    log: &mut W,
    epoch: &EpochInfo,
    stats: &CaptureStats,
    stop: &AtomicBool,
) -> Result<SnapshotSummary, CaptureError> {
    let source_addr = &epoch.source_addr;
    let rdb_error = |cause| CaptureError::Rdb {
        addr: source_addr.to_string(),
        cause,
    };
    let header = rdb.read_header().map_err(rdb_error)?;
    let partitions = log.partitions();
    let mut writer = SnapshotWriter {
        log,
        epoch,
        summary: SnapshotSummary {
            rdb_version: header.version,
            source_version: if header.valkey { "valkey" } else { "redis" }.to_string(),
            records_per_partition: vec![0; partitions as usize],
            ..Default::default()
        },
        index: 0,
        opened: false,
    };
    while let Some(entry) = rdb.next_entry().map_err(rdb_error)? {
        if stop.load(Ordering::Relaxed) {
            tracing::info!(
                keys = writer.summary.keys,
                read_bytes = rdb.position(),
                "stopped in the middle of the snapshot"
            );
            return Err(CaptureError::Stopped {
                during: "the snapshot",
            });
        }
        stats.rdb_bytes.store(rdb.position(), Ordering::Relaxed);
        match entry {
            Entry::Aux { key, value } => writer.note_aux(&key, &value),
            Entry::Key(key) => {
                writer.open()?;
                if epoch.filter.keeps_entry(key.db, &key.key, key.rdb_type) {
                    writer.key(key)?;
                } else {
                    writer.summary.left_out += 1;
                }
                stats.keys.fetch_add(1, Ordering::Relaxed);
            }
            Entry::Chunk(chunk) => {
                writer.open()?;
                if chunk.last {
                    stats.keys.fetch_add(1, Ordering::Relaxed);
                }
                if epoch
                    .filter
                    .keeps_entry(chunk.db, &chunk.key, chunk.rdb_type)
                {
                    writer.chunk(chunk)?;
                } else if chunk.last {
                    writer.summary.left_out += 1;
                }
            }
            Entry::Function { code } => {
                writer.open()?;
                writer.function(code)?;
            }
            Entry::ModuleAux { module, bytes, .. } => tracing::warn!(
                module = %module,
                bytes,
                "the snapshot holds module auxiliary data (for example search index \
                 definitions); it is not copied: recreate it on the target"
            ),
            Entry::SelectDb { db } => tracing::debug!(db, "snapshot database"),
            Entry::ResizeDb { keys, expires } => {
                tracing::debug!(keys, expires, "snapshot database size")
            }
            Entry::SlotInfo { .. } => {}
        }
    }
    stats.rdb_bytes.store(rdb.position(), Ordering::Relaxed);
    writer.open()?;
    writer.close()?;
    writer.summary.bytes = rdb.position();
    Ok(writer.summary)
}

struct SnapshotWriter<'a, W> {
    log: &'a mut W,
    epoch: &'a EpochInfo,
    summary: SnapshotSummary,
    /// Index of the last record written; `EpochBegin` is 0, keys count from 1.
    index: u64,
    opened: bool,
}

impl<W: LogWriter> SnapshotWriter<'_, W> {
    /// Remembers the source version from the AUX fields that precede the keys.
    fn note_aux(&mut self, key: &[u8], value: &[u8]) {
        let flavour = match key {
            b"redis-ver" => "redis",
            b"valkey-ver" => "valkey",
            _ => return,
        };
        self.summary.source_version = format!("{flavour} {}", String::from_utf8_lossy(value));
    }

    /// Writes `EpochBegin` to every partition, once, before the first data record.
    fn open(&mut self) -> Result<(), CaptureError> {
        if self.opened {
            return Ok(());
        }
        self.opened = true;
        let begin = EpochBegin {
            replid: self.epoch.replid.clone(),
            offset: self.epoch.offset,
            partitions: self.log.partitions(),
            rdb_version: self.summary.rdb_version,
            source_version: self.summary.source_version.clone(),
            modules: self.epoch.facts.modules.clone(),
            field_ttl_hashes: self.epoch.facts.field_ttl_hashes.clone(),
            field_ttl_examples: self.epoch.facts.field_ttl_examples.clone(),
        };
        tracing::info!(
            epoch = self.epoch.epoch,
            replid = %self.epoch.replid,
            offset = self.epoch.offset,
            rdb_version = self.summary.rdb_version,
            source = %self.summary.source_version,
            "snapshot started"
        );
        for partition in 0..self.log.partitions() {
            let record = self.record(0, 0, 0, Body::EpochBegin(begin.clone()));
            self.log.append(partition, record)?;
        }
        Ok(())
    }

    fn key(&mut self, entry: KeyEntry) -> Result<(), CaptureError> {
        let slot = key_slot(&entry.key);
        let partition = partition_for_slot(slot, self.log.partitions());
        self.index += 1;
        let body = Body::SnapshotKey(SnapshotKey {
            key: entry.key,
            rdb_type: entry.rdb_type,
            object: entry.object,
            rdb_version: self.summary.rdb_version,
            expire_ms: entry.expire_ms,
            idle_s: entry.idle_s,
            freq: entry.freq,
        });
        let record = self.record(self.index, entry.db, slot, body);
        self.log.append(partition, record)?;
        self.summary.keys += 1;
        self.summary.records_per_partition[partition as usize] += 1;
        Ok(())
    }

    /// A part of a big value, in its key's partition like a whole key.
    fn chunk(&mut self, entry: ChunkEntry) -> Result<(), CaptureError> {
        let slot = key_slot(&entry.key);
        let partition = partition_for_slot(slot, self.log.partitions());
        self.index += 1;
        let last = entry.last;
        let body = Body::SnapshotChunk(SnapshotChunk {
            key: entry.key,
            rdb_type: entry.rdb_type,
            rdb_version: self.summary.rdb_version,
            seq: entry.seq,
            first: entry.seq == 0,
            last,
            object: entry.object,
            expire_ms: entry.expire_ms,
        });
        let record = self.record(self.index, entry.db, slot, body);
        self.log.append(partition, record)?;
        if last {
            self.summary.keys += 1;
        }
        self.summary.records_per_partition[partition as usize] += 1;
        Ok(())
    }

    /// Functions belong to no slot: they travel in partition 0.
    fn function(&mut self, code: Vec<u8>) -> Result<(), CaptureError> {
        self.index += 1;
        let record = self.record(self.index, 0, 0, Body::Function(Function { code }));
        self.log.append(0, record)?;
        self.summary.functions += 1;
        self.summary.records_per_partition[0] += 1;
        Ok(())
    }

    /// Writes `SnapshotEnd` to every partition, then waits until the log holds everything.
    fn close(&mut self) -> Result<(), CaptureError> {
        // A test's kill point (consumer/src/failpoints.rs); a no-op in normal builds.
        fail::fail_point!("snapshot-before-end", |_| {
            eprintln!("failpoint snapshot-before-end: ending the process");
            std::process::abort()
        });
        self.index += 1;
        for partition in 0..self.log.partitions() {
            let records = self.summary.records_per_partition[partition as usize];
            let record = self.record(self.index, 0, 0, Body::SnapshotEnd(SnapshotEnd { records }));
            self.log.append(partition, record)?;
        }
        self.log.flush()?;
        if self.summary.left_out > 0 {
            tracing::info!(
                kept = self.summary.keys,
                left_out = self.summary.left_out,
                filter = %self.epoch.filter.describe(),
                "the snapshot's keys, filtered"
            );
        }
        Ok(())
    }

    fn record(&self, index: u64, db: u32, slot: u16, body: Body) -> Record {
        Record {
            source: self.epoch.source.clone(),
            epoch: self.epoch.epoch,
            position: Position {
                offset: self.epoch.offset,
                index,
            },
            db,
            slot,
            capture_ms: now_ms(),
            body,
        }
    }
}
