//! `slotstream replay`: rebuild a fresh target from the retained topic — one epoch's snapshot
//! and everything after it, until every partition is read to its end — then exit.

use crate::cli::ReplayArgs;
use crate::commands::kafka_settings;
use crate::commands::progress::Progress;
use anyhow::Context;
use slotstream_consumer::{Applier, ApplyStats, RunOptions};
use slotstream_kafka::KafkaLog;
use slotstream_producer::CaptureStats;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let settings = kafka_settings(&args.kafka)?;
    let applier = Applier::connect(&args.values.target_config(&args.target)).await?;
    let log = KafkaLog::open(&settings, "slotstream-replay", true)?;
    let readers = log.readers(&vec![None; log.partitions() as usize])?;
    let stats = Arc::new(ApplyStats::default());
    let progress = Progress::spawn(Arc::new(CaptureStats::default()), stats.clone());
    let options = RunOptions {
        min_epoch: args.epoch,
        existing_log: Some(format!("replay:{}", settings.topic)),
        ..RunOptions::default()
    };
    let applied = applier.run(readers, stats, options).await;
    progress.stop();
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
