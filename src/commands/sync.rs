//! `slotstream sync`: producer and consumer in one process, joined by the in-process log.
//!
//! The destination keeps a checkpoint per partition, as with Kafka. A restarted `sync` asks the
//! source to continue from the lowest checkpoint (`PSYNC`), and every partition skips what its
//! checkpoint covers: nothing is lost or applied twice across a kill. If the source cannot
//! continue, a new epoch's snapshot replaces the old one (with the sweep).

use crate::cli::SyncArgs;
use crate::commands::progress::{peak_rss_bytes, Progress};
use anyhow::Context;
use slotstream_consumer::checkpoint::Checkpoint;
use slotstream_consumer::{Applier, ApplyStats, RunOptions};
use slotstream_producer::config::SourceAddr;
use slotstream_producer::route::Router;
use slotstream_producer::{CaptureError, CaptureStats, Session, SourceConfig};
use slotstream_schemas::log::LogError;
use slotstream_schemas::memory::{memory_log, MemoryLogConfig, MemoryWriter};
use slotstream_schemas::resume::ResumePoint;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let give_up_after = std::time::Duration::from_secs(args.retry_for_secs);
    crate::commands::retry::with_retries(give_up_after, || run_once(args.clone())).await
}

async fn run_once(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    anyhow::ensure!(
        (1..=16384).contains(&args.partitions),
        "--partitions must be between 1 and 16384 (got {})",
        args.partitions
    );
    // Check the destination before asking the source for anything: a wrong target URL should
    // cost nothing on the source.
    let applier = Applier::connect(&args.values.target_config(&args.target)).await?;
    let source_id = match &args.source_id {
        Some(id) => id.clone(),
        None => SourceAddr::parse(&args.source)?.to_string(),
    };
    let log_name = format!("sync:{source_id}");
    let checkpoints = applier.load_checkpoints(&log_name, args.partitions).await?;
    let replid = applier.load_replid(&log_name).await?;
    let resume = if args.snapshot_only {
        None
    } else {
        resume_point(&checkpoints, replid, &source_id, args.partitions)
    };
    let last_epoch = checkpoints
        .iter()
        .flatten()
        .map(|c| c.epoch)
        .max()
        .unwrap_or(0);
    match &resume {
        Some(point) => tracing::info!(
            epoch = point.epoch,
            offset = point.offset,
            "the target's checkpoints are complete: asking the source to continue"
        ),
        None if last_epoch > 0 => tracing::info!(
            complete = checkpoints.iter().flatten().filter(|c| c.snapshot_done).count(),
            partitions = args.partitions,
            "the target's checkpoints are incomplete (or a fresh snapshot was asked for): full sync"
        ),
        None => {}
    }

    let (writer, readers) = memory_log(MemoryLogConfig {
        partitions: args.partitions,
        ..MemoryLogConfig::default()
    });
    let capture_stats = Arc::new(CaptureStats::default());
    let apply_stats = Arc::new(ApplyStats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut source = SourceConfig::new(&args.source);
    source.chunk_bytes = args.chunk_bytes;
    source.source_id = Some(source_id);

    let capture = {
        let stats = capture_stats.clone();
        let stop = stop.clone();
        let options = CaptureOptions {
            snapshot_only: args.snapshot_only,
            forward_publish: args.forward_publish,
            partitions: args.partitions,
            next_epoch: last_epoch + 1,
        };
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                // The writer is dropped when this returns, which closes the log: the partition
                // tasks then drain and end.
                capture(&source, resume, writer, &options, &stats, &stop)
            })
            .context("cannot start the capture thread")?
    };
    let progress = Progress::spawn(capture_stats.clone(), apply_stats.clone());
    let options = RunOptions {
        existing_log: Some(log_name.clone()),
        checkpoint_log: Some(log_name),
        start: checkpoints,
        stop_after_snapshot: args.snapshot_only,
        // A new snapshot ends the run, not the one the checkpoints already hold.
        snapshot_epoch: args.snapshot_only.then_some(last_epoch + 1),
        ..RunOptions::default()
    };
    let apply = applier.run(readers, apply_stats.clone(), options);
    tokio::pin!(apply);
    let applied = tokio::select! {
        applied = &mut apply => applied,
        _ = crate::commands::shutdown_signal() => {
            tracing::info!("stopping: the destination's checkpoints cover everything applied");
            stop.store(true, Ordering::Relaxed);
            apply.await
        }
    };
    let captured = tokio::task::spawn_blocking(move || capture.join())
        .await
        .context("capture thread")?
        .map_err(|_| anyhow::anyhow!("the capture thread panicked"))?;
    progress.stop();

    // Report the root cause: when the apply side fails, the capture side only sees the log
    // close under it.
    let captured = match captured {
        Err(CaptureError::Log(LogError::Closed(_))) if applied.is_err() => None,
        Err(err) => return Err(anyhow::Error::new(err).context("capture failed")),
        Ok(summary) => Some(summary),
    };
    let applied = applied.map_err(|err| {
        crate::commands::apply_failed(
            err,
            "a new run continues from the checkpoints kept in the target",
        )
    })?;
    let captured = captured.context("capture ended without a summary")?;
    if args.snapshot_only {
        anyhow::ensure!(
            applied.snapshot_complete(),
            "the log ended before every partition applied the end of the snapshot"
        );
    }
    let elapsed = started.elapsed();
    let peak_mb = peak_rss_bytes().map(|b| b >> 20).unwrap_or(0);
    tracing::info!(
        keys = applied.keys,
        commands = apply_stats.commands(),
        expired_skipped = applied.expired,
        left_out = apply_stats.left_out(),
        refused = apply_stats.refused(),
        seconds = format!("{:.2}", elapsed.as_secs_f64()),
        peak_rss_mb = peak_mb,
        "sync done"
    );
    println!(
        "sync: snapshot applied: {} keys ({} already expired, skipped) from {} in {:.2} s, \
         peak RSS {} MB",
        applied.keys,
        applied.expired,
        captured,
        elapsed.as_secs_f64(),
        peak_mb
    );
    Ok(ExitCode::SUCCESS)
}

struct CaptureOptions {
    snapshot_only: bool,
    forward_publish: bool,
    partitions: u32,
    next_epoch: u64,
}

/// Where the source may continue from, if every partition has a complete checkpoint of one
/// epoch: the lowest offset, so no partition misses anything (the others skip what they have).
fn resume_point(
    checkpoints: &[Option<Checkpoint>],
    replid: Option<String>,
    source: &str,
    partitions: u32,
) -> Option<ResumePoint> {
    let all: Vec<&Checkpoint> = checkpoints.iter().flatten().collect();
    let first = all.first()?;
    let usable = all.len() == checkpoints.len()
        && all
            .iter()
            .all(|c| c.epoch == first.epoch && c.snapshot_done);
    let lowest = all.iter().min_by_key(|c| c.position.offset)?;
    if !usable {
        return None;
    }
    Some(ResumePoint {
        source: source.to_string(),
        replid: replid?,
        offset: lowest.position.offset,
        epoch: first.epoch,
        partitions,
        db: lowest.db,
    })
}

/// The capture side: continue or take a snapshot, then follow the stream until stopped.
/// Returns a description of the source for the summary line.
fn capture(
    source: &SourceConfig,
    resume: Option<ResumePoint>,
    mut writer: MemoryWriter,
    options: &CaptureOptions,
    stats: &CaptureStats,
    stop: &AtomicBool,
) -> Result<String, CaptureError> {
    let mut session = Session::start(source, resume.as_ref())?;
    let (epoch, db, described) = match (&resume, session.transfer.is_some()) {
        (Some(point), false) => (
            point.epoch,
            point.db,
            format!("continuing epoch {}", point.epoch),
        ),
        (previous, _) => {
            if let Some(previous) = previous {
                tracing::warn!(
                    replid = %previous.replid,
                    offset = previous.offset,
                    "the source could not continue from the checkpoints (its backlog no longer \
                     holds that offset, or its replication id changed): full resync, epoch {}",
                    options.next_epoch
                );
            }
            let summary = session.snapshot(options.next_epoch, &mut writer, stats)?;
            (options.next_epoch, 0, summary.snapshot.source_version)
        }
    };
    if options.snapshot_only {
        return Ok(described);
    }
    let mut router = Router::new(
        session.command_table()?,
        session.source_id().to_string(),
        epoch,
        options.partitions,
        db,
        options.forward_publish,
        source.url.clone(),
    );
    tracing::info!(epoch, "following live changes");
    let follower = session.into_follower()?;
    follower.run(stop, &mut router, &mut writer, |_, _| Ok(()))?;
    Ok(described)
}
