//! `slotstream sync`: producer and consumer in one process, joined by the in-process log.
//!
//! The destination keeps a checkpoint per partition, as with Kafka. A restarted `sync` asks the
//! source to continue from the lowest checkpoint (`PSYNC`), and every partition skips what its
//! checkpoint covers: nothing is lost or applied twice across a kill. If the source cannot
//! continue, a new epoch's snapshot replaces the old one (with the sweep).

use crate::cli::SyncArgs;
use crate::commands::progress::{peak_rss_bytes, Numbers, Progress};
use crate::commands::retry::Advanced;
use crate::commands::{apply_progress, capture_progress, stopped};
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_consumer::checkpoint::Checkpoint;
use slotstream_consumer::{Applier, ApplyStats, ApplySummary, RunOptions};
use slotstream_producer::config::SourceAddr;
use slotstream_producer::route::Router;
use slotstream_producer::{CaptureError, CaptureStats, Session, SourceConfig};
use slotstream_schemas::log::LogError;
use slotstream_schemas::memory::{memory_log, MemoryLogConfig, MemoryWriter};
use slotstream_schemas::resume::ResumePoint;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: SyncArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let give_up_after = std::time::Duration::from_secs(args.retry_for_secs);
    crate::commands::retry::with_retries(give_up_after, shutdown, |advanced| {
        run_once(args.clone(), shutdown, advanced)
    })
    .await
}

/// What the target's checkpoints say about where this run starts.
struct Start {
    applier: Applier,
    log_name: String,
    source_id: String,
    checkpoints: Vec<Option<Checkpoint>>,
    /// Where the source may continue from, if every partition finished the same epoch.
    resume: Option<ResumePoint>,
    /// The epoch a full sync opens: one past every epoch the checkpoints name, so a snapshot
    /// that was interrupted (its epoch named by some checkpoints, never finished) is followed
    /// by a newer one whose sweep removes what the source deleted meanwhile.
    next_epoch: u64,
}

/// One attempt: read the checkpoints, run capture (on its own thread) and apply until the log
/// ends, a stop drains them, or a side fails.
async fn run_once(
    args: SyncArgs,
    shutdown: &Shutdown,
    advanced: Advanced,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    anyhow::ensure!(
        (1..=16384).contains(&args.partitions),
        "--partitions must be between 1 and 16384 (got {})",
        args.partitions
    );
    let Some(start) = shutdown.or_stop(read_start(&args)).await else {
        return Ok(stopped("before the sync began"));
    };
    let start = start?;
    let (writer, readers) = memory_log(MemoryLogConfig {
        partitions: args.partitions,
        ..MemoryLogConfig::default()
    });
    let capture_stats = Arc::new(CaptureStats::default());
    let apply_stats = Arc::new(ApplyStats::default());
    let mut source = SourceConfig::new(&args.source);
    source.chunk_bytes = args.chunk_bytes;
    source.read_timeout = args.source_timeout()?;
    source.source_id = Some(start.source_id);
    let options = CaptureOptions {
        snapshot_only: args.snapshot_only,
        forward_publish: args.forward_publish,
        partitions: args.partitions,
        next_epoch: start.next_epoch,
    };
    let capture = {
        let (stats, stop, resume) = (capture_stats.clone(), shutdown.flag(), start.resume);
        std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || {
                // The writer is dropped when this returns, which closes the log: the partition
                // tasks then drain and end. A stop reaches it through `stop`.
                capture(&source, resume, writer, &options, &stats, &stop)
            })
            .context("cannot start the capture thread")?
    };
    let progress = Progress::spawn({
        let (capture, apply) = (capture_stats.clone(), apply_stats.clone());
        move || {
            let mut numbers = Numbers::default();
            capture_progress(&capture, &mut numbers);
            apply_progress(&apply, &mut numbers);
            numbers
        }
    });
    let options = RunOptions {
        log_name: start.log_name.clone(),
        existing_log: Some(start.log_name.clone()),
        checkpoint_log: Some(start.log_name),
        start: start.checkpoints,
        stop_after_snapshot: args.snapshot_only,
        // A new snapshot ends the run, not the one the checkpoints already hold.
        snapshot_epoch: args.snapshot_only.then_some(start.next_epoch),
        ..RunOptions::default()
    };
    // Not raced against a stop: the capture side sees it and closes the log, and the partitions
    // then apply what is in it and end (the shutdown's deadline bounds the wait).
    let applied = start
        .applier
        .run(readers, apply_stats.clone(), options)
        .await;
    let captured = tokio::task::spawn_blocking(move || capture.join())
        .await
        .context("capture thread")?
        .map_err(|_| anyhow::anyhow!("the capture thread panicked"))?;
    progress.stop();
    if apply_stats.commands() > 0 {
        advanced.mark();
    }
    report(&args, started, captured, applied, &apply_stats)
}

/// Connects to the target and reads its checkpoints: they say whether the source can continue
/// or a full sync (which epoch) is needed. Checks the target before asking the source for
/// anything: a wrong target URL should cost nothing on the source.
async fn read_start(args: &SyncArgs) -> anyhow::Result<Start> {
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
            next_epoch = last_epoch + 1,
            "the target's checkpoints are incomplete (or a fresh snapshot was asked for): full sync"
        ),
        None => {}
    }
    Ok(Start {
        applier,
        log_name,
        source_id,
        checkpoints,
        resume,
        next_epoch: last_epoch + 1,
    })
}

/// The run's outcome from both sides': the root cause when one failed, a clean stop, or the
/// summary line.
fn report(
    args: &SyncArgs,
    started: Instant,
    captured: Result<String, CaptureError>,
    applied: Result<ApplySummary, slotstream_consumer::ApplyError>,
    apply_stats: &ApplyStats,
) -> anyhow::Result<ExitCode> {
    // Report the root cause: when the apply side fails, the capture side only sees the log
    // close under it.
    let captured = match captured {
        Err(CaptureError::Log(LogError::Closed(_))) if applied.is_err() => None,
        Err(CaptureError::Stopped { .. }) if applied.is_ok() => {
            return Ok(stopped(
                "in the middle of the snapshot: the target holds part of it, and the next run \
                 takes a new full sync as the next epoch",
            ))
        }
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
        snapshot_complete: true,
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
            let summary = session.snapshot(options.next_epoch, &mut writer, stats, stop)?;
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
