//! The `slotstream` command: parses the command line, sets up logging and runs one subcommand.
//!
//! # Layout
//! - `cli`: the clap definitions, one struct per subcommand.
//! - `commands`: one file per subcommand, each a thin driver over the library crates.

#![forbid(unsafe_code)]

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    commands::init_logging(&cli.log);
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
