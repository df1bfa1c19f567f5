//! slotstream's capture side: connects to the source as a replica and turns what it replicates
//! into records.
//!
//! Data flows one way: the source socket → [`replica`] (handshake) →
//! [`RdbReader`](slotstream_rdb::RdbReader) (one entry per key, cut exactly from the stream, in
//! `slotstream-rdb`) → [`snapshot`] (entries become records) → a
//! [`LogWriter`](slotstream_schemas::log::LogWriter).
//!
//! # Layout
//! - [`config`]: where the source is, timeouts, limits; URL parsing.
//! - [`replica`]: the replica handshake (AUTH, REPLCONF, PSYNC) and the payload framing.
//! - [`route`]: live commands → records: single slot, split per slot, or barrier.
//! - [`snapshot`]: RDB entries → `EpochBegin`, `SnapshotKey`…, `SnapshotEnd` records.
//! - [`source_facts`]: the source's modules and field-TTL hashes, for `EpochBegin`.
//! - [`shards`]: the source's shape: one server, or the shards of a cluster and their slots.
//! - [`capture`]: the driver that runs the above on one socket.
//! - [`command`]: the replication command stream, parsed incrementally.
//! - [`follow`]: after the snapshot: ACKs, offsets, the live stream.
//! - [`fork`]: after a failover, whether the capture continues from the promoted replica.
//! - [`headroom`]: the source's backlog and replica buffer limit against its write rate.
//! - [`source_clock`]: when the source wrote each offset, sampled, so lag counts from the source.
//! - [`read_limit`]: `--source-max-bytes`, a token bucket on what is read from the source.
//! - [`keys`]: which arguments of a command are keys, from the source's own `COMMAND` table.
//! - [`stats`]: live counters for progress reporting.
//! - [`error`]: the capture error type.

#![forbid(unsafe_code)]

pub mod capture;
pub mod command;
pub mod config;
pub mod error;
pub mod follow;
pub mod fork;
pub mod headroom;
pub mod keys;
pub mod read_limit;
pub mod replica;
pub mod route;
pub mod shards;
pub mod snapshot;
pub mod source_clock;
pub mod source_facts;
pub mod stats;

pub mod access;
pub use capture::{capture_snapshot, CaptureSummary, Session};
pub use config::SourceConfig;
pub use error::CaptureError;
pub use stats::CaptureStats;
