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
//! - [`restore`]: snapshot records → `RESTORE` / `FUNCTION LOAD` commands.
//! - [`stats`]: live counters for progress reporting.
//! - [`error`]: the apply error type.

pub mod apply;
pub mod config;
pub mod error;
pub mod partition;
pub mod restore;
pub mod stats;
pub mod target;

pub use apply::{Applier, ApplySummary};
pub use config::TargetConfig;
pub use error::ApplyError;
pub use stats::ApplyStats;
