//! One module per subcommand; [`run`] dispatches.

mod progress;
mod sync;
mod verify;

use crate::cli::Command;
use std::process::ExitCode;

/// Runs one subcommand to completion on a fresh Tokio runtime.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Sync(args) => runtime.block_on(sync::run(args)),
        Command::Verify(args) => runtime.block_on(verify::run(args)),
    }
}

/// Logs go to stderr, filtered by `--log` (or RUST_LOG when set).
pub fn init_logging(filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_string());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
}
