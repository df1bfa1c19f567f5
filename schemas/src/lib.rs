//! The contract between slotstream's producer and consumer.
//!
//! Everything both sides must agree on lives here, so that a producer and a consumer built at
//! different times, on different machines, still understand each other. The RDB format the
//! records carry (type bytes, objects, `DUMP` payloads) is `slotstream-rdb`'s.
//!
//! # Layout
//! - `record.avsc`: the hand-written Avro schema of a record: the contract itself.
//! - [`record`]: the record types (envelope and bodies), mirroring `record.avsc` field for field.
//! - [`codec`]: Avro single-object encoding and decoding of records (the hot path, with
//!   `serde_avro_fast`), and a generic decoder that knows only `record.avsc` (`apache-avro`).
//! - [`slot`]: Redis hash slots (CRC16 with hash tags) and the slot→partition map.
//! - [`display`]: how keys and URLs appear in logs and errors (escaped; no passwords).
//! - [`filter`], [`glob`]: which databases and keys a copy holds (capture and `verify` agree).
//! - [`info`]: reading servers' `INFO` text (the databases of `INFO keyspace`).
//! - [`log`]: the traits a transport implements (where records are appended, where they are read).
//! - [`resume`]: where a producer may continue from (the resume point).
//! - [`memory`]: the in-process transport: bounded channels with the same partitioning.
//! - [`name`]: command and option names upper-cased on the stack, for matching.
//! - [`retry`]: what a failure means for a run (reconnect, later, fatal), answered by each error.

#![forbid(unsafe_code)]

pub mod codec;
pub mod display;
pub mod filter;
pub mod glob;
pub mod info;
pub mod log;
pub mod memory;
pub mod name;
pub mod record;
pub mod resume;
pub mod retry;
pub mod slot;

pub use codec::{Codec, CodecError};
pub use record::{
    now_ms, Barrier, Body, Command, DbCount, Element, EpochBegin, Fork, Function, Heartbeat,
    Position, Record, SnapshotChunk, SnapshotEnd, SnapshotKey, SourceModule,
};

/// Keys slotstream itself writes to a destination (checkpoints, temporary keys) start with this.
/// `verify` ignores them and the consumer never syncs them.
pub const BOOKKEEPING_PREFIX: &[u8] = b"__slotstream:";
