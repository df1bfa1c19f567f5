//! `slotstream produce`: capture the source into a Kafka topic, resuming where the last run's
//! resume point says.

use crate::cli::ProduceArgs;
use crate::commands::progress::{Numbers, Progress};
use crate::commands::retry::Advanced;
use crate::commands::{capture_progress, kafka_settings, stopped};
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_kafka::{load_resume_point, KafkaSettings, KafkaWriter};
use slotstream_producer::config::SourceAddr;
use slotstream_producer::route::Router;
use slotstream_producer::{CaptureError, CaptureStats, Session, SourceConfig};
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::resume::ResumePoint;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub async fn run(args: ProduceArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let give_up_after = std::time::Duration::from_secs(args.retry_for_secs);
    crate::commands::retry::with_retries(give_up_after, shutdown, |advanced| {
        run_once(args.clone(), shutdown, advanced)
    })
    .await
}

/// Runs the capture thread until it ends. A stop reaches it through the shutdown's flag: it
/// ends at its next record, flushes and saves the resume point. It may be waiting on a broker
/// that is gone; the shutdown's deadline then exits the process, which is safe: the resume
/// point only ever names acknowledged records, and the consumer drops what a restart produces
/// again.
async fn run_once(
    args: ProduceArgs,
    shutdown: &Shutdown,
    advanced: Advanced,
) -> anyhow::Result<ExitCode> {
    let settings = kafka_settings(&args.kafka)?;
    let stop = shutdown.flag();
    let capture_stats = Arc::new(CaptureStats::default());
    let progress = Progress::spawn({
        let stats = capture_stats.clone();
        move || {
            let mut numbers = Numbers::default();
            capture_progress(&stats, &mut numbers);
            numbers
        }
    });
    let outcome = tokio::task::spawn_blocking(move || {
        produce(args, settings, &stop, &capture_stats, &advanced)
    })
    .await;
    progress.stop();
    outcome.context("the capture thread failed")?
}

fn produce(
    args: ProduceArgs,
    settings: KafkaSettings,
    stop: &AtomicBool,
    stats: &CaptureStats,
    advanced: &Advanced,
) -> anyhow::Result<ExitCode> {
    let mut writer =
        KafkaWriter::open(&settings, args.partitions)?.with_kind_headers(args.kind_headers);
    let stored = load_resume_point(&settings)?;
    // A point whose snapshot never finished names no position a source can continue from.
    let resume = stored.clone().filter(|point| point.snapshot_complete);
    let mut source = SourceConfig::new(&args.source);
    source.chunk_bytes = args.chunk_bytes;
    source.read_timeout = args.source_timeout()?;
    source.source_id = args.source_id.clone();
    let mut session = Session::start(&source, resume.as_ref())?;
    slotstream_producer::headroom::report_in_background(
        source.clone(),
        SourceAddr::parse(&source.url)?.to_string(),
        slotstream_producer::headroom::SAMPLE,
    );
    if stop.load(Ordering::Relaxed) {
        return Ok(stopped("before reading from the source"));
    }
    if let Some(point) = &stored {
        anyhow::ensure!(
            point.source == session.source_id(),
            "topic {} is fed by source {:?}, not {:?}; use another topic, or pass --source-id {:?} \
             if this is the same source under a new address",
            settings.topic,
            point.source,
            session.source_id(),
            point.source
        );
    }
    let mut point =
        match resume.filter(|_| session.transfer.is_none()) {
            Some(mut point) => {
                // A source that failed over answers `+CONTINUE <new replid>`.
                point.replid = session.replid.clone();
                println!(
                    "produce: continuing epoch {} of topic {} from offset {}",
                    point.epoch, settings.topic, point.offset
                );
                point
            }
            None => {
                let epoch = next_epoch(stored.as_ref());
                match full_sync(&mut session, epoch, &mut writer, &settings, stats, stop)? {
                    Some(point) => point,
                    None => return Ok(stopped(
                        "in the middle of the snapshot: a restart takes a new full sync as the \
                         next epoch",
                    )),
                }
            }
        };
    if args.snapshot_only {
        return Ok(ExitCode::SUCCESS);
    }
    let mut router = Router::new(
        session.command_table()?,
        point.source.clone(),
        point.epoch,
        args.partitions,
        point.db,
        args.forward_publish,
        source.url.clone(),
    );
    let follower = session.into_follower()?;
    follower.run(stop, &mut router, &mut writer, |progress, writer| {
        point.offset = progress.offset;
        point.db = progress.db;
        writer
            .save_resume_point(&point)
            .map_err(|err| CaptureError::Log(err.into()))?;
        // Live changes acknowledged: a failure from here on is a new outage.
        advanced.mark();
        Ok(())
    })?;
    writer.flush()?;
    writer.save_resume_point(&point)?;
    Ok(stopped(
        "following the source: the resume point is at the last acknowledged offset",
    ))
}

/// The epoch a full sync opens: one past the stored point's, or, on a topic without one, the
/// time in Unix milliseconds. A stored point whose snapshot never finished claimed its epoch;
/// taking the next one makes the consumer sweep the keys the cut-short snapshot left that the
/// source no longer holds. A topic whose broker lost everything, resume point included, must
/// not number an epoch again that a target applied: its consumer would skip that epoch's
/// records as copies (the Kafka reader's epoch order relies on new epochs being newer).
fn next_epoch(stored: Option<&ResumePoint>) -> u64 {
    let Some(previous) = stored else {
        return first_epoch();
    };
    if previous.snapshot_complete {
        tracing::warn!(
            replid = %previous.replid,
            offset = previous.offset,
            "the source could not continue from the resume point (its backlog no longer \
             holds it, or it has a new replication id): full resync, a new epoch begins"
        );
    } else {
        tracing::warn!(
            epoch = previous.epoch,
            "the last run stopped in the middle of its snapshot, which cannot be continued: \
             full resync, a new epoch begins"
        );
    }
    previous.epoch + 1
}

/// A topic's first epoch: the time in Unix milliseconds (at least 1).
fn first_epoch() -> u64 {
    u64::try_from(slotstream_schemas::now_ms())
        .unwrap_or(0)
        .max(1)
}

/// Takes the snapshot as `epoch`: claims the epoch in the resume topic before its first record,
/// and marks it complete once every record of the snapshot is acknowledged. Returns the
/// complete point, or `None` when a stop cut the snapshot short.
fn full_sync(
    session: &mut Session,
    epoch: u64,
    writer: &mut KafkaWriter,
    settings: &KafkaSettings,
    stats: &CaptureStats,
    stop: &AtomicBool,
) -> anyhow::Result<Option<ResumePoint>> {
    let mut point = ResumePoint {
        source: session.source_id().to_string(),
        replid: session.replid.clone(),
        offset: session.offset,
        epoch,
        partitions: writer.partitions(),
        db: 0,
        snapshot_complete: false,
    };
    writer.save_resume_point(&point)?;
    let summary = match session.snapshot(epoch, writer, stats, stop) {
        Err(CaptureError::Stopped { .. }) => return Ok(None),
        summary => summary?,
    };
    point.snapshot_complete = true;
    writer.save_resume_point(&point)?;
    println!(
        "produce: snapshot of {} keys from {} is in topic {} (epoch {epoch})",
        summary.snapshot.keys, summary.snapshot.source_version, settings.topic
    );
    Ok(Some(point))
}
