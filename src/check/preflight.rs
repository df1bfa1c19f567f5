//! The checks `sync`, `produce` and `consume` take before their first write: `slotstream
//! check`'s items for the sides they have, less what needs a sample of the write rate (backlog,
//! replica buffer) and what the run checks itself, with more to say (reachable, replication:
//! the capture names a missing ACL rule; cluster slots: the uncovered ranges; keys of its own:
//! the claim at the first write; functions and field TTLs: the snapshot's start, naming the
//! libraries and keys). A failed item stops the command before it writes, unless
//! `--skip-check` names it; warnings are logged.

use super::source::SourceSeen;
use super::{Item, Verdict};
use slotstream_consumer::TargetConfig;
use slotstream_producer::SourceConfig;

/// Items the preflight leaves to the run (see the module doc).
const LEFT_TO_THE_RUN: [&str; 6] = [
    "reachable",
    "replication",
    "cluster slots",
    "keys of its own",
    "functions",
    "field TTLs",
];

/// The items `--skip-check` may name, as it spells them.
pub const SKIPPABLE: [&str; 6] = [
    "version",
    "repl-timeout",
    "maxmemory-policy",
    "memory",
    "proto-max-bulk-len",
    "modules",
];

/// Runs the checks on the sides given (a cluster source's shards as one source: what they
/// hold together against the target); `Err` names every failed item and what to do.
pub async fn before_first_write(
    sources: &[SourceConfig],
    target: Option<&TargetConfig>,
    skip: &[String],
) -> anyhow::Result<()> {
    let mut items = Vec::new();
    let mut seen: Option<SourceSeen> = None;
    for config in sources {
        let config = config.clone();
        let (found, source) =
            tokio::task::spawn_blocking(move || super::source::check(&config, None)).await?;
        items.extend(found.into_iter().map(|item| ("source", item)));
        seen = match (seen, source) {
            (Some(all), Some(shard)) => Some(all.with(shard)),
            (all, shard) => all.or(shard),
        };
    }
    if let Some(config) = target {
        let found = super::target::check(config, seen.as_ref(), false).await;
        items.extend(found.into_iter().map(|item| ("target", item)));
    }
    let judged: Vec<(&str, Item)> = items
        .into_iter()
        .filter(|(_, item)| !LEFT_TO_THE_RUN.contains(&item.name))
        .filter(|(_, item)| !skip.iter().any(|s| s == item.name))
        .collect();
    let mut failed = Vec::new();
    for (side, item) in &judged {
        match item.verdict {
            Verdict::Pass => {
                tracing::debug!(side, item = item.name, found = %item.found, "check passed")
            }
            Verdict::Warn => tracing::warn!(
                "check of the {side}: {}: {} → {}",
                item.name,
                item.found,
                item.advice
            ),
            Verdict::Fail => failed.push(format!(
                "{side} {}: {} → {} (or pass --skip-check {} to go on all the same)",
                item.name, item.found, item.advice, item.name
            )),
        }
    }
    let warnings = judged
        .iter()
        .filter(|(_, i)| i.verdict == Verdict::Warn)
        .count();
    tracing::info!(
        checked = judged.len(),
        warnings,
        failed = failed.len(),
        "checks before the first write"
    );
    anyhow::ensure!(
        failed.is_empty(),
        "the checks before the first write failed; nothing was written:\n  {}",
        failed.join("\n  ")
    );
    Ok(())
}
