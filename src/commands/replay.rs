//! `slotstream replay`: rebuild a fresh target from the retained topic — one epoch's snapshot
//! and everything after it, until every partition is read to its end — then exit. A topic fed
//! by a cluster's shards is replayed one run per shard, as `consume` applies it.

use crate::cli::ReplayArgs;
use crate::commands::apply_progress;
use crate::commands::kafka_settings;
use crate::commands::shard_topic;
use crate::progress::Numbers;
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_consumer::{Applier, ApplyStats, RunOptions};
use slotstream_kafka::KafkaLog;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ReplayArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    crate::commands::start_metrics(&args.metrics, "replay").await?;
    crate::commands::reload::watch_hangup();
    let started = Instant::now();
    let settings = kafka_settings(&args.kafka)?;
    let target = args
        .values
        .target_config(&args.target, &args.target_secret, &args.sentinel)?;
    let Some(applier) = shutdown.or_stop(Applier::connect(&target)).await else {
        return Ok(crate::commands::stopped("before the replay began"));
    };
    let applier = applier?;
    let stored = slotstream_kafka::load_resume_points(&settings)?;
    let stats = Arc::new(ApplyStats::default());
    let progress = crate::commands::watch({
        let stats = stats.clone();
        move || {
            let mut numbers = Numbers::default();
            apply_progress(&stats, &mut numbers);
            numbers
        }
    });
    let claim_log = format!("replay:{}", settings.topic);
    // Replay keeps no checkpoints: a stop leaves part of the topic applied, and a new replay
    // into a fresh target is the way on.
    let applied = if stored.shards.is_empty() {
        let log = KafkaLog::open(&settings, "slotstream-replay", true)?;
        let readers = log.readers(&vec![None; log.partitions() as usize])?;
        let options = RunOptions {
            log_name: settings.topic.clone(),
            min_epoch: args.epoch,
            existing_log: Some(claim_log),
            throttles: super::reload::throttles(&args.throttle),
            ..RunOptions::default()
        };
        shutdown
            .or_stop(async { Ok(applier.run(readers, stats, options).await?) })
            .await
    } else {
        // A cluster source's shards: one run each, as `consume` does, to the topic's end.
        let how = shard_topic::HowApplied {
            group: "slotstream-replay".into(),
            checkpoints: false,
            stop_at_end: true,
            snapshot_only: false,
            throttle: args.throttle,
            min_epoch: args.epoch,
            claim_log,
        };
        let replaying = shard_topic::apply(&how, &settings, &target, Some(applier), &stored, stats);
        shutdown.or_stop(replaying).await
    };
    progress.stop();
    let Some(applied): Option<anyhow::Result<_>> = applied else {
        anyhow::bail!(
            "replay stopped on request before the end of the topic: the target holds part of \
             it; replay again into a fresh target"
        );
    };
    let applied = applied.context("replay failed")?;
    let newest = applied.partitions.iter().filter_map(|p| p.epoch).max();
    if let Some(wanted) = args.epoch {
        anyhow::ensure!(
            newest.is_some_and(|newest| newest >= wanted),
            "epoch {wanted} is not in topic {} (newest epoch found: {}); it may have \
             aged out of the topic's retention",
            settings.topic,
            newest.map_or("none".to_string(), |e| e.to_string())
        );
    }
    println!(
        "replay: {} keys applied ({} already expired) from topic {} (epochs from {}) in {:.2} s",
        applied.keys,
        applied.expired,
        settings.topic,
        args.epoch
            .map_or("the first".to_string(), |e| e.to_string()),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
