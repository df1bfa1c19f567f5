//! `slotstream produce`: capture the source into a Kafka topic, resuming where the last run's
//! resume point says.

use crate::cli::ProduceArgs;
use crate::commands::retry::{Advanced, Windows};
use crate::commands::{capture_progress, kafka_settings, stopped};
use crate::progress::Numbers;
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_kafka::{KafkaSettings, KafkaWriter};
use slotstream_producer::capture::Saved;
use slotstream_producer::config::parse_source_url;
use slotstream_producer::fork::Tails;
use slotstream_producer::route::Router;
use slotstream_producer::shards::{self, SourceShape};
use slotstream_producer::{CaptureError, CaptureStats, Session, SourceConfig};
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::resume::ResumePoint;
use slotstream_schemas::slot::SlotRanges;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub async fn run(args: ProduceArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    crate::commands::start_metrics(&args.metrics, "produce").await?;
    crate::commands::reload::watch_hangup();
    let windows = Windows::secs(args.retry_for_secs, args.retry_other_for_secs);
    let tails = Tails::default();
    crate::commands::retry::with_retries(windows, shutdown, |advanced| {
        run_once(args.clone(), shutdown, advanced, tails.clone())
    })
    .await
}

/// One capture into the topic: the whole source, or one shard of a cluster source (its resume
/// point under a key of its own).
struct Job {
    source: SourceConfig,
    settings: KafkaSettings,
    /// Where the last run of this capture stopped, if it saved a point.
    stored: Option<ResumePoint>,
    /// The node read, for the headroom report.
    node: String,
}

/// Runs each capture on a thread of its own until they end. A stop reaches them through the
/// attempt's flag: each ends at its next record, flushes and saves its resume point. One may
/// be waiting on a broker that is gone; the shutdown's deadline then exits the process, which
/// is safe: a resume point only ever names acknowledged records, and the consumer drops what a
/// restart produces again. When one capture fails, the others are stopped and the attempt is
/// retried as a whole, each from its own resume point.
async fn run_once(
    args: ProduceArgs,
    shutdown: &Shutdown,
    advanced: Advanced,
    tails: Tails,
) -> anyhow::Result<ExitCode> {
    let settings = kafka_settings(&args.kafka)?;
    let jobs = {
        let args = args.clone();
        tokio::task::spawn_blocking(move || plan_jobs(&args, settings))
            .await
            .context("planning the captures")??
    };
    if jobs.iter().all(|job| job.stored.is_none()) {
        let sources: Vec<_> = jobs.iter().map(|job| job.source.clone()).collect();
        let skip = &args.preflight.skip_check;
        crate::check::preflight::before_first_write(&sources, None, skip).await?;
    }
    // Stops this attempt: on a stop of the process, or when one capture fails.
    let linked = shutdown.attempt();
    let attempt = &linked.token;
    let stats: Vec<Arc<CaptureStats>> = jobs
        .iter()
        .map(|job| {
            let shard = job.source.shard.as_ref().and_then(SlotRanges::first);
            Arc::new(CaptureStats::of_shard(shard))
        })
        .collect();
    let progress = crate::commands::watch({
        let stats = stats.clone();
        move || {
            let mut numbers = Numbers::default();
            for stats in &stats {
                capture_progress(stats, &mut numbers);
            }
            numbers.kafka_producer = kafka_producer();
            numbers
        }
    });
    let mut captures = tokio::task::JoinSet::new();
    for (job, stats) in jobs.into_iter().zip(stats) {
        let (args, attempt, advanced) = (args.clone(), attempt.clone(), advanced.clone());
        let tails = tails.clone();
        captures.spawn_blocking(move || {
            let outcome = produce(&args, job, &attempt.flag(), &stats, (&advanced, &tails));
            if outcome.is_err() {
                attempt.stop();
            }
            outcome
        });
    }
    let mut outcome = Ok(ExitCode::SUCCESS);
    while let Some(joined) = captures.join_next().await {
        let ended = joined.context("a capture thread failed")?;
        if outcome.is_ok() {
            outcome = ended;
        }
    }
    progress.stop();
    outcome
}

/// The captures `args` asks for: the whole source, or each chosen shard of a cluster source.
/// Refuses a topic another kind of source feeds (a standalone source's topic for a cluster,
/// or the other way round). Blocking.
fn plan_jobs(args: &ProduceArgs, settings: KafkaSettings) -> anyhow::Result<Vec<Job>> {
    let mut source = args
        .source_secret
        .source_config(&args.source, &args.sentinel)?;
    source.chunk_bytes = args.chunk_bytes;
    source.filter = args.filter.key_filter(false);
    source.max_read_bytes = super::reload::source_rate(args.source_max_bytes);
    source.read_timeout = args.source_timeout()?;
    let addr = parse_source_url(&source.url)?.to_string();
    let stored = slotstream_kafka::load_resume_points(&settings)?;
    match shards::discover(&source)? {
        SourceShape::Standalone => {
            anyhow::ensure!(
                args.shard.is_empty(),
                "--shard names shards of a cluster source, and {addr} is a standalone server"
            );
            anyhow::ensure!(
                stored.shards.is_empty(),
                "topic {} is fed by the shards of a cluster source ({}), not by a standalone \
                 server; use another topic",
                settings.topic,
                stored
                    .shards
                    .values()
                    .map(|p| p.source.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if args.source_id.is_some() {
                source.source_id = args.source_id.clone();
            }
            Ok(vec![Job {
                source,
                settings,
                stored: stored.whole,
                node: addr,
            }])
        }
        SourceShape::Cluster(shards) => {
            if let Some(whole) = &stored.whole {
                anyhow::bail!(
                    "topic {} is fed by source {:?}, a standalone server, and {addr} is a node \
                     of a cluster; use another topic",
                    settings.topic,
                    whole.source
                );
            }
            let source_id = args.source_id.clone().unwrap_or(addr);
            let captures = super::shards::plan(
                &source,
                &source_id,
                &shards,
                &args.shard,
                args.source_prefer,
            )?;
            Ok(captures
                .into_iter()
                .map(|capture| Job {
                    stored: stored.shards.get(&capture.label).cloned(),
                    settings: KafkaSettings {
                        shard: Some(capture.label),
                        ..settings.clone()
                    },
                    source: capture.config,
                    node: capture.node,
                })
                .collect())
        }
    }
}

/// One capture: continue from its resume point, or take a snapshot as a new epoch; then follow
/// the source until stopped.
fn produce(
    args: &ProduceArgs,
    job: Job,
    stop: &AtomicBool,
    stats: &CaptureStats,
    (advanced, tails): (&Advanced, &Tails),
) -> anyhow::Result<ExitCode> {
    let Job {
        source,
        settings,
        stored,
        node,
    } = job;
    let mut writer =
        KafkaWriter::open(&settings, args.partitions)?.with_kind_headers(args.kind_headers);
    // A point whose snapshot never finished names no position a source can continue from.
    let resume = stored.clone().filter(|point| point.snapshot_complete);
    // Records past the resume point may be in the topic: how far, only this process's last
    // run of the capture knows (after a failover, that decides whether it can continue).
    let name = settings.shard.clone().unwrap_or_default();
    let tail = tails.get(&name);
    let saved = resume.as_ref().map(|point| Saved {
        point,
        highest: if tail.is_some() {
            point.offset
        } else {
            u64::MAX
        },
        tail: tail.as_ref(),
        can_rewind: true,
    });
    let mut session = Session::start(&source, saved)?;
    if source.shard.is_none() {
        // A shard's was told when the captures were planned.
        slotstream_producer::headroom::report_in_background(
            source.clone(),
            node,
            slotstream_producer::headroom::SAMPLE,
        );
    }
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
            point.source.split('/').next().unwrap_or(&point.source)
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
    if let Some(to) = session.rewound_to.filter(|to| point.offset > to.offset) {
        // The source continues from the fork, below the resume point.
        (point.offset, point.db) = (to.offset, to.db);
    }
    let mut router = Router::new(
        session.command_table()?,
        point.source.clone(),
        point.epoch,
        args.partitions,
        point.db,
        args.forward_publish,
        parse_source_url(&source.url)?.to_string(),
    )
    .of_shard(source.shard.is_some())
    .following(&session.replid, session.offset)
    .filtered(source.filter.clone());
    if let Some(to) = session.rewound_to {
        // Every partition lowers its checkpoint before a record of the new history reaches
        // it; only once that is acknowledged may the resume point go below the log's end.
        router.fork(to, &mut writer)?;
        writer.flush()?;
        writer.save_resume_point(&point)?;
    }
    let follower = session.into_follower()?;
    stats.live.store(true, std::sync::atomic::Ordering::Relaxed);
    let followed = follower.run(stop, &mut router, &mut writer, |progress, writer| {
        stats
            .offset
            .store(progress.offset, std::sync::atomic::Ordering::Relaxed);
        point.offset = progress.offset;
        point.db = progress.db;
        writer
            .save_resume_point(&point)
            .map_err(|err| CaptureError::Log(err.into()))?;
        // Live changes acknowledged: a failure from here on is a new outage.
        advanced.mark();
        Ok(())
    });
    tails.keep(&name, router.tail());
    followed.map_err(|err| match err {
        // Shards' producers may run apart, so nothing orders their new snapshots after the
        // moved keys' last writes: this stops, and a new snapshot is the operator's call.
        CaptureError::SlotsMoved { addr, what } => anyhow::anyhow!(
            "slots of source {addr}'s cluster are moving between its shards ({what}), and \
             produce does not follow slot migrations yet: the moved keys' writes on two shards \
             cannot be put in order. Once the resharding is over, produce into a new topic \
             and consume it into a fresh target, or copy with `slotstream sync`, which \
             follows reshardings"
        ),
        err => err.into(),
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
        slots: session.config().shard.as_ref().map(ToString::to_string),
    };
    writer.save_resume_point(&point)?;
    let summary = match session.snapshot(epoch, writer, stats, stop) {
        Err(CaptureError::Stopped { .. }) => return Ok(None),
        summary => summary?,
    };
    point.snapshot_complete = true;
    writer.save_resume_point(&point)?;
    tracing::info!(
        epoch,
        keys = summary.snapshot.keys,
        topic = %settings.topic,
        "the snapshot is in the topic"
    );
    println!(
        "produce: snapshot of {} keys from {} is in topic {} (epoch {epoch})",
        summary.snapshot.keys, summary.snapshot.source_version, settings.topic
    );
    Ok(Some(point))
}

/// librdkafka's last report of this process's producer, once there is one.
fn kafka_producer() -> Option<crate::progress::KafkaProducer> {
    let read = slotstream_kafka::producer_stats();
    (read.reports > 0).then(|| crate::progress::KafkaProducer {
        queue_messages: read.queue_messages,
        queue_bytes: read.queue_bytes,
        rtt_avg: Duration::from_micros(read.rtt_avg_us),
        rtt_p99: Duration::from_micros(read.rtt_p99_us),
    })
}
