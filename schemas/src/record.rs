//! The record types that flow from producer to consumer, one per Avro record in `record.avsc`.

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in Unix milliseconds: capture times, expiry times, lag.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One unit of the log: an envelope that says where in the source's history it belongs, and a body.
///
/// Records of one partition are totally ordered by `(epoch, position)`; the consumer's checkpoint
/// is such a pair, and every record at or below it is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// A stable name for the source (by default its `host:port`), so one topic is never fed by two.
    pub source: String,
    /// Full-sync generation: every `+FULLRESYNC` opens the next epoch.
    pub epoch: u64,
    /// Where in the source's replication stream this record was captured.
    pub position: Position,
    /// Source database number.
    pub db: u32,
    /// Hash slot of the record's key (0 for records without a key); for a barrier, the one
    /// slot all its keys share, or `slot::NO_SLOT` (16384) when they span slots or it has none.
    pub slot: u16,
    /// Wall-clock time of capture, in Unix milliseconds.
    pub capture_ms: i64,
    pub body: Body,
}

/// `(replication offset, index)`. Snapshot records share the offset of their `+FULLRESYNC` and
/// count up the index; commands carry the offset just past their last byte and the index of the
/// part when one command was split per slot.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Position {
    pub offset: u64,
    pub index: u64,
}

impl Position {
    /// The index of heartbeats: after every part of a command split at the same offset.
    pub const LAST_INDEX: u64 = u32::MAX as u64;

    /// The position after every record of stream offset `offset`.
    pub fn end_of(offset: u64) -> Position {
        Position {
            offset,
            index: Self::LAST_INDEX,
        }
    }
}

/// What a record carries: in Avro, a union of one record per variant, named like the variant.
///
/// The Avro decoder names a union branch by its full name (`io.slotstream.SnapshotKey`), hence
/// the aliases; the encoder finds the branch by the plain variant name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Body {
    #[serde(alias = "io.slotstream.SnapshotKey")]
    SnapshotKey(SnapshotKey),
    #[serde(alias = "io.slotstream.SnapshotChunk")]
    SnapshotChunk(SnapshotChunk),
    #[serde(alias = "io.slotstream.Command")]
    Command(Command),
    #[serde(alias = "io.slotstream.EpochBegin")]
    EpochBegin(EpochBegin),
    #[serde(alias = "io.slotstream.SnapshotEnd")]
    SnapshotEnd(SnapshotEnd),
    #[serde(alias = "io.slotstream.Barrier")]
    Barrier(Barrier),
    #[serde(alias = "io.slotstream.Heartbeat")]
    Heartbeat(Heartbeat),
    #[serde(alias = "io.slotstream.Function")]
    Function(Function),
    #[serde(alias = "io.slotstream.Fork")]
    Fork(Fork),
}

/// One key of the snapshot, as the RDB stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotKey {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The RDB value type byte.
    pub rdb_type: u8,
    /// The object's bytes exactly as they appeared in the RDB, after the type byte and the key.
    #[serde(with = "serde_bytes")]
    pub object: Vec<u8>,
    /// RDB version of the snapshot the object came from (80 for `VALKEY080`).
    pub rdb_version: u16,
    /// Absolute expiry, Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds, when the source used an LRU policy.
    pub idle_s: Option<u64>,
    /// LFU frequency counter, when the source used an LFU policy.
    pub freq: Option<u8>,
}

/// A bounded part of one big value: a standalone RDB object of the value's type holding a run
/// of its elements (a stream's last chunk also holds its metadata and groups), so one decoder
/// (`slotstream_rdb::elements`) reads every chunk of every encoding. The consumer builds the
/// value under a temporary key in the same slot and renames it over the real one after the
/// chunk marked `last`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotChunk {
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The RDB type byte of the value and of this chunk's object.
    pub rdb_type: u8,
    /// RDB version of the snapshot, which decides how the object reads.
    pub rdb_version: u16,
    /// 0 for the first chunk of a key, counting up.
    pub seq: u32,
    pub first: bool,
    pub last: bool,
    /// The chunk as a standalone object: the body of a `DUMP` payload without its type byte and
    /// footer.
    #[serde(with = "serde_bytes")]
    pub object: Vec<u8>,
    pub expire_ms: Option<i64>,
}

/// One element of a chunk (wrapped so the Avro schema names it as bytes). Transparent to serde,
/// so Avro readers see plain `bytes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Element(#[serde(with = "serde_bytes")] pub Vec<u8>);

/// One replicated command, arguments exactly as the source sent them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub args: Vec<Element>,
}

/// Opens an epoch in a partition. Written to every partition before any snapshot record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochBegin {
    /// The source's replication id for this epoch.
    pub replid: String,
    /// The offset `+FULLRESYNC` announced.
    pub offset: u64,
    /// Partition count of the topic; fixed for the topic's life.
    pub partitions: u32,
    /// RDB version of the snapshot that follows.
    pub rdb_version: u16,
    /// Source server and version, e.g. `redis 7.0.15`.
    pub source_version: String,
    /// Modules loaded on the source when the snapshot was asked for (empty when they could not
    /// be read).
    #[serde(default)]
    pub modules: Vec<SourceModule>,
    /// Hashes with field TTLs on the source, per database with any (`INFO keyspace`).
    #[serde(default)]
    pub field_ttl_hashes: Vec<DbCount>,
    /// Names of some of those hashes, for messages.
    #[serde(default)]
    pub field_ttl_examples: Vec<Element>,
}

/// A module loaded on the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceModule {
    /// As `MODULE LIST` names it, e.g. `ReJSON`.
    pub name: String,
    /// Keys of the module's value types on the source; `None` when its types are not known.
    pub keys: Option<u64>,
}

/// A count of keys in one database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbCount {
    pub db: u32,
    pub keys: u64,
}

/// Closes the snapshot of an epoch in a partition. After it, commands follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotEnd {
    /// Snapshot records written to this partition in this epoch.
    pub records: u64,
}

/// A command that touches several partitions (or must apply atomically): the consumer applies it
/// once, after every listed partition has reached it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Barrier {
    pub partitions: Vec<u32>,
    pub commands: Vec<Command>,
}

/// Liveness and lag marker, written to every partition about once a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The source replication offset at capture time.
    pub source_offset: u64,
}

/// The source failed over, and the promoted replica's history parts from the one before at
/// `offset`: what the log holds past it in this epoch changed nothing, and the records after
/// this one reuse those positions. Written to every partition before them; a partition's
/// checkpoint past `offset` is lowered to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fork {
    /// The last replication offset the two histories share.
    pub offset: u64,
    /// The database selected in the stream at `offset`.
    pub db: u32,
}

/// A Redis 7+ function library, as `FUNCTION LOAD` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    #[serde(with = "serde_bytes")]
    pub code: Vec<u8>,
}
