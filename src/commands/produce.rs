//! `slotstream produce`: capture the source into a Kafka topic, resuming where the last run's
//! resume point says.

use crate::cli::ProduceArgs;
use crate::commands::kafka_settings;
use crate::commands::progress::Progress;
use anyhow::Context;
use slotstream_consumer::ApplyStats;
use slotstream_kafka::{load_resume_point, KafkaSettings, KafkaWriter};
use slotstream_producer::route::Router;
use slotstream_producer::{CaptureError, CaptureStats, Session, SourceConfig};
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::resume::ResumePoint;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub async fn run(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let give_up_after = std::time::Duration::from_secs(args.retry_for_secs);
    crate::commands::retry::with_retries(give_up_after, || run_once(args.clone())).await
}

/// How long a stop waits for the capture thread to flush and save its resume point.
const STOP_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

async fn run_once(args: ProduceArgs) -> anyhow::Result<ExitCode> {
    let settings = kafka_settings(&args.kafka)?;
    let stop = Arc::new(AtomicBool::new(false));
    let capture_stats = Arc::new(CaptureStats::default());
    let progress = Progress::spawn(capture_stats.clone(), Arc::new(ApplyStats::default()));
    let mut work = {
        let stop = stop.clone();
        tokio::task::spawn_blocking(move || produce(args, settings, &stop, &capture_stats))
    };
    let outcome = tokio::select! {
        outcome = &mut work => outcome,
        _ = crate::commands::shutdown_signal() => {
            tracing::info!("stopping: the resume point is saved at the last acknowledged offset");
            stop.store(true, Ordering::Relaxed);
            // The capture thread stops at its next record; it may be waiting on a broker that
            // is gone. Leaving then is safe: the resume point only ever names acknowledged
            // records, and the consumer drops what a restart produces again.
            match tokio::time::timeout(STOP_PATIENCE, &mut work).await {
                Ok(outcome) => outcome,
                Err(_) => anyhow::bail!(
                    "stopped without a final resume point: Kafka did not acknowledge the last                      records within {} s (is the broker up?); a restart resumes from the last                      saved point",
                    STOP_PATIENCE.as_secs()
                ),
            }
        }
    };
    progress.stop();
    outcome.context("the capture thread failed")?
}

fn produce(
    args: ProduceArgs,
    settings: KafkaSettings,
    stop: &AtomicBool,
    stats: &CaptureStats,
) -> anyhow::Result<ExitCode> {
    let mut writer =
        KafkaWriter::open(&settings, args.partitions)?.with_kind_headers(args.kind_headers);
    let resume = load_resume_point(&settings)?;
    let mut source = SourceConfig::new(&args.source);
    source.chunk_bytes = args.chunk_bytes;
    source.source_id = args.source_id.clone();
    let mut session = Session::start(&source, resume.as_ref())?;
    if let Some(point) = &resume {
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
    let mut point = ResumePoint {
        source: session.source_id().to_string(),
        replid: session.replid.clone(),
        offset: session.offset,
        epoch: resume.as_ref().map_or(1, |r| r.epoch),
        partitions: args.partitions,
        db: resume.as_ref().map_or(0, |r| r.db),
    };
    if session.transfer.is_some() {
        if let Some(previous) = &resume {
            tracing::warn!(
                replid = %previous.replid,
                offset = previous.offset,
                "the source could not continue from the resume point (its backlog no longer \
                 holds it, or it has a new replication id): full resync, a new epoch begins"
            );
            point.epoch = previous.epoch + 1;
            point.db = 0;
        }
        let summary = session.snapshot(point.epoch, &mut writer, stats)?;
        writer.save_resume_point(&point)?;
        println!(
            "produce: snapshot of {} keys from {} is in topic {} (epoch {})",
            summary.snapshot.keys, summary.snapshot.source_version, settings.topic, point.epoch
        );
    } else {
        println!(
            "produce: continuing epoch {} of topic {} from offset {}",
            point.epoch, settings.topic, point.offset
        );
    }
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
            .map_err(|err| CaptureError::Log(err.into()))
    })?;
    writer.flush()?;
    writer.save_resume_point(&point)?;
    Ok(ExitCode::SUCCESS)
}
