//! `slotstream sync`: producer and consumer in one process, joined by the in-process log.
//!
//! The destination keeps a checkpoint per partition, as with Kafka. A restarted `sync` asks the
//! source to continue from the lowest checkpoint (`PSYNC`), and every partition skips what its
//! checkpoint covers: nothing is lost or applied twice across a kill. If the source cannot
//! continue, a new epoch's snapshot replaces the old one (with the sweep). A cluster source is
//! one such capture per shard, side by side, each with its own checkpoints ([`start`]); when
//! one fails, the others stop too, and the attempt is retried as a whole.

mod start;
mod topology;

use crate::cli::SyncArgs;
use crate::commands::retry::{Advanced, Windows};
use crate::commands::{apply_progress, capture_progress, stopped};
use crate::progress::{peak_rss_bytes, Numbers};
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_consumer::{ApplyStats, ApplySummary};
use slotstream_producer::capture::Saved;
use slotstream_producer::fork::Tails;
use slotstream_producer::route::Router;
use slotstream_producer::{CaptureError, CaptureStats, Session};
use slotstream_schemas::log::LogError;
use slotstream_schemas::memory::{memory_log, MemoryLogConfig, MemoryWriter};
use slotstream_schemas::resume::ResumePoint;
use slotstream_schemas::slot::SlotRanges;
use slotstream_schemas::Position;
use start::Start;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: SyncArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    crate::commands::start_metrics(&args.metrics, "sync").await?;
    crate::commands::reload::watch_hangup();
    let windows = Windows::secs(args.retry_for_secs, args.retry_other_for_secs);
    // Set when an attempt ended because the source's slots moved: the next one waits for the
    // resharding to end and takes a new snapshot of every shard ([`topology`]).
    let resharded = Arc::new(AtomicBool::new(false));
    let tails = Tails::default();
    crate::commands::retry::with_retries(windows, shutdown, |advanced| {
        run_once(
            args.clone(),
            shutdown,
            advanced,
            resharded.clone(),
            tails.clone(),
        )
    })
    .await
}

/// How one capture ended, and its apply side.
struct Outcome {
    log_name: String,
    captured: Result<String, CaptureError>,
    applied: Result<ApplySummary, slotstream_consumer::ApplyError>,
}

/// One attempt: read the checkpoints, run each capture (on its own thread) and its apply side
/// until the log ends, a stop drains them, or a side fails (which stops the other captures).
async fn run_once(
    args: SyncArgs,
    shutdown: &Shutdown,
    advanced: Advanced,
    resharded: Arc<AtomicBool>,
    tails: Tails,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    anyhow::ensure!(
        (1..=16384).contains(&args.partitions),
        "--partitions must be between 1 and 16384 (got {})",
        args.partitions
    );
    let fresh = resharded.load(Ordering::Relaxed);
    if fresh {
        let mut source = args
            .source_secret
            .source_config(&args.source, &args.sentinel)?;
        source.read_timeout = args.source_timeout()?;
        if !topology::wait_until_settled(&source, shutdown).await {
            return Ok(stopped("while waiting for the source's resharding to end"));
        }
    }
    let Some(starts) = shutdown.or_stop(start::read_starts(&args, fresh)).await else {
        return Ok(stopped("before the sync began"));
    };
    let starts = starts?;
    if starts
        .iter()
        .all(|s| s.checkpoints.iter().all(Option::is_none))
    {
        let sources: Vec<_> = starts.iter().map(|s| s.source.clone()).collect();
        let target =
            args.values
                .target_config(&args.target, &args.target_secret, &args.sentinel)?;
        let skip = &args.preflight.skip_check;
        crate::check::preflight::before_first_write(&sources, Some(&target), skip).await?;
    }
    resharded.store(false, Ordering::Relaxed);
    // Stops this attempt: on a stop of the process, or when one capture fails.
    let linked = shutdown.attempt();
    let attempt = &linked.token;
    let moved = Arc::new(AtomicBool::new(false));
    let slots: Vec<SlotRanges> = starts
        .iter()
        .filter_map(|s| s.source.shard.clone())
        .collect();
    if !slots.is_empty() {
        let nodes = starts.iter().map(|s| s.source.clone()).collect();
        tokio::spawn(topology::watch(
            nodes,
            slots,
            attempt.clone(),
            moved.clone(),
        ));
    }
    let apply_stats = Arc::new(ApplyStats::default());
    let capture_stats: Vec<Arc<CaptureStats>> = starts
        .iter()
        .map(|start| {
            let shard = start.source.shard.as_ref().and_then(SlotRanges::first);
            Arc::new(CaptureStats::of_shard(shard))
        })
        .collect();
    let partitions = args.partitions as usize * capture_stats.len();
    let progress = crate::commands::watch({
        let (capture, apply) = (capture_stats.clone(), apply_stats.clone());
        move || {
            let mut numbers = Numbers {
                partitions,
                ..Numbers::default()
            };
            for stats in &capture {
                capture_progress(stats, &mut numbers);
            }
            apply_progress(&apply, &mut numbers);
            numbers
        }
    });
    let mut runs = tokio::task::JoinSet::new();
    for (start, stats) in starts.into_iter().zip(capture_stats) {
        let sides = (stats, apply_stats.clone(), tails.clone());
        let run = run_capture(&args, start, sides, attempt.clone())?;
        runs.spawn(run);
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = runs.join_next().await {
        outcomes.push(joined.context("a capture's task")??);
    }
    progress.stop();
    if apply_stats.commands() > 0 {
        advanced.mark();
    }
    attempt.stop();
    let reported = if moved.load(Ordering::Relaxed) {
        Err(anyhow::Error::new(CaptureError::SlotsMoved {
            addr: slotstream_producer::config::parse_source_url(&args.source)?.to_string(),
            what: "the slot map changed".into(),
        }))
    } else {
        report(&args, started, outcomes, &apply_stats)
    };
    if let Err(err) = &reported {
        let slots_moved = err
            .chain()
            .any(|cause| matches!(cause.downcast_ref(), Some(CaptureError::SlotsMoved { .. })));
        resharded.store(slots_moved, Ordering::Relaxed);
    }
    reported
}

/// Starts one capture on its own thread and returns its apply side, which ends when the
/// capture's log closes; a failure of either side stops the attempt.
fn run_capture(
    args: &SyncArgs,
    start: Start,
    (stats, apply_stats, tails): (Arc<CaptureStats>, Arc<ApplyStats>, Tails),
    attempt: Shutdown,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<Outcome>>> {
    let (writer, readers) = memory_log(MemoryLogConfig {
        partitions: args.partitions,
        ..MemoryLogConfig::default()
    });
    let options = CaptureOptions {
        snapshot_only: args.snapshot_only,
        forward_publish: args.forward_publish,
        partitions: args.partitions,
        next_epoch: start.next_epoch,
    };
    let Start {
        applier,
        source,
        log_name,
        mut resume,
        checkpoints,
        options: mut run_options,
        ..
    } = start;
    Ok(async move {
        // The handshake first: a source that continues under a new replication id (after a
        // failover) has its new id stored with the checkpoints from the first batch on.
        let handshake = {
            let (source, resume) = (source.clone(), resume.clone());
            let tail = tails.get(&log_name);
            let highest = checkpoints
                .iter()
                .flatten()
                .map(|c| c.position.offset)
                .max();
            let can_rewind = applier.can_lower_checkpoints();
            tokio::task::spawn_blocking(move || {
                let saved = resume.as_ref().map(|point| Saved {
                    point,
                    highest: highest.unwrap_or(point.offset),
                    tail: tail.as_ref(),
                    can_rewind,
                });
                Session::start(&source, saved)
            })
            .await
            .context("the capture's handshake")?
        };
        let session = match handshake {
            Ok(session) => session,
            Err(err) => {
                attempt.stop();
                return Ok(Outcome {
                    log_name,
                    captured: Err(err),
                    applied: Ok(ApplySummary::default()),
                });
            }
        };
        if session.transfer.is_none() {
            run_options.continued_replid = Some(session.replid.clone());
        }
        if let (Some(to), Some(point)) = (session.rewound_to, resume.as_mut()) {
            // Before any record of the new history: past the fork, it reuses their positions.
            let fork = Position::end_of(to.offset);
            applier
                .lower_checkpoints(&log_name, &mut run_options.start, fork, to.db)
                .await?;
            if point.offset > to.offset {
                (point.offset, point.db) = (to.offset, to.db);
            }
        }
        let capture = {
            let stop = attempt.flag();
            let log = log_name.clone();
            std::thread::Builder::new()
                .name("capture".into())
                .spawn(move || {
                    // The writer is dropped when this returns, which closes the log: the
                    // partition tasks then drain and end. A stop reaches it through `stop`.
                    let kept = (&tails, log.as_str());
                    capture(session, resume, writer, &options, &stats, &stop, kept)
                })
                .context("cannot start the capture thread")?
        };
        // Not raced against a stop: the capture side sees it and closes the log, and the
        // partitions then apply what is in it and end (the shutdown's deadline bounds the wait).
        let applied = applier.run(readers, apply_stats, run_options).await;
        if applied.is_err() {
            attempt.stop();
        }
        let captured = tokio::task::spawn_blocking(move || capture.join())
            .await
            .context("capture thread")?
            .map_err(|_| anyhow::anyhow!("the capture thread panicked"))?;
        if matches!(&captured, Err(err) if !matches!(err, CaptureError::Stopped { .. })) {
            attempt.stop();
        }
        Ok(Outcome {
            log_name,
            captured,
            applied,
        })
    })
}

/// The run's outcome from every capture's sides: the root cause when one failed (a failure of
/// one capture stops the others, which then only report a stop), a clean stop, or the summary.
fn report(
    args: &SyncArgs,
    started: Instant,
    outcomes: Vec<Outcome>,
    apply_stats: &ApplyStats,
) -> anyhow::Result<ExitCode> {
    let many = outcomes.len() > 1;
    let mut finished = Vec::new();
    let mut stopped_in_snapshot = false;
    for outcome in outcomes {
        let name = outcome.log_name;
        let context = |err: anyhow::Error, what: &str| {
            if many {
                err.context(format!("{what} ({name})"))
            } else {
                err
            }
        };
        // Report the root cause: when the apply side fails, the capture side only sees the
        // log close under it.
        let captured = match outcome.captured {
            Err(CaptureError::Log(LogError::Closed(_))) if outcome.applied.is_err() => None,
            Err(CaptureError::Stopped { .. }) => {
                stopped_in_snapshot |= outcome.applied.is_ok();
                None
            }
            Err(err) => {
                let err = anyhow::Error::new(err).context("capture failed");
                return Err(context(err, "this shard"));
            }
            Ok(summary) => Some(summary),
        };
        let applied = match outcome.applied {
            Ok(applied) => applied,
            Err(err) => {
                let err = crate::commands::apply_failed(
                    err,
                    "a new run continues from the checkpoints kept in the target",
                );
                return Err(context(err, "this shard"));
            }
        };
        finished.push((captured, applied));
    }
    if stopped_in_snapshot {
        return Ok(stopped(
            "in the middle of the snapshot: the target holds part of it, and the next run \
             takes a new full sync as the next epoch",
        ));
    }
    let (mut keys, mut expired, mut summaries) = (0, 0, Vec::new());
    for (captured, applied) in finished {
        let captured = captured.context("capture ended without a summary")?;
        if args.snapshot_only {
            anyhow::ensure!(
                applied.snapshot_complete(),
                "the log ended before every partition applied the end of the snapshot"
            );
        }
        keys += applied.keys;
        expired += applied.expired;
        summaries.push(captured);
    }
    let elapsed = started.elapsed();
    let peak_mb = peak_rss_bytes().map(|b| b >> 20).unwrap_or(0);
    tracing::info!(
        keys,
        commands = apply_stats.commands(),
        expired_skipped = expired,
        left_out = apply_stats.left_out(),
        refused = apply_stats.refused(),
        seconds = format!("{:.2}", elapsed.as_secs_f64()),
        peak_rss_mb = peak_mb,
        "sync done"
    );
    println!(
        "sync: snapshot applied: {} keys ({} already expired, skipped) from {} in {:.2} s, \
         peak RSS {} MB",
        keys,
        expired,
        summaries.join(", "),
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

/// The capture side: continue or take a snapshot, then follow the stream until stopped.
/// Returns a description of the source for the summary line.
fn capture(
    mut session: Session,
    resume: Option<ResumePoint>,
    mut writer: MemoryWriter,
    options: &CaptureOptions,
    stats: &CaptureStats,
    stop: &AtomicBool,
    (tails, name): (&Tails, &str),
) -> Result<String, CaptureError> {
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
        slotstream_producer::config::parse_source_url(&session.config().url)?.to_string(),
    )
    .of_shard(session.config().shard.is_some())
    .following(&session.replid, session.offset)
    .filtered(session.config().filter.clone());
    tracing::info!(epoch, "following live changes");
    let follower = session.into_follower()?;
    stats.live.store(true, Ordering::Relaxed);
    let followed = follower.run(stop, &mut router, &mut writer, |progress, _| {
        stats.offset.store(progress.offset, Ordering::Relaxed);
        Ok(())
    });
    tails.keep(name, router.tail());
    followed?;
    Ok(described)
}
