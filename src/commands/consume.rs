//! `slotstream consume`: apply a Kafka topic to the target, resuming from the checkpoints kept
//! in the target.

use crate::cli::ConsumeArgs;
use crate::commands::kafka_settings;
use crate::commands::progress::{peak_rss_bytes, Progress};
use slotstream_consumer::throttle::Throttle;
use slotstream_consumer::{Applier, ApplyStats, RunOptions};
use slotstream_kafka::KafkaLog;
use slotstream_producer::CaptureStats;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let give_up_after = std::time::Duration::from_secs(args.retry_for_secs);
    crate::commands::retry::with_retries(give_up_after, || run_once(args.clone())).await
}

async fn run_once(args: ConsumeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let settings = kafka_settings(&args.kafka)?;
    let applier = Applier::connect(&args.values.target_config(&args.target)).await?;
    let log = KafkaLog::open(&settings, &args.group, false)?;
    let checkpoints = applier
        .load_checkpoints(&settings.topic, log.partitions())
        .await?;
    for (partition, checkpoint) in checkpoints.iter().enumerate() {
        if let Some(c) = checkpoint {
            tracing::info!(
                partition,
                epoch = c.epoch,
                offset = c.position.offset,
                index = c.position.index,
                log_offset = c.log_offset,
                snapshot_done = c.snapshot_done,
                "resuming after checkpoint"
            );
        }
    }
    // After the checkpoint; or, in the middle of a snapshot that must be swept, from its
    // beginning again, to learn every key it holds.
    let start: Vec<Option<i64>> = checkpoints
        .iter()
        .map(|c| match c {
            Some(c) if !c.snapshot_done && c.sweep_from.is_some() => c.sweep_from,
            Some(c) => c.log_offset.map(|o| o + 1),
            None => None,
        })
        .collect();
    let readers = log.readers(&start)?;
    let stats = Arc::new(ApplyStats::default());
    let progress = Progress::spawn(Arc::new(CaptureStats::default()), stats.clone());
    let options = RunOptions {
        checkpoint_log: Some(settings.topic.clone()),
        start: checkpoints,
        stop_after_snapshot: args.snapshot_only,
        snapshot_epoch: None,
        throttle: Throttle::new(args.max_ops, args.max_bytes),
        on_applied: Some(log.commit_hook()),
        min_epoch: None,
        existing_log: Some(settings.topic.clone()),
    };
    let applied = tokio::select! {
        applied = applier.run(readers, stats.clone(), options) => applied,
        _ = crate::commands::shutdown_signal() => {
            progress.stop();
            tracing::info!("stopping: every applied batch is covered by its checkpoint");
            return Ok(ExitCode::SUCCESS);
        }
    };
    progress.stop();
    let applied = applied.map_err(|err| {
        crate::commands::apply_failed(err, "restarting resumes after the last checkpoint")
    })?;
    println!(
        "consume: {} keys applied ({} already expired, {} skipped as already applied) from topic \
         {} in {:.2} s, peak RSS {} MB",
        applied.keys,
        applied.expired,
        applied.skipped,
        settings.topic,
        started.elapsed().as_secs_f64(),
        peak_rss_bytes().map(|b| b >> 20).unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}
