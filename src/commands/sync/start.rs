//! Where a `sync` run starts: the source's shape (one server, or a cluster's shards, each a
//! capture of its own), and for each capture what the target's checkpoints say (continue from
//! an offset, or a full sync as which epoch).

use crate::cli::SyncArgs;
use slotstream_consumer::checkpoint::Checkpoint;
use slotstream_consumer::{Applier, RunOptions};
use slotstream_producer::config::parse_source_url;
use slotstream_producer::headroom;
use slotstream_producer::shards::{self, SourceShape};
use slotstream_producer::SourceConfig;
use slotstream_schemas::resume::ResumePoint;
use slotstream_schemas::slot::SlotRanges;

/// One capture and its apply side: the whole source, or one shard of a cluster source.
pub struct Start {
    pub applier: Applier,
    pub source: SourceConfig,
    /// `sync:<source id>`, with the shard for one shard of a cluster.
    pub log_name: String,
    pub checkpoints: Vec<Option<Checkpoint>>,
    /// Where the source may continue from, if every partition finished the same epoch.
    pub resume: Option<ResumePoint>,
    /// The epoch a full sync opens: one past every epoch the checkpoints name, so a snapshot
    /// that was interrupted (its epoch named by some checkpoints, never finished) is followed
    /// by a newer one whose sweep removes what the source deleted meanwhile.
    pub next_epoch: u64,
    /// The apply options this start implies (log names, checkpoints, claim, slots).
    pub options: RunOptions,
}

/// Reads the source's shape and the target's checkpoints for each capture. Checks the target
/// before asking the source for anything: a wrong target URL should cost nothing on the
/// source. A cluster source is one capture per shard (its primary), each with checkpoints of
/// its own; the target is claimed once for them all.
///
/// `fresh`: every capture takes a new snapshot, whatever the checkpoints say (after the
/// source's slots moved).
pub async fn read_starts(args: &SyncArgs, fresh: bool) -> anyhow::Result<Vec<Start>> {
    // Both sides' settings (URLs, TLS files) are checked before either is connected to.
    let target = args
        .values
        .target_config(&args.target, &args.target_secret, &args.sentinel)?;
    let mut source = args
        .source_secret
        .source_config(&args.source, &args.sentinel)?;
    let source_id = match &args.source_id {
        Some(id) => id.clone(),
        None => match &source.source_id {
            Some(name) => name.clone(),
            None => parse_source_url(&source.url)?.to_string(),
        },
    };
    let applier = Applier::connect(&target).await?;
    source.chunk_bytes = args.chunk_bytes;
    let leave_out = args.values.on_unsupported == crate::cli::OnUnsupported::SkipWithWarning;
    source.filter = args.filter.key_filter(leave_out);
    source.max_read_bytes = crate::commands::reload::source_rate(args.source_max_bytes);
    source.read_timeout = args.source_timeout()?;
    let shape = {
        let source = source.clone();
        tokio::task::spawn_blocking(move || shards::discover(&source)).await??
    };
    let SourceShape::Cluster(shards) = shape else {
        source.source_id = Some(source_id.clone());
        let node = parse_source_url(&source.url)?.to_string();
        headroom::report_in_background(source.clone(), node, headroom::SAMPLE);
        let mut start = read_start(args, applier, source, &source_id, None, fresh).await?;
        start.options.throttles = crate::commands::reload::throttles(&args.throttle);
        return Ok(vec![start]);
    };
    let captures = {
        let (source, source_id, prefer) = (source.clone(), source_id.clone(), args.source_prefer);
        tokio::task::spawn_blocking(move || {
            crate::commands::shards::plan(&source, &source_id, &shards, &[], prefer)
        })
        .await??
    };
    let mut starts = Vec::with_capacity(captures.len());
    let mut applier = Some(applier);
    for capture in captures {
        let applier = match applier.take() {
            Some(applier) => applier,
            None => Applier::connect(&target).await?,
        };
        let id = format!("{source_id}/{}", capture.label);
        let slots = capture.config.shard.clone();
        starts.push(read_start(args, applier, capture.config, &id, slots, fresh).await?);
    }
    // The target's own keys are looked at once, under the cluster's name, before any shard
    // writes: a shard must not take another's keys for the target's.
    let first_write = starts
        .iter()
        .all(|s| s.checkpoints.iter().all(Option::is_none));
    let claim = starts[0]
        .applier
        .claim(&format!("sync:{source_id}"), args.partitions, first_write)
        .await?;
    for start in &mut starts {
        start.options.existing_log = None;
        start.options.claim = Some(claim.clone());
        // Every shard's apply side waits on the same limits.
        start.options.throttles = crate::commands::reload::throttles(&args.throttle);
    }
    Ok(starts)
}

/// What the target's checkpoints of capture `source_id` say.
async fn read_start(
    args: &SyncArgs,
    applier: Applier,
    source: SourceConfig,
    source_id: &str,
    slots: Option<SlotRanges>,
    fresh: bool,
) -> anyhow::Result<Start> {
    let log_name = format!("sync:{source_id}");
    let checkpoints = applier.load_checkpoints(&log_name, args.partitions).await?;
    let replid = applier.load_replid(&log_name).await?;
    let resume = if args.snapshot_only || fresh {
        None
    } else {
        resume_point(&checkpoints, replid, source_id, args.partitions)
    };
    let last_epoch = checkpoints
        .iter()
        .flatten()
        .map(|c| c.epoch)
        .max()
        .unwrap_or(0);
    match &resume {
        Some(point) => tracing::info!(
            log = %log_name,
            epoch = point.epoch,
            offset = point.offset,
            "the target's checkpoints are complete: asking the source to continue"
        ),
        None if last_epoch > 0 => tracing::info!(
            log = %log_name,
            complete = checkpoints.iter().flatten().filter(|c| c.snapshot_done).count(),
            partitions = args.partitions,
            next_epoch = last_epoch + 1,
            "the target's checkpoints are incomplete (or a fresh snapshot was asked for): full sync"
        ),
        None => {}
    }
    let next_epoch = last_epoch + 1;
    let options = RunOptions {
        log_name: log_name.clone(),
        existing_log: Some(log_name.clone()),
        checkpoint_log: Some(log_name.clone()),
        start: checkpoints.clone(),
        stop_after_snapshot: args.snapshot_only,
        // A new snapshot ends the run, not the one the checkpoints already hold.
        snapshot_epoch: args.snapshot_only.then_some(next_epoch),
        slots,
        ..RunOptions::default()
    };
    Ok(Start {
        applier,
        source,
        log_name,
        checkpoints,
        resume,
        next_epoch,
        options,
    })
}

/// Where the source may continue from, if every partition has a complete checkpoint of one
/// epoch: the lowest offset, so no partition misses anything (the others skip what they have).
fn resume_point(
    checkpoints: &[Option<Checkpoint>],
    replid: Option<String>,
    source: &str,
    partitions: u32,
) -> Option<ResumePoint> {
    let all: Vec<&Checkpoint> = checkpoints.iter().flatten().collect();
    let first = all.first()?;
    let usable = all.len() == checkpoints.len()
        && all
            .iter()
            .all(|c| c.epoch == first.epoch && c.snapshot_done);
    let lowest = all.iter().min_by_key(|c| c.position.offset)?;
    if !usable {
        return None;
    }
    Some(ResumePoint {
        source: source.to_string(),
        replid: replid?,
        offset: lowest.position.offset,
        epoch: first.epoch,
        partitions,
        db: lowest.db,
        snapshot_complete: true,
        slots: None,
    })
}
