//! `slotstream check`'s arguments: the sides to check, reached as `sync` reaches them.

use super::{SentinelArgs, SourceSecret, TargetSecret, ValueArgs};
use clap::builder::PossibleValuesParser;
use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Source Redis URL, as `sync` and `produce` take it (leave out to check only the target).
    #[arg(long)]
    pub source: Option<String>,
    #[command(flatten)]
    pub source_secret: SourceSecret,
    /// Target Redis URL, as `sync` and `consume` take it (leave out to check only the source).
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub target_secret: TargetSecret,
    /// The copy's choices (`--on-existing` decides whether keys of the target's own fail).
    #[command(flatten)]
    pub values: ValueArgs,
    #[command(flatten)]
    pub sentinel: SentinelArgs,
    /// How long the source's write rate is sampled, for its backlog and replica buffer.
    #[arg(long, default_value_t = 2)]
    pub sample_secs: u64,
}

/// The checks `sync`, `produce` and `consume` take before their first write.
#[derive(Debug, Clone, Default, Args)]
pub struct PreflightArgs {
    /// Go on although this check fails (repeatable), e.g. `--skip-check memory` for a target
    /// whose maxmemory will be raised while the copy waits on its OOM replies.
    #[arg(long = "skip-check", value_name = "ITEM",
          value_parser = PossibleValuesParser::new(crate::check::preflight::SKIPPABLE))]
    pub skip_check: Vec<String>,
}
