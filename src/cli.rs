//! Command-line interface: the `slotstream` command and its subcommands.

use clap::{Args, Parser, Subcommand};

/// One-way Redis → Redis synchronization, partitioned by hash slot.
#[derive(Debug, Parser)]
#[command(name = "slotstream", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// Log filter, e.g. `info`, `debug`, `slotstream_producer=trace` (or set RUST_LOG).
    #[arg(long, global = true, default_value = "info", env = "SLOTSTREAM_LOG")]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  # copy a standalone Redis into another one, then stop
  slotstream sync --source redis://127.0.0.1:6380 --target redis://127.0.0.1:6381 --snapshot-only

  # the source needs a password (ACL user and password also work: redis://user:pass@host:port)
  slotstream sync --source redis://:secret@10.0.0.5:6379 --target redis://10.0.1.7:6379

  # compare source and destination key by key
  slotstream verify --source redis://127.0.0.1:6380 --target redis://127.0.0.1:6381";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy the source into the target in one process (no Kafka): snapshot, then live changes.
    Sync(SyncArgs),
    /// Compare every key of every database of source and target; exit 1 on any difference.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Source Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub source: String,
    /// Target Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub target: String,
    /// Exit 0 once the snapshot is applied instead of following live changes.
    #[arg(long)]
    pub snapshot_only: bool,
    /// Number of partitions (parallel apply lanes); slots map to them in contiguous ranges.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Name of the source in the records (default: its host:port).
    #[arg(long)]
    pub source_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Source Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub source: String,
    /// Target Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub target: String,
    /// Largest accepted difference between the two sides' absolute expiry times, in ms.
    #[arg(long, default_value_t = 2000)]
    pub ttl_tolerance_ms: u64,
    /// How many differing keys to print.
    #[arg(long, default_value_t = 20)]
    pub max_report: usize,
}
