//! `slotstream status`: how far the target's copy is, read once from the target's checkpoints
//! and measured against the log's end (the topic's last offsets for a `consume`, the source's
//! replication offset for a `sync`). Nothing is written to either side.

mod report;

use crate::cli::StatusArgs;
use crate::shutdown::Shutdown;
use anyhow::Context;
use report::{Log, Report, Row, Unit};
use slotstream_consumer::checkpoint::Checkpoint;
use slotstream_consumer::Applier;
use slotstream_producer::config::parse_source_url;
use slotstream_producer::shards::{self, SourceShape};
use slotstream_producer::source_clock;
use slotstream_schemas::display::redact_url;
use slotstream_schemas::now_ms;
use std::process::ExitCode;

pub async fn run(args: StatusArgs, _shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    if args.source.is_none() && topic(&args).is_none() {
        anyhow::bail!(
            "give --brokers and --topic (the topic a consume applies) or --source (the source \
             of a sync): status measures the target's checkpoints against it"
        );
    }
    let target = args
        .target_secret
        .target_config(&args.target, &args.sentinel)?;
    let applier = Applier::connect(&target).await?;
    let logs = match &args.source {
        Some(source) => sync_logs(&args, source, &applier).await?,
        None => topic_logs(&args, &applier).await?,
    };
    let report = Report::new(logs, args.max_lag_secs);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(report.exit_code())
}

/// `--brokers` and `--topic`, when given.
#[cfg(feature = "kafka")]
fn topic(args: &StatusArgs) -> Option<(&str, &str)> {
    Some((args.brokers.as_deref()?, args.topic.as_deref()?))
}

#[cfg(not(feature = "kafka"))]
fn topic(_: &StatusArgs) -> Option<(&str, &str)> {
    None
}

#[cfg(not(feature = "kafka"))]
async fn topic_logs(_: &StatusArgs, _: &Applier) -> anyhow::Result<Vec<Log>> {
    anyhow::bail!("this build has no Kafka transport: give --source")
}

/// A `consume`'s logs: the topic, or each shard of it when a cluster source feeds it.
#[cfg(feature = "kafka")]
async fn topic_logs(args: &StatusArgs, applier: &Applier) -> anyhow::Result<Vec<Log>> {
    let Some((brokers, topic)) = topic(args) else {
        anyhow::bail!("give --brokers and --topic, or --source");
    };
    let settings = crate::commands::kafka_settings(&crate::cli::KafkaArgs {
        brokers: brokers.to_string(),
        topic: topic.to_string(),
        kafka_config: args.kafka_config.clone(),
        kafka_config_file: args.kafka_config_file.clone(),
    })?;
    let (ends, stored) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let ends = slotstream_kafka::topic_ends(&settings)?;
        Ok((ends, slotstream_kafka::load_resume_points(&settings)?))
    })
    .await??;
    let ends = ends.with_context(|| format!("topic {topic} does not exist on {brokers}"))?;
    let names: Vec<String> = if stored.shards.is_empty() {
        vec![topic.to_string()]
    } else {
        stored
            .shards
            .keys()
            .map(|label| format!("{topic}/{label}"))
            .collect()
    };
    let now = now_ms();
    let mut logs = Vec::with_capacity(names.len());
    for log in names {
        let checkpoints = applier.load_checkpoints(&log, ends.len() as u32).await?;
        let partitions = checkpoints
            .iter()
            .zip(&ends)
            .enumerate()
            .map(|(partition, (checkpoint, &(low, high)))| {
                let applied = checkpoint.and_then(|c| c.log_offset);
                // `high` is the offset the next message gets.
                let lag = match applied {
                    Some(offset) => high - 1 - offset,
                    None => high - low,
                };
                let end = (high > low).then_some(high - 1);
                Row::new(
                    partition as u32,
                    checkpoint.as_ref(),
                    applied,
                    end,
                    Some(lag),
                    now,
                )
            })
            .collect();
        logs.push(Log {
            log,
            against: format!("topic {topic}"),
            unit: Unit::Records,
            partitions,
        });
    }
    Ok(logs)
}

/// A `sync`'s log: its checkpoints against the source's replication offset; for a cluster
/// source, each shard's log against its primary's.
async fn sync_logs(args: &StatusArgs, url: &str, applier: &Applier) -> anyhow::Result<Vec<Log>> {
    let source = args.source_secret.source_config(url, &args.sentinel)?;
    let source_id = match (&args.source_id, &source.source_id) {
        (Some(id), _) | (None, Some(id)) => id.clone(),
        (None, None) => parse_source_url(&source.url)?.to_string(),
    };
    let nodes = {
        let (source, source_id) = (source.clone(), source_id.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let nodes = match shards::discover(&source)? {
                SourceShape::Standalone => vec![(format!("sync:{source_id}"), source)],
                SourceShape::Cluster(shards) => shards
                    .iter()
                    .map(|s| {
                        let log = format!("sync:{source_id}/{}", s.label());
                        (log, source.for_node(&s.primary))
                    })
                    .collect(),
            };
            let mut offsets = Vec::with_capacity(nodes.len());
            for (log, config) in nodes {
                let offset = source_clock::read_offset(&config)
                    .with_context(|| {
                        format!(
                            "cannot read the replication offset of {}",
                            redact_url(&config.url)
                        )
                    })?
                    .with_context(|| {
                        format!(
                            "{} did not say its master_repl_offset",
                            redact_url(&config.url)
                        )
                    })?;
                offsets.push((log, redact_url(&config.url), offset));
            }
            Ok(offsets)
        })
        .await??
    };
    let now = now_ms();
    let mut logs = Vec::with_capacity(nodes.len());
    for (log, node, offset) in nodes {
        let checkpoints = applier.load_checkpoints(&log, args.partitions).await?;
        let partitions = checkpoints
            .iter()
            .enumerate()
            .map(|(partition, checkpoint)| {
                sync_row(partition as u32, checkpoint.as_ref(), offset, now)
            })
            .collect();
        logs.push(Log {
            log,
            against: format!("the replication offset of {node}"),
            unit: Unit::Bytes,
            partitions,
        });
    }
    Ok(logs)
}

/// A `sync` partition: its checkpoint's source offset against the source's offset now.
fn sync_row(partition: u32, checkpoint: Option<&Checkpoint>, offset: u64, now: i64) -> Row {
    let applied = checkpoint.map(|c| c.position.offset as i64);
    let lag = applied.map(|applied| offset as i64 - applied);
    Row::new(
        partition,
        checkpoint,
        applied,
        Some(offset as i64),
        lag,
        now,
    )
}
