//! slotstream's apply side: reads slot-partitioned records and applies them to the destination.
//!
//! Each partition is applied by its own task over its own connection, strictly in log order;
//! partitions run in parallel. Records are batched into pipelines; a batch's log space is
//! released only after the destination acknowledged it.
//!
//! # Layout
//! Settings and the destination:
//! - [`config`]: where the destination is, batch sizes, what to do with what it cannot hold.
//! - [`wire`]: a leaf: RESP written straight into one buffer, and a connection that sends a
//!   batch and reads exactly its replies.
//! - [`target`]: connections to the destination and what it is (version, RDB format, modules).
//!
//! The driver and one partition's loop:
//! - [`apply`]: checks the destination, runs one task per partition, gathers their outcomes.
//! - [`partition`]: one partition's loop: routes each record, handles control records,
//!   commits batches.
//! - [`position`]: the exactly-once rule: what is new, what a batch's checkpoint will be.
//! - [`batch`]: the commands of one round trip, what each concerns, and the judging of replies.
//! - [`batches`]: a partition's batches: one, or one per slot on a cluster.
//! - [`checkpoint`]: per-partition checkpoints kept in the destination, stored with the
//!   batches they end.
//! - [`barrier`]: records copied into several partitions, applied once by the last to arrive.
//!
//! Records into commands:
//! - [`plan`]: how a snapshot key travels: `MSET` pair, `RESTORE`, or rewritten.
//! - [`snapshot`]: snapshot keys and function libraries into a batch, as planned.
//! - [`restore`]: `RESTORE` and `FUNCTION LOAD` commands.
//! - [`rewrite`]: a value as plain commands, for a destination that cannot `RESTORE` its format.
//! - [`chunk`]: big values in parts, built under a temporary key and renamed into place.
//! - [`command`]: live commands as the destination gets them (expiry rewriting), and what
//!   `--on-unsupported` says for those it cannot take.
//! - [`compat`]: live commands in the forms an older destination knows.
//!
//! Around them:
//! - [`precheck`]: before a snapshot's first write, whether the destination can take it all.
//! - [`sweep`]: after a new epoch's snapshot, delete the keys it did not contain.
//! - [`existing`]: keys the destination held before the first write: refused, or kept out of
//!   every sweep; the claim that tells a restart the keys of an earlier run are its own.
//! - [`throttle`]: ops/s and bytes/s limits.
//! - [`stats`]: live counters for progress reporting.
//! - [`error`]: the apply error type, which says whether a retry can help.
//!
//! Dependencies point one way: `wire` and `config` need nothing of the crate; `target` needs
//! them; the record writers need `batch`, `target` and `wire`; `partition` and `apply` use
//! everything.

#![forbid(unsafe_code)]

pub mod apply;
pub mod barrier;
pub mod batch;
pub mod batches;
pub mod checkpoint;
pub mod chunk;
pub mod command;
pub mod compat;
pub mod config;
pub mod cross_slot;
pub mod dbmap;
pub mod error;
pub mod existing;
pub mod expiry;
pub mod failpoints;
pub mod partition;
pub mod plan;
pub mod position;
pub mod precheck;
pub mod restore;
pub mod rewrite;
pub mod snapshot;
pub mod stats;
pub mod sweep;
pub mod target;
pub mod throttle;
pub mod wire;

pub use apply::{Applier, ApplySummary, Claim, RunOptions};
pub use config::{OnExisting, OnUnsupported, TargetConfig};
pub use error::ApplyError;
pub use stats::ApplyStats;
