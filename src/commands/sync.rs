//! `slotstream sync`: producer and consumer in one process, joined by the in-process log.

use crate::cli::SyncArgs;
use crate::commands::progress::{peak_rss_bytes, Progress};
use anyhow::Context;
use slotstream_consumer::{Applier, ApplyStats, RunOptions, TargetConfig};
use slotstream_producer::{capture_snapshot, CaptureError, CaptureStats, SourceConfig};
use slotstream_schemas::log::LogError;
use slotstream_schemas::memory::{memory_log, MemoryLogConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The first full sync opens epoch 1.
const FIRST_EPOCH: u64 = 1;

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    anyhow::ensure!(
        (1..=16384).contains(&args.partitions),
        "--partitions must be between 1 and 16384 (got {})",
        args.partitions
    );
    // Check the destination before asking the source for a snapshot: a wrong target URL should
    // cost nothing on the source.
    let applier = Applier::connect(&TargetConfig::new(&args.target)).await?;

    let (writer, readers) = memory_log(MemoryLogConfig {
        partitions: args.partitions,
        ..MemoryLogConfig::default()
    });
    let capture_stats = Arc::new(CaptureStats::default());
    let apply_stats = Arc::new(ApplyStats::default());
    let mut source = SourceConfig::new(&args.source);
    source.source_id = args.source_id.clone();

    let capture = {
        let stats = capture_stats.clone();
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                let mut writer = writer;
                // The writer is dropped when this returns, which closes the log: the partition
                // tasks then drain and end.
                capture_snapshot(&source, FIRST_EPOCH, &mut writer, &stats)
            })
            .context("cannot start the capture thread")?
    };
    let progress = Progress::spawn(capture_stats.clone(), apply_stats.clone());
    let applied = applier
        .run(readers, apply_stats.clone(), RunOptions::default())
        .await;
    let captured = tokio::task::spawn_blocking(move || capture.join())
        .await
        .context("capture thread")?
        .map_err(|_| anyhow::anyhow!("the capture thread panicked"))?;
    progress.stop();

    // Report the root cause: when the apply side fails, the capture side only sees the log
    // close under it.
    let captured = match captured {
        Err(CaptureError::Log(LogError::Closed(_))) if applied.is_err() => None,
        Err(err) => return Err(anyhow::Error::new(err).context("snapshot capture failed")),
        Ok(summary) => Some(summary),
    };
    let applied = applied.context(
        "snapshot apply failed; the target holds a partial copy, which a new run overwrites",
    )?;
    let captured = captured.context("capture ended without a summary")?;
    anyhow::ensure!(
        applied.snapshot_complete(),
        "the log ended before every partition applied the end of the snapshot"
    );

    let elapsed = started.elapsed();
    tracing::info!(
        keys = applied.keys,
        expired_skipped = applied.expired,
        functions = captured.snapshot.functions,
        rdb_bytes = captured.snapshot.bytes,
        source = %captured.snapshot.source_version,
        seconds = format!("{:.2}", elapsed.as_secs_f64()),
        peak_rss_mb = peak_rss_bytes().map(|b| b >> 20).unwrap_or(0),
        "snapshot applied"
    );
    println!(
        "sync: snapshot applied: {} keys ({} already expired, skipped) from {} in {:.2} s, \
         peak RSS {} MB",
        applied.keys,
        applied.expired,
        captured.snapshot.source_version,
        elapsed.as_secs_f64(),
        peak_rss_bytes().map(|b| b >> 20).unwrap_or(0)
    );
    if !args.snapshot_only {
        tracing::warn!(
            "following live changes after the snapshot is not available in this version; \
             stopping after the snapshot (pass --snapshot-only to make this explicit)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
