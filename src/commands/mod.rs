//! One module per subcommand; [`run`] dispatches.

#[cfg(feature = "kafka")]
mod consume;
#[cfg(feature = "kafka")]
mod dev_broker;
#[cfg(feature = "kafka")]
mod produce;
mod progress;
#[cfg(feature = "kafka")]
mod replay;
mod retry;
mod sync;
mod verify;

use crate::cli::Command;
use std::process::ExitCode;

/// Runs one subcommand to completion on a fresh Tokio runtime.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = match command {
        Command::Sync(args) => runtime.block_on(sync::run(args)),
        Command::Verify(args) => runtime.block_on(verify::run(args)),
        #[cfg(feature = "kafka")]
        Command::Produce(args) => runtime.block_on(produce::run(args)),
        #[cfg(feature = "kafka")]
        Command::Consume(args) => runtime.block_on(consume::run(args)),
        #[cfg(feature = "kafka")]
        Command::Replay(args) => runtime.block_on(replay::run(args)),
        #[cfg(feature = "kafka")]
        Command::DevBroker(args) => runtime.block_on(dev_broker::run(args)),
    };
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
pub fn init_logging(filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
