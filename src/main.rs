//! The `slotstream` command: parses the command line, sets up logging and runs one subcommand.
//!
//! # Layout
//! - `cli`: the clap definitions, one struct per subcommand.
//! - `commands`: one file per subcommand, each a thin driver over the library crates.
//! - `layers`: options from a config file (`--config`) and `SLOTSTREAM_*` variables, put
//!   before the command line's.
//! - `progress`: the counters a command reports ([`progress::Numbers`]) and its progress lines.
//! - `metrics`: `--metrics-addr`, the same numbers for Prometheus and orchestrators.
//! - `shutdown`: the one stop token of the process: SIGTERM/SIGINT start a drain, a second
//!   signal exits at once, a deadline bounds the drain.

#![forbid(unsafe_code)]

mod check;
mod cli;
mod commands;
mod credentials;
mod layers;
mod metrics;
mod progress;
mod shutdown;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Test builds only (the `failpoints` feature): named points where a test ends the process.
    slotstream_consumer::failpoints::from_env();
    let args = match layers::layered(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let cli = cli::Cli::parse_from(args);
    commands::init_logging(&cli.log, cli.log_format);
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
