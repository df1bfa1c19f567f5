//! The consumer's in-process test layer: a real destination server, records written by hand
//! into the in-process log, and the applier run over them as a consumer run would (checkpoints
//! kept in the destination, read back at start), so exactly-once, barriers and chunks are tested
//! without a producer, a broker or the `slotstream` binary.

#![allow(dead_code)]

use slotstream_consumer::{
    Applier, ApplyError, ApplyStats, ApplySummary, OnExisting, RunOptions, TargetConfig,
};
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::memory::{memory_log, MemoryLogConfig};
use slotstream_schemas::slot::{key_slot, partition_for_slot};
use slotstream_schemas::{
    Barrier, Body, Command, Element, EpochBegin, Position, Record, SnapshotChunk, SnapshotEnd,
    SnapshotKey,
};
use slotstream_test_support::RedisServer;
use std::sync::Arc;

/// A destination and the log name its checkpoints are kept under.
pub struct Harness {
    pub target: RedisServer,
    pub partitions: u32,
    /// What the runs do with keys the target holds of its own.
    pub on_existing: OnExisting,
    log: String,
}

/// What one run of the applier did.
pub struct Run {
    pub outcome: Result<ApplySummary, ApplyError>,
    pub stats: Arc<ApplyStats>,
}

impl Run {
    pub fn summary(&self) -> &ApplySummary {
        match &self.outcome {
            Ok(summary) => summary,
            Err(err) => panic!("the run failed: {err}"),
        }
    }
}

impl Harness {
    pub fn new(partitions: u32) -> Harness {
        Harness {
            target: RedisServer::start(),
            partitions,
            on_existing: OnExisting::Fail,
            log: "in-process".into(),
        }
    }

    /// Applies `records` (each with its partition) as one consumer run: reads the checkpoints
    /// first, then applies until the log ends.
    pub async fn run(&self, records: &[(u32, Record)]) -> Run {
        self.run_with(records, true).await
    }

    /// Applies `records` as `replay` does: no checkpoints read or kept.
    pub async fn replay(&self, records: &[(u32, Record)]) -> Run {
        self.run_with(records, false).await
    }

    /// The checkpoint of `partition` as the destination holds it: (epoch, offset, index).
    pub fn checkpoint(&self, partition: u32) -> Option<(u64, u64, u64)> {
        let key = format!("__slotstream:checkpoint:{}:{partition}", self.log);
        let fields: Vec<Option<u64>> = redis::cmd("HMGET")
            .arg(key)
            .arg(&["epoch", "offset", "index"])
            .query(&mut self.conn())
            .expect("HMGET the checkpoint");
        match fields[..] {
            [Some(epoch), Some(offset), Some(index)] => Some((epoch, offset, index)),
            _ => None,
        }
    }

    async fn run_with(&self, records: &[(u32, Record)], checkpoints: bool) -> Run {
        let (mut writer, readers) = memory_log(MemoryLogConfig {
            partitions: self.partitions,
            ..MemoryLogConfig::default()
        });
        // The writer blocks while the log is full, as the capture thread does: a thread of its
        // own, closing the log when it is done.
        let records = records.to_vec();
        let feeding = std::thread::spawn(move || {
            for (partition, record) in records {
                // A run that stops early closes the log under the writer.
                if writer.append(partition, record).is_err() {
                    break;
                }
            }
        });
        let stats = Arc::new(ApplyStats::default());
        let mut config = TargetConfig::new(self.target.url());
        config.on_existing = self.on_existing;
        let applier = Applier::connect(&config)
            .await
            .expect("connect to the target");
        let options = if checkpoints {
            let start = applier
                .load_checkpoints(&self.log, self.partitions)
                .await
                .expect("read the checkpoints");
            RunOptions {
                checkpoint_log: Some(self.log.clone()),
                existing_log: Some(self.log.clone()),
                start,
                ..RunOptions::default()
            }
        } else {
            RunOptions {
                existing_log: Some(format!("replay:{}", self.log)),
                ..RunOptions::default()
            }
        };
        let outcome = applier.run(readers, stats.clone(), options).await;
        feeding.join().expect("the feeding thread");
        Run { outcome, stats }
    }

    pub fn conn(&self) -> redis::Connection {
        self.target.conn()
    }

    /// The partition `key` belongs to.
    pub fn partition_of(&self, key: &[u8]) -> u32 {
        partition_for_slot(key_slot(key), self.partitions)
    }

    /// A key name with `prefix` that falls in `partition`.
    pub fn key_in(&self, prefix: &str, partition: u32) -> String {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|key| self.partition_of(key.as_bytes()) == partition)
            .expect("some key falls in every partition")
    }
}

/// A record of epoch `epoch` at `(offset, index)` in db 0.
pub fn record(epoch: u64, offset: u64, index: u64, body: Body) -> Record {
    Record {
        source: "test".into(),
        epoch,
        position: Position { offset, index },
        db: 0,
        slot: 0,
        capture_ms: slotstream_schemas::now_ms(),
        body,
    }
}

/// `EpochBegin` of an epoch whose snapshot is RDB version `rdb_version`.
pub fn epoch_begin(partitions: u32, rdb_version: u16) -> Body {
    Body::EpochBegin(EpochBegin {
        replid: "0123456789abcdef0123456789abcdef01234567".into(),
        offset: 0,
        partitions,
        rdb_version,
        source_version: "redis 7.0.15".into(),
        modules: Vec::new(),
        field_ttl_hashes: Vec::new(),
        field_ttl_examples: Vec::new(),
    })
}

pub fn snapshot_end(records: u64) -> Body {
    Body::SnapshotEnd(SnapshotEnd { records })
}

fn command_of(args: &[&str]) -> Command {
    Command {
        args: args
            .iter()
            .map(|a| Element(a.as_bytes().to_vec()))
            .collect(),
    }
}

/// A live command.
pub fn command(args: &[&str]) -> Body {
    Body::Command(command_of(args))
}

/// A barrier of `commands` copied into `partitions`.
pub fn barrier(partitions: &[u32], commands: &[&[&str]]) -> Body {
    Body::Barrier(Barrier {
        partitions: partitions.to_vec(),
        commands: commands.iter().map(|c| command_of(c)).collect(),
    })
}

/// A snapshot string key (RDB type 0, raw encoding) with an optional expiry.
pub fn string_key(key: &str, value: &str, expire_ms: Option<i64>) -> Body {
    let mut object = rdb_length(value.len());
    object.extend_from_slice(value.as_bytes());
    Body::SnapshotKey(SnapshotKey {
        key: key.as_bytes().to_vec(),
        rdb_type: 0,
        object,
        rdb_version: 9,
        expire_ms,
        idle_s: None,
        freq: None,
    })
}

/// A part of a big list: a standalone RDB list object (type 1) holding `items`.
pub fn list_chunk(key: &str, seq: u32, first: bool, last: bool, items: &[String]) -> Body {
    let mut object = rdb_length(items.len());
    for item in items {
        object.extend(rdb_length(item.len()));
        object.extend_from_slice(item.as_bytes());
    }
    Body::SnapshotChunk(SnapshotChunk {
        key: key.as_bytes().to_vec(),
        rdb_type: 1,
        rdb_version: 9,
        seq,
        first,
        last,
        object,
        expire_ms: None,
    })
}

/// An RDB length (6- or 14-bit forms, enough for tests).
fn rdb_length(n: usize) -> Vec<u8> {
    match n {
        0..64 => vec![n as u8],
        64..16384 => vec![0x40 | (n >> 8) as u8, n as u8],
        _ => panic!("test lengths stay under 16384"),
    }
}
