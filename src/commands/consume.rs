//! `slotstream consume`: apply a Kafka topic to the target, resuming from the checkpoints kept
//! in the target. A topic fed by the shards of a cluster source is applied by one run per
//! shard ([`shards`]).

use super::shard_topic as shards;

use crate::cli::ConsumeArgs;
use crate::commands::retry::{Advanced, Windows};
use crate::commands::{apply_progress, kafka_settings, stopped};
use crate::progress::{peak_rss_bytes, Numbers};
use crate::shutdown::Shutdown;
use slotstream_consumer::checkpoint::Checkpoint;
use slotstream_consumer::{Applier, ApplyError, ApplyStats, ApplySummary, RunOptions};
use slotstream_kafka::{KafkaError, KafkaLog, KafkaSettings};
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a consumer waiting for its topic says so.
const WAITING_NOTE_EVERY: Duration = Duration::from_secs(5);
/// How often it looks for the topic.
const TOPIC_POLL_EVERY: Duration = Duration::from_secs(1);

pub async fn run(args: ConsumeArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    crate::commands::start_metrics(&args.metrics, "consume").await?;
    crate::commands::reload::watch_hangup();
    let windows = Windows::secs(args.retry_for_secs, args.retry_other_for_secs);
    // The target's items (the source's are the producer's): once, as the process starts.
    let target = args
        .values
        .target_config(&args.target, &args.target_secret, &args.sentinel)?;
    let skip = &args.preflight.skip_check;
    crate::check::preflight::before_first_write(&[], Some(&target), skip).await?;
    crate::commands::retry::with_retries(windows, shutdown, |advanced| {
        run_once(args.clone(), shutdown, advanced)
    })
    .await
}

async fn run_once(
    args: ConsumeArgs,
    shutdown: &Shutdown,
    advanced: Advanced,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let settings = kafka_settings(&args.kafka)?;
    let target = args
        .values
        .target_config(&args.target, &args.target_secret, &args.sentinel)?;
    let Some(applier) = shutdown.or_stop(Applier::connect(&target)).await else {
        return Ok(stopped("before connecting"));
    };
    let applier = applier?;
    let give_up_after = Duration::from_secs(args.retry_for_secs);
    let Some(log) = open_when_there(&settings, &args.group, give_up_after, shutdown).await? else {
        return Ok(stopped("while waiting for the topic"));
    };
    let Some(stored) = shards::wait_for_points(&settings, give_up_after, shutdown).await? else {
        return Ok(stopped("while waiting for the producer"));
    };
    let stats = Arc::new(ApplyStats::default());
    let partitions = log.partitions() as usize * stored.shards.len().max(1);
    let progress = crate::commands::watch({
        let stats = stats.clone();
        move || {
            let mut numbers = Numbers {
                partitions,
                ..Numbers::default()
            };
            apply_progress(&stats, &mut numbers);
            numbers
        }
    });
    let how = shards::HowApplied {
        group: args.group.clone(),
        checkpoints: true,
        stop_at_end: false,
        snapshot_only: args.snapshot_only,
        throttle: args.throttle,
        min_epoch: None,
        claim_log: settings.topic.clone(),
    };
    let mut stored = stored;
    let mut applier = Some(applier);
    let applied = loop {
        let applying = if stored.shards.is_empty() {
            let Some(applier) = applier.take() else {
                anyhow::bail!("the topic's shards are gone: restart the consumer");
            };
            Box::pin(apply_whole(&args, &settings, applier, &log, stats.clone())) as Applying
        } else {
            let first = applier.take();
            Box::pin(shards::apply(
                &how,
                &settings,
                &target,
                first,
                &stored,
                stats.clone(),
            ))
        };
        // Dropped where it waits on a stop: each batch commits with its checkpoint in one
        // transaction, so what was sent is covered and what was not is read again by a restart.
        let Some(applied) = shutdown.or_stop(applying).await else {
            break None;
        };
        match applied {
            // A shard's producer started after this run looked: it takes a run of its own.
            Err(err) if shards::is_new_shard(&err, &stored) => {
                let reload = settings.clone();
                stored = tokio::task::spawn_blocking(move || {
                    slotstream_kafka::load_resume_points(&reload)
                })
                .await??;
                if !shards::knows(&stored, &err) {
                    break Some(Err(err));
                }
                tracing::info!("a shard of the source appeared in the topic: applying it too");
            }
            applied => break Some(applied),
        }
    };
    progress.stop();
    if stats.commands() > 0 {
        advanced.mark();
    }
    let Some(applied) = applied else {
        return Ok(stopped(
            "applying: every applied batch is covered by its checkpoint",
        ));
    };
    let applied = applied.map_err(|err| match err.downcast::<ApplyError>() {
        Ok(err) => {
            crate::commands::apply_failed(err, "restarting resumes after the last checkpoint")
        }
        Err(err) => err,
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

/// One way of applying the topic, running.
type Applying<'a> = Pin<Box<dyn Future<Output = anyhow::Result<ApplySummary>> + Send + 'a>>;

/// Applies a topic fed by one source, every partition from its checkpoint.
async fn apply_whole(
    args: &ConsumeArgs,
    settings: &KafkaSettings,
    applier: Applier,
    log: &KafkaLog,
    stats: Arc<ApplyStats>,
) -> anyhow::Result<ApplySummary> {
    let checkpoints = applier
        .load_checkpoints(&settings.topic, log.partitions())
        .await?;
    let readers = log.readers(&log_offsets(&checkpoints))?;
    let options = RunOptions {
        log_name: settings.topic.clone(),
        checkpoint_log: Some(settings.topic.clone()),
        start: checkpoints,
        stop_after_snapshot: args.snapshot_only,
        snapshot_epoch: None,
        throttles: super::reload::throttles(&args.throttle),
        on_applied: Some(log.commit_hook()),
        min_epoch: None,
        existing_log: Some(settings.topic.clone()),
        ..RunOptions::default()
    };
    Ok(applier.run(readers, stats, options).await?)
}

/// Where each partition's reading starts: after its checkpoint; or, in the middle of a
/// snapshot that must be swept, from its beginning again, to learn every key it holds.
pub(super) fn log_offsets(checkpoints: &[Option<Checkpoint>]) -> Vec<Option<i64>> {
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
    checkpoints
        .iter()
        .map(|c| match c {
            Some(c) if !c.snapshot_done && c.sweep_from.is_some() => c.sweep_from,
            Some(c) => c.log_offset.map(|o| o + 1),
            None => None,
        })
        .collect()
}

/// Opens the topic, waiting for it to exist: producer and consumer are often started together
/// (docker-compose, Kubernetes), and the producer creates the topic. Says so every few seconds;
/// gives up after `give_up_after`. `None` when a stop came first.
async fn open_when_there(
    settings: &KafkaSettings,
    group: &str,
    give_up_after: Duration,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<KafkaLog>> {
    let started = Instant::now();
    let mut last_note: Option<Instant> = None;
    loop {
        let opening = {
            let (settings, group) = (settings.clone(), group.to_string());
            tokio::task::spawn_blocking(move || KafkaLog::open(&settings, &group, false))
        };
        let Some(opened) = shutdown.or_stop(opening).await else {
            return Ok(None);
        };
        match opened? {
            Err(err @ KafkaError::NoTopic { .. }) => {
                if started.elapsed() >= give_up_after {
                    return Err(anyhow::Error::new(err).context(format!(
                        "gave up waiting for the topic after {} s (--retry-for-secs)",
                        started.elapsed().as_secs()
                    )));
                }
                if last_note.is_none_or(|at| at.elapsed() >= WAITING_NOTE_EVERY) {
                    tracing::info!(
                        topic = %settings.topic,
                        brokers = %settings.brokers,
                        waited_s = started.elapsed().as_secs(),
                        "the topic does not exist yet; waiting for the producer to create it"
                    );
                    last_note = Some(Instant::now());
                }
                if shutdown
                    .or_stop(tokio::time::sleep(TOPIC_POLL_EVERY))
                    .await
                    .is_none()
                {
                    return Ok(None);
                }
            }
            opened => return Ok(Some(opened?)),
        }
    }
}
