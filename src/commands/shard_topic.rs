//! A topic fed by the shards of a cluster source, applied by `consume` and `replay`: one apply
//! run per shard, side by side, each with its own reading position (and, for `consume`, its own
//! checkpoints, `<topic>/<shard>`), applying its shard's records in their order and passing
//! over the others' (a partition holds slots of several shards). The shards are known from
//! their resume points, which each producer saves before its first record.

use super::consume::log_offsets;
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_consumer::error::StrayRecord;
use slotstream_consumer::{
    Applier, ApplyError, ApplyStats, ApplySummary, RunOptions, TargetConfig,
};
use slotstream_kafka::{KafkaLog, KafkaSettings, StoredPoints};
use slotstream_schemas::slot::SlotRanges;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a consumer waiting for the producer's first resume point says so.
const WAITING_NOTE_EVERY: Duration = Duration::from_secs(5);

/// The topic's resume points, once there are any, or once the topic holds records without one
/// (written by something else than `produce`: applied as one source's). A producer saves its
/// first point before its first record, so an empty topic without points is waited for: which
/// kind of source feeds it is not known yet. `None` when a stop came first.
pub async fn wait_for_points(
    settings: &KafkaSettings,
    give_up_after: Duration,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<StoredPoints>> {
    let started = Instant::now();
    let mut last_note: Option<Instant> = None;
    loop {
        let reading = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                // Emptiness first: records seen before the points were read had theirs saved.
                let empty = slotstream_kafka::topic_is_empty(&settings)?;
                Ok((empty, slotstream_kafka::load_resume_points(&settings)?))
            })
        };
        let Some(read) = shutdown.or_stop(reading).await else {
            return Ok(None);
        };
        let (empty, stored) = read??;
        if !empty || stored.whole.is_some() || !stored.shards.is_empty() {
            return Ok(Some(stored));
        }
        anyhow::ensure!(
            started.elapsed() < give_up_after,
            "gave up waiting for the producer of topic {} after {} s (--retry-for-secs): no \
             resume point was saved and no record written",
            settings.topic,
            started.elapsed().as_secs()
        );
        if last_note.is_none_or(|at| at.elapsed() >= WAITING_NOTE_EVERY) {
            tracing::info!(
                topic = %settings.topic,
                "the topic is empty and no producer has saved a resume point yet; waiting"
            );
            last_note = Some(Instant::now());
        }
        let pause = tokio::time::sleep(Duration::from_millis(500));
        if shutdown.or_stop(pause).await.is_none() {
            return Ok(None);
        }
    }
}

/// How the shards' runs read and apply the topic.
pub struct HowApplied {
    /// Consumer group prefix (each shard's is `<group>/<shard>`).
    pub group: String,
    /// Keep checkpoints in the target and start from them (`consume`); without, every run
    /// reads the topic from its start (`replay`).
    pub checkpoints: bool,
    /// End each run at the end of the topic (`replay`).
    pub stop_at_end: bool,
    pub snapshot_only: bool,
    pub throttle: crate::cli::ThrottleArgs,
    /// Skip records of epochs before this one.
    pub min_epoch: Option<u64>,
    /// The name the target's own keys are claimed under.
    pub claim_log: String,
}

/// One shard's run, ready to start.
struct ShardRun {
    applier: Applier,
    log: KafkaLog,
    readers: Vec<slotstream_kafka::KafkaReader>,
    options: RunOptions,
}

/// Applies every shard `stored` names, each by a run of its own, until they end; the first
/// that fails stops the others. The target's own keys are looked at once, under
/// `how.claim_log`, before any shard writes. Every run waits on the same `--max-ops`/`--max-bytes`.
pub async fn apply(
    how: &HowApplied,
    settings: &KafkaSettings,
    target: &TargetConfig,
    first: Option<Applier>,
    stored: &StoredPoints,
    stats: Arc<ApplyStats>,
) -> anyhow::Result<ApplySummary> {
    if let Some(whole) = &stored.whole {
        anyhow::bail!(
            "topic {} is fed by source {:?} (one server) and by the shards of a cluster source \
             ({}): its records cannot be told apart by their order; give each source a topic \
             of its own",
            settings.topic,
            whole.source,
            sources(stored).join(", ")
        );
    }
    let mut first = first;
    let mut runs = Vec::with_capacity(stored.shards.len());
    for (label, point) in &stored.shards {
        let applier = match first.take() {
            Some(applier) => applier,
            None => Applier::connect(target).await?,
        };
        let log_name = format!("{}/{label}", settings.topic);
        let log = {
            let (settings, group) = (settings.clone(), format!("{}/{label}", how.group));
            let stop_at_end = how.stop_at_end;
            tokio::task::spawn_blocking(move || KafkaLog::open(&settings, &group, stop_at_end))
                .await
                .context("opening the topic")??
        };
        let checkpoints = if how.checkpoints {
            applier
                .load_checkpoints(&log_name, log.partitions())
                .await?
        } else {
            vec![None; log.partitions() as usize]
        };
        let readers = log.readers(&log_offsets(&checkpoints))?;
        let slots = point
            .slots
            .as_deref()
            .ok_or_else(|| "it names no slots".to_string())
            .and_then(|slots| slots.parse::<SlotRanges>())
            .map_err(|why| {
                anyhow::anyhow!(
                    "the resume point of shard {label} in {}.resume does not say which slots \
                     it serves ({why}); let its producer save a new one (restart it)",
                    settings.topic
                )
            })?;
        tracing::info!(shard = %label, source = %point.source, slots = %slots, "applying shard");
        let options = RunOptions {
            log_name: log_name.clone(),
            checkpoint_log: how.checkpoints.then_some(log_name),
            start: checkpoints,
            stop_after_snapshot: how.snapshot_only,
            throttles: super::reload::throttles(&how.throttle),
            on_applied: how.checkpoints.then(|| log.commit_hook()),
            min_epoch: how.min_epoch,
            slots: Some(slots),
            source: Some(point.source.clone()),
            passed_over: sources(stored)
                .into_iter()
                .filter(|s| *s != point.source)
                .collect(),
            ..RunOptions::default()
        };
        runs.push(ShardRun {
            applier,
            log,
            readers,
            options,
        });
    }
    let Some(first_run) = runs.first() else {
        anyhow::bail!("topic {} names no shard", settings.topic);
    };
    let first_write = runs
        .iter()
        .all(|run| run.options.start.iter().all(Option::is_none));
    let partitions = first_run.log.partitions();
    let claim = first_run
        .applier
        .claim(&how.claim_log, partitions, first_write)
        .await?;
    let mut tasks = tokio::task::JoinSet::new();
    for mut run in runs {
        run.options.claim = Some(claim.clone());
        let stats = stats.clone();
        tasks.spawn(async move {
            // The log lives as long as its readers.
            let _log = run.log;
            run.applier.run(run.readers, stats, run.options).await
        });
    }
    let mut summary = ApplySummary::default();
    while let Some(joined) = tasks.join_next().await {
        match joined.context("a shard's apply task")? {
            Ok(shard) => {
                summary.keys += shard.keys;
                summary.expired += shard.expired;
                summary.skipped += shard.skipped;
                summary.partitions.extend(shard.partitions);
            }
            Err(err) => {
                tasks.abort_all();
                return Err(err.into());
            }
        }
    }
    Ok(summary)
}

/// The source ids of the shards `stored` names.
fn sources(stored: &StoredPoints) -> Vec<String> {
    stored.shards.values().map(|p| p.source.clone()).collect()
}

/// The source named by a record that stopped a partition for being of another source.
fn stray_source(err: &anyhow::Error) -> Option<&str> {
    match err.downcast_ref::<ApplyError>()? {
        ApplyError::Stray(stray) => match stray.as_ref() {
            StrayRecord::OtherSource { found, .. } => Some(found),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `err` is a record of a source the runs did not know of, on a topic fed by shards:
/// perhaps a shard whose producer started after the runs began.
pub fn is_new_shard(err: &anyhow::Error, stored: &StoredPoints) -> bool {
    !stored.shards.is_empty()
        && stray_source(err).is_some_and(|found| !sources(stored).iter().any(|s| s == found))
}

/// Whether the source `err` names is a shard `stored` knows.
pub fn knows(stored: &StoredPoints, err: &anyhow::Error) -> bool {
    stray_source(err).is_some_and(|found| sources(stored).iter().any(|s| s == found))
}
