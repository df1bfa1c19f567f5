//! slotstream's apply side: reads slot-partitioned records and applies them to the destination.
//!
//! Each partition is applied by its own task over its own connection, strictly in log order;
//! partitions run in parallel. Records are batched into pipelines; a batch's log space is
//! released only after the destination acknowledged it.
//!
//! # Layout
//! - [`config`]: where the destination is and how records are batched.
//! - [`target`]: connections to the destination and what it is (version, RDB format).
//! - [`apply`]: the driver: checks the destination, runs the partition tasks.
//! - [`partition`]: one partition's loop: batch, apply, handle control records.
//! - [`precheck`]: before a snapshot's first write, whether the destination can take it all.
//! - [`barrier`]: records copied into several partitions, applied once by the last to arrive.
//! - [`command`]: live commands as the destination gets them.
//! - [`checkpoint`]: per-partition checkpoints kept in the destination, moved atomically with
//!   the batches they end.
//! - [`throttle`]: ops/s and bytes/s limits.
//! - [`restore`]: snapshot records → `RESTORE` / `FUNCTION LOAD` commands.
//! - [`rewrite`]: snapshot keys → plain commands, for a destination that cannot `RESTORE` the
//!   source's RDB format.
//! - [`sweep`]: after a new epoch's snapshot, delete the keys it did not contain.
//! - [`stats`]: live counters for progress reporting.
//! - [`wire`]: the batch connection: RESP written and replies read without per-command objects.
//! - [`error`]: the apply error type.

pub mod apply;
pub mod barrier;
pub mod batch;
pub mod checkpoint;
pub mod chunk;
pub mod command;
pub mod config;
pub mod error;
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

pub use apply::{Applier, ApplySummary, RunOptions};
pub use config::{OnUnsupported, TargetConfig};
pub use error::ApplyError;
pub use stats::ApplyStats;
