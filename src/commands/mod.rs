//! One module per subcommand; [`run`] dispatches.

mod check;

#[cfg(feature = "kafka")]
mod consume;
#[cfg(feature = "kafka")]
mod dev_broker;
#[cfg(feature = "kafka")]
mod produce;
mod reload;
#[cfg(feature = "kafka")]
mod replay;
mod retry;
#[cfg(feature = "kafka")]
mod shard_topic;
mod shards;
mod status;
mod sync;
mod verify;

use crate::cli::Command;
use crate::progress::{Numbers, Progress};
use crate::shutdown::{Shutdown, DRAIN_DEADLINE};
use slotstream_consumer::ApplyStats;
use slotstream_producer::CaptureStats;
use std::process::ExitCode;

/// Runs one subcommand to completion on a fresh Tokio runtime, with the process's one
/// [`Shutdown`] watching SIGTERM and SIGINT.
pub fn run(mut command: Command) -> anyhow::Result<ExitCode> {
    crate::credentials::resolve(&mut command)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let shutdown = runtime.block_on(async { Shutdown::install(DRAIN_DEADLINE) })?;
    let outcome = runtime.block_on(async {
        match command {
            Command::Sync(args) => sync::run(args, &shutdown).await,
            Command::Verify(args) => verify::run(args, &shutdown).await,
            Command::Check(args) => check::run(args, &shutdown).await,
            Command::Status(args) => status::run(args, &shutdown).await,
            #[cfg(feature = "kafka")]
            Command::Produce(args) => produce::run(args, &shutdown).await,
            #[cfg(feature = "kafka")]
            Command::Consume(args) => consume::run(args, &shutdown).await,
            #[cfg(feature = "kafka")]
            Command::Replay(args) => replay::run(args, &shutdown).await,
            #[cfg(feature = "kafka")]
            Command::DevBroker(args) => dev_broker::run(args, &shutdown).await,
        }
    });
    // A blocking thread still waiting on a dead peer (a broker that is gone) must not keep the
    // process alive once the command has decided to end.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

/// The apply side's error, with `resume` (how a restart goes on) unless the target refused
/// the data itself: then a restart would stop again at the same place.
pub fn apply_failed(err: slotstream_consumer::ApplyError, resume: &str) -> anyhow::Error {
    match err {
        slotstream_consumer::ApplyError::Incompatible { .. }
        | slotstream_consumer::ApplyError::NotEmpty { .. }
        | slotstream_consumer::ApplyError::Unsupported(_) => {
            anyhow::Error::new(err).context("apply stopped")
        }
        err => anyhow::Error::new(err).context(format!("apply failed; {resume}")),
    }
}

/// Logs go to stderr, filtered by `--log` (or RUST_LOG when set).
pub fn init_logging(filter: &str, format: crate::cli::LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    let registry = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(filter))
        .with(crate::metrics::problems::Problems);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        crate::cli::LogFormat::Text => registry
            .with(lines.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .init(),
        crate::cli::LogFormat::Json => registry.with(lines.json()).init(),
    }
}

/// Kafka settings from the command line and the optional properties file.
#[cfg(feature = "kafka")]
pub fn kafka_settings(
    args: &crate::cli::KafkaArgs,
) -> anyhow::Result<slotstream_kafka::KafkaSettings> {
    use anyhow::Context;
    let file_text = match &args.kafka_config_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read Kafka config file {}", path.display()))?,
        ),
        None => None,
    };
    Ok(slotstream_kafka::KafkaSettings::with_properties(
        &args.brokers,
        &args.topic,
        file_text.as_deref(),
        &args.kafka_config,
    )?)
}

/// Adds a capture side's counters to the progress line (`sync` of a cluster has one per shard).
pub fn capture_progress(stats: &CaptureStats, numbers: &mut Numbers) {
    numbers.keys_read += stats.keys();
    numbers.rdb_bytes += stats.rdb_bytes();
    numbers.rdb_total += stats.rdb_total();
    numbers.keys_expected += stats.keys_expected();
    numbers.captures += 1;
    numbers.captures_live += usize::from(stats.is_live());
    if stats.is_live() {
        numbers.source_offsets.insert(stats.shard, stats.offset());
    }
}

/// The apply side's counters, for the progress line.
pub fn apply_progress(stats: &ApplyStats, numbers: &mut Numbers) {
    numbers.keys_applied = stats.keys();
    numbers.commands = stats.commands();
    numbers.refused = stats.refused();
    numbers.lags_ms = stats.lags();
    numbers.applied = stats.applied();
    numbers.batch_latency = stats.batch_latency.read();
    numbers.throttle_waited = reload::throttle_waited();
}

/// The log line and exit code of a run that stopped on request before it was done.
pub fn stopped(what: &str) -> ExitCode {
    tracing::info!("stopped {what}; the saved position stands");
    ExitCode::SUCCESS
}

/// Starts `--metrics-addr` and the lag alert of `args` for `command`.
pub async fn start_metrics(
    args: &crate::cli::MetricsArgs,
    command: &'static str,
) -> anyhow::Result<()> {
    let alert = match (args.alert_lag(), &args.alert_webhook) {
        (None, _) => None,
        (Some(threshold), webhook) => {
            if let Some(url) = webhook {
                anyhow::ensure!(
                    matches!(url.scheme(), "http" | "https") && url.host_str().is_some(),
                    "--alert-webhook {} is not an http:// or https:// URL with a host",
                    crate::metrics::alert::shown(url)
                );
            }
            Some(crate::metrics::alert::LagAlert {
                threshold,
                webhook: webhook.clone(),
                command,
            })
        }
    };
    crate::metrics::start(args.metrics_addr, args.ready_lag(), alert).await
}

/// Logs progress from `read` and serves it to `--metrics-addr`, until the returned task stops.
pub fn watch(read: impl Fn() -> Numbers + Send + Sync + 'static) -> Progress {
    let read: crate::progress::Reader = std::sync::Arc::new(read);
    crate::metrics::publish(read.clone());
    Progress::spawn(read)
}
