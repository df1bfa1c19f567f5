//! `slotstream status`'s arguments: where the checkpoints are (the target) and what they are
//! measured against (the topic of a `consume`, or the source of a `sync`).

use super::{SentinelArgs, SourceSecret, TargetSecret};
use clap::Args;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Target Redis URL: the destination whose checkpoints are read (nothing is written).
    #[arg(long)]
    pub target: String,
    #[command(flatten)]
    pub target_secret: TargetSecret,
    /// Bootstrap servers of the topic a `consume` applies (with --topic).
    #[cfg(feature = "kafka")]
    #[arg(long, requires = "topic", conflicts_with = "source")]
    pub brokers: Option<String>,
    /// The topic a `consume` applies.
    #[cfg(feature = "kafka")]
    #[arg(long, requires = "brokers")]
    pub topic: Option<String>,
    /// Any librdkafka property, as `consume` takes it (repeatable).
    #[cfg(feature = "kafka")]
    #[arg(long = "kafka-config", value_name = "KEY=VALUE")]
    pub kafka_config: Vec<String>,
    /// A file of librdkafka properties, as `consume` takes it.
    #[cfg(feature = "kafka")]
    #[arg(long, value_name = "PATH")]
    pub kafka_config_file: Option<std::path::PathBuf>,
    /// Source Redis URL of a `sync` (its replication offset is what the checkpoints trail).
    #[arg(long)]
    pub source: Option<String>,
    #[command(flatten)]
    pub source_secret: SourceSecret,
    /// The `sync`'s --source-id, when it was given one.
    #[arg(long)]
    pub source_id: Option<String>,
    /// The `sync`'s --partitions.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when a partition lags more than this many seconds (or has records waiting and
    /// nothing applied yet).
    #[arg(long, value_name = "SECS")]
    pub max_lag_secs: Option<f64>,
}
