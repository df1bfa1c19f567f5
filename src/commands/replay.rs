//! `slotstream replay`: rebuild a fresh target from the retained topic — one epoch's snapshot
//! and everything after it, until every partition is read to its end — then exit.

use crate::cli::ReplayArgs;
use crate::commands::apply_progress;
use crate::commands::kafka_settings;
use crate::commands::progress::{Numbers, Progress};
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_consumer::{Applier, ApplyStats, RunOptions};
use slotstream_kafka::KafkaLog;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ReplayArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let settings = kafka_settings(&args.kafka)?;
    let target = args.values.target_config(&args.target);
    let Some(applier) = shutdown.or_stop(Applier::connect(&target)).await else {
        return Ok(crate::commands::stopped("before the replay began"));
    };
    let applier = applier?;
    let stored = slotstream_kafka::load_resume_points(&settings)?;
    anyhow::ensure!(
        stored.shards.is_empty(),
        "topic {} is fed by the shards of a cluster source, and replay applies one source's \
         records only (not yet the interleaved histories of shards); `slotstream consume` into \
         a fresh target rebuilds it",
        settings.topic
    );
    let log = KafkaLog::open(&settings, "slotstream-replay", true)?;
    let readers = log.readers(&vec![None; log.partitions() as usize])?;
    let stats = Arc::new(ApplyStats::default());
    let progress = Progress::spawn({
        let stats = stats.clone();
        move || {
            let mut numbers = Numbers::default();
            apply_progress(&stats, &mut numbers);
            numbers
        }
    });
    let options = RunOptions {
        log_name: settings.topic.clone(),
        min_epoch: args.epoch,
        existing_log: Some(format!("replay:{}", settings.topic)),
        ..RunOptions::default()
    };
    // Replay keeps no checkpoints: a stop leaves part of the topic applied, and a new replay
    // into a fresh target is the way on.
    let applied = shutdown.or_stop(applier.run(readers, stats, options)).await;
    progress.stop();
    let Some(applied) = applied else {
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
