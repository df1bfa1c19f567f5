//! Command-line interface: the `slotstream` command and its subcommands.

mod check;
mod filter;
mod metrics;
mod sides;
mod status;
mod target;

pub use check::{CheckArgs, PreflightArgs};
use clap::{Args, Parser, Subcommand, ValueEnum};
pub use filter::FilterArgs;
pub use metrics::MetricsArgs;
pub use sides::{SentinelArgs, SourceSecret, TargetSecret};
pub use status::StatusArgs;
use std::path::PathBuf;
use target::parse_db_pair;
pub use target::{OnUnsupported, ThrottleArgs, ValueArgs};

/// One-way Redis → Redis synchronization, partitioned by hash slot.
#[derive(Debug, Parser)]
#[command(name = "slotstream", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// Log filter, e.g. `info`, `debug`, `slotstream_producer=trace` (or set RUST_LOG).
    #[arg(long, global = true, default_value = "info", env = "SLOTSTREAM_LOG")]
    pub log: String,

    /// Log lines as text, or as one JSON object per line for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SLOTSTREAM_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Read options from this TOML file: a [common] section and one per command ([sync],
    /// [produce], …), keys named like the options. SLOTSTREAM_<OPTION> variables win over the
    /// file, and the command line over both. slotstream.example.toml shows every section.
    #[arg(long, global = true, value_name = "PATH", env = "SLOTSTREAM_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Examples of the commands every build has.
macro_rules! redis_examples {
    () => {
        "\
Examples:
  # copy a standalone Redis into another one, then stop
  slotstream sync --source redis://127.0.0.1:6380 --target redis://127.0.0.1:6381 --snapshot-only

  # the source needs a password (ACL user and password also work: redis://user:pass@host:port)
  slotstream sync --source redis://:secret@10.0.0.5:6379 --target redis://10.0.1.7:6379

  # compare source and destination key by key
  slotstream verify --source redis://127.0.0.1:6380 --target redis://127.0.0.1:6381"
    };
}

#[cfg(not(feature = "kafka"))]
const EXAMPLES: &str = redis_examples!();

#[cfg(feature = "kafka")]
const EXAMPLES: &str = concat!(
    redis_examples!(),
    "

  # through Kafka: an in-memory broker for a trial, then producer and consumer
  slotstream dev-broker --topic shop:16          # prints its bootstrap servers, e.g. 127.0.0.1:39093
  slotstream produce --source redis://10.0.0.5:6379 --brokers 127.0.0.1:39093 --topic shop
  slotstream consume --brokers 127.0.0.1:39093 --topic shop --target redis://10.0.1.7:6379

  # a real cluster with SASL: any librdkafka property passes through
  slotstream produce ... --kafka-config security.protocol=SASL_SSL --kafka-config sasl.mechanism=SCRAM-SHA-512"
);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy the source into the target in one process (no Kafka): snapshot, then live changes.
    Sync(SyncArgs),
    /// Compare every key of every database of source and target; exit 1 on any difference.
    Verify(VerifyArgs),
    /// Check what a copy needs of the source and the target before any write: each item pass,
    /// warn or fail with what to do; exit 0, 1 on a failure, 2 on warnings only.
    Check(CheckArgs),
    /// How far the target's copy is: per partition its checkpoint, the log's end (the topic of a
    /// `consume`, the source of a `sync`), lag in records or bytes and seconds; exit 1 over
    /// --max-lag-secs.
    Status(StatusArgs),
    /// Capture the source into a Kafka topic partitioned by hash slot (runs near the source).
    #[cfg(feature = "kafka")]
    Produce(ProduceArgs),
    /// Apply a Kafka topic to the target, resuming from the checkpoints in the target.
    #[cfg(feature = "kafka")]
    Consume(ConsumeArgs),
    /// Rebuild a fresh target from a retained topic (one epoch's snapshot and all after), then exit.
    #[cfg(feature = "kafka")]
    Replay(ReplayArgs),
    /// Host an in-memory Kafka-protocol broker (librdkafka's mock cluster) for trials and tests.
    #[cfg(feature = "kafka")]
    DevBroker(DevBrokerArgs),
}

/// Where the Kafka cluster is and how to talk to it.
#[cfg(feature = "kafka")]
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Bootstrap servers, e.g. `kafka1:9092,kafka2:9092`.
    #[arg(long)]
    pub brokers: String,
    /// The data topic (its resume point lives in `<topic>.resume`).
    #[arg(long)]
    pub topic: String,
    /// Any librdkafka property, e.g. `security.protocol=SASL_SSL` (repeatable; wins over the file).
    #[arg(long = "kafka-config", value_name = "KEY=VALUE")]
    pub kafka_config: Vec<String>,
    /// A file of librdkafka properties, one `key=value` per line (`#` comments).
    #[arg(long, value_name = "PATH")]
    pub kafka_config_file: Option<std::path::PathBuf>,
}

#[cfg(feature = "kafka")]
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    /// Source Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub source: String,
    #[command(flatten)]
    pub source_secret: SourceSecret,
    /// Lists, sets, sorted sets, hashes and streams bigger than this many bytes travel in
    /// parts of about this size, rebuilt under a temporary key and renamed into place.
    #[arg(long, default_value_t = slotstream_rdb::DEFAULT_CHUNK_BYTES)]
    pub chunk_bytes: usize,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Most bytes a second read from the source's replication link, snapshot and live stream
    /// alike (0: unlimited). What is not read waits in the source's output buffer for replicas:
    /// keep its client-output-buffer-limit replica above the difference.
    #[arg(long, default_value_t = 0)]
    pub source_max_bytes: u64,
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Partitions of the data topic when it is created; an existing topic must have this many.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Name of the source in the records (default: its host:port). For a cluster source, each
    /// shard is named `<source id>/slots-<first slot>`: give every producer of one cluster the
    /// same `--source-id`.
    #[arg(long)]
    pub source_id: Option<String>,
    /// For a cluster source: capture only these shards (comma-separated; each its label
    /// `slots-<first slot>` or the host:port of one of its nodes), so one producer per shard can
    /// run near it, all into one topic. Default: every shard.
    #[arg(long, value_delimiter = ',')]
    pub shard: Vec<String>,
    /// For a cluster source: capture each shard from its primary, or from one of its replicas
    /// (less load on the primaries; the primary when a shard has no replica).
    #[arg(long, value_enum, default_value_t = SourcePrefer::Primary)]
    pub source_prefer: SourcePrefer,
    /// Stop once the snapshot is in Kafka instead of following live changes.
    #[arg(long)]
    pub snapshot_only: bool,
    /// Forward PUBLISH (off by default: messages are not data).
    #[arg(long)]
    pub forward_publish: bool,
    /// Put `slotstream.epoch` and `slotstream.kind` headers on every message, for tools that
    /// filter without decoding (costs about a third more producer CPU on small keys).
    #[arg(long)]
    pub kind_headers: bool,
    /// After a dropped link, keep starting again from the saved position for this long.
    #[arg(long, default_value_t = 12 * 3600)]
    pub retry_for_secs: u64,
    /// After an error that may pass (the target answering OOM, LOADING, BUSY, MASTERDOWN or
    /// READONLY, a cluster down, a Kafka leader election), keep trying again for this long.
    #[arg(long, default_value_t = 600)]
    pub retry_other_for_secs: u64,
    /// Silence on the source link for longer than this means the link is dead: it is dropped
    /// and made again. Keep it above the source's repl-ping-replica-period (10 s by default).
    #[arg(long, default_value_t = 60)]
    pub source_timeout_secs: u64,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
    #[command(flatten)]
    pub preflight: PreflightArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[cfg(feature = "kafka")]
#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Target Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub target: String,
    #[command(flatten)]
    pub target_secret: TargetSecret,
    #[command(flatten)]
    pub values: ValueArgs,
    /// Exit 0 once every partition has applied the end of the snapshot.
    #[arg(long)]
    pub snapshot_only: bool,
    /// Consumer group, for lag tools only (progress itself is kept in the target).
    #[arg(long, default_value = "slotstream")]
    pub group: String,
    #[command(flatten)]
    pub throttle: ThrottleArgs,
    /// After a dropped link, keep starting again from the saved position for this long; a
    /// topic that does not exist yet is waited for as long.
    #[arg(long, default_value_t = 12 * 3600)]
    pub retry_for_secs: u64,
    /// After an error that may pass (the target answering OOM, LOADING, BUSY, MASTERDOWN or
    /// READONLY, a cluster down, a Kafka leader election), keep trying again for this long.
    #[arg(long, default_value_t = 600)]
    pub retry_other_for_secs: u64,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
    #[command(flatten)]
    pub preflight: PreflightArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[cfg(feature = "kafka")]
#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Target Redis URL: a fresh destination.
    #[arg(long)]
    pub target: String,
    #[command(flatten)]
    pub target_secret: TargetSecret,
    #[command(flatten)]
    pub values: ValueArgs,
    /// Epoch to rebuild from (default: the oldest the topic still holds; each later epoch is
    /// applied in turn and deletes what its snapshot lacks, so the target ends as the newest).
    #[arg(long)]
    pub epoch: Option<u64>,
    #[command(flatten)]
    pub throttle: ThrottleArgs,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[cfg(feature = "kafka")]
#[derive(Debug, Args)]
pub struct DevBrokerArgs {
    /// Number of brokers in the mock cluster.
    #[arg(long, default_value_t = 1)]
    pub brokers: i32,
    /// Topic to create at start, as NAME or NAME:PARTITIONS (repeatable). Its resume topic
    /// `NAME.resume` is created too. Clients cannot create topics on this broker.
    #[arg(long = "topic", value_name = "NAME[:PARTITIONS]")]
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Source Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub source: String,
    #[command(flatten)]
    pub source_secret: SourceSecret,
    /// Lists, sets, sorted sets, hashes and streams bigger than this many bytes travel in
    /// parts of about this size, rebuilt under a temporary key and renamed into place.
    #[arg(long, default_value_t = slotstream_rdb::DEFAULT_CHUNK_BYTES)]
    pub chunk_bytes: usize,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Most bytes a second read from the source's replication link, snapshot and live stream
    /// alike (0: unlimited). What is not read waits in the source's output buffer for replicas:
    /// keep its client-output-buffer-limit replica above the difference.
    #[arg(long, default_value_t = 0)]
    pub source_max_bytes: u64,
    /// Target Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub target: String,
    #[command(flatten)]
    pub target_secret: TargetSecret,
    #[command(flatten)]
    pub values: ValueArgs,
    #[command(flatten)]
    pub throttle: ThrottleArgs,
    /// Exit 0 once the snapshot is applied instead of following live changes.
    #[arg(long)]
    pub snapshot_only: bool,
    /// Number of partitions (parallel apply lanes); slots map to them in contiguous ranges.
    #[arg(long, default_value_t = 16)]
    pub partitions: u32,
    /// Name of the source in the records (default: its host:port).
    #[arg(long)]
    pub source_id: Option<String>,
    /// For a cluster source: capture each shard from its primary, or from one of its replicas
    /// (less load on the primaries; the primary when a shard has no replica).
    #[arg(long, value_enum, default_value_t = SourcePrefer::Primary)]
    pub source_prefer: SourcePrefer,
    /// Forward PUBLISH (off by default: messages are not data).
    #[arg(long)]
    pub forward_publish: bool,
    /// After a dropped link, keep starting again from the saved position for this long.
    #[arg(long, default_value_t = 12 * 3600)]
    pub retry_for_secs: u64,
    /// After an error that may pass (the target answering OOM, LOADING, BUSY, MASTERDOWN or
    /// READONLY, a cluster down, a Kafka leader election), keep trying again for this long.
    #[arg(long, default_value_t = 600)]
    pub retry_other_for_secs: u64,
    /// Silence on the source link for longer than this means the link is dead: it is dropped
    /// and made again. Keep it above the source's repl-ping-replica-period (10 s by default).
    #[arg(long, default_value_t = 60)]
    pub source_timeout_secs: u64,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
    #[command(flatten)]
    pub preflight: PreflightArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Source Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub source: String,
    #[command(flatten)]
    pub source_secret: SourceSecret,
    /// Target Redis URL: redis://[user:password@]host:port
    #[arg(long)]
    pub target: String,
    #[command(flatten)]
    pub target_secret: TargetSecret,
    /// Largest accepted difference between the two sides' absolute expiry times, in ms.
    #[arg(long, default_value_t = slotstream_verify::VerifyOptions::DEFAULT_TTL_TOLERANCE_MS)]
    pub ttl_tolerance_ms: u64,
    /// The copy's `--ttl-extension-secs`: the target's expiry times are expected that much later
    /// than the source's. 0 compares them as they are (a target written by something else).
    #[arg(long, default_value_t = slotstream_consumer::TargetConfig::DEFAULT_TTL_EXTENSION_SECS)]
    pub ttl_extension_secs: u64,
    /// How many differing keys to print.
    #[arg(long, default_value_t = slotstream_verify::VerifyOptions::DEFAULT_MAX_REPORT)]
    pub max_report: usize,
    /// The copy's `--map-db SRC=DST` (repeatable): source database SRC is compared with target
    /// database DST.
    #[arg(long = "map-db", value_name = "SRC=DST", value_parser = parse_db_pair)]
    pub map_db: Vec<(u32, u32)>,
    /// The copy's filters: only the databases and keys it holds are compared.
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
}

/// Which node of each shard of a cluster source is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourcePrefer {
    Primary,
    Replica,
}

#[cfg(feature = "kafka")]
impl ProduceArgs {
    pub fn source_timeout(&self) -> anyhow::Result<std::time::Duration> {
        source_timeout(self.source_timeout_secs)
    }
}

impl SyncArgs {
    pub fn source_timeout(&self) -> anyhow::Result<std::time::Duration> {
        source_timeout(self.source_timeout_secs)
    }
}

fn source_timeout(secs: u64) -> anyhow::Result<std::time::Duration> {
    anyhow::ensure!(
        secs >= 1,
        "--source-timeout-secs must be at least 1 (got {secs}); it should exceed the source's \
         repl-ping-replica-period (10 s by default)"
    );
    Ok(std::time::Duration::from_secs(secs))
}
