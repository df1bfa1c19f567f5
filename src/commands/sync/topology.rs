//! Slot migrations on a cluster source, followed by `sync`: a watch that stops the attempt when
//! the slot map changes or a slot starts moving, and, before the next attempt, a wait until no
//! slot is moving; that attempt then takes a new snapshot of every shard (each shard's sweep,
//! kept to the slots it now serves, removes what moved away or was deleted meanwhile).
//!
//! Why a new snapshot: a moved key is written by its new shard (`RESTORE-ASKING`) before its
//! old shard deletes it, and the shards' streams are applied independently, so following both
//! could lose the key or let the old shard's late writes land over the new one's. An attempt
//! ends whole (every shard's capture and apply side) before the next begins, so the new
//! snapshots come after everything the old shards' streams applied.

use slotstream_producer::shards::{self, SourceShape};
use slotstream_producer::SourceConfig;
use slotstream_schemas::slot::SlotRanges;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::shutdown::Shutdown;

/// How often the slot map is read.
const POLL_EVERY: Duration = Duration::from_secs(2);
/// How often a wait for a resharding to end says so.
const WAITING_NOTE_EVERY: Duration = Duration::from_secs(10);

/// The slot ranges of the source's shards now, sorted, and whether a slot is moving; `None`
/// when the source cannot tell (a node down in a failover, a cluster briefly failing). Tries
/// each of `nodes` in turn. Blocking.
fn read_map(nodes: &[SourceConfig]) -> Option<(Vec<String>, bool)> {
    nodes.iter().find_map(|node| {
        let Ok(SourceShape::Cluster(found)) = shards::discover(node) else {
            return None;
        };
        let mut map: Vec<String> = found.iter().map(|s| s.slots.to_string()).collect();
        map.sort();
        Some((map, shards::slots_moving(node, &found)))
    })
}

/// Watches the slot map of the shards an attempt captures (`slots`, read from `nodes`): when
/// it changes, or a slot starts moving, sets `moved` and stops the attempt. Ends when the
/// attempt stops.
pub async fn watch(
    nodes: Vec<SourceConfig>,
    slots: Vec<SlotRanges>,
    attempt: Shutdown,
    moved: Arc<AtomicBool>,
) {
    let mut expected: Vec<String> = slots.iter().map(ToString::to_string).collect();
    expected.sort();
    let nodes = Arc::new(nodes);
    loop {
        if attempt
            .or_stop(tokio::time::sleep(POLL_EVERY))
            .await
            .is_none()
        {
            return;
        }
        let reading = {
            let nodes = nodes.clone();
            tokio::task::spawn_blocking(move || read_map(&nodes))
        };
        let Ok(Some((map, moving))) = reading.await else {
            continue;
        };
        if moving || map != expected {
            tracing::warn!(
                moving,
                slots = %map.join(" "),
                "the source's slots are moving between its shards: stopping the copy, to start \
                 it again with a new snapshot of every shard once the resharding is over"
            );
            moved.store(true, Ordering::Relaxed);
            attempt.stop();
            return;
        }
    }
}

/// Waits until no slot of the source's cluster is moving and its slot map reads the same twice
/// in a row. `source` is any node. `false` when a stop came first.
pub async fn wait_until_settled(source: &SourceConfig, shutdown: &Shutdown) -> bool {
    let nodes = Arc::new(vec![source.clone()]);
    let started = Instant::now();
    let mut last_note: Option<Instant> = None;
    let mut previous: Option<Vec<String>> = None;
    loop {
        let reading = {
            let nodes = nodes.clone();
            tokio::task::spawn_blocking(move || read_map(&nodes))
        };
        let Some(Ok(read)) = shutdown.or_stop(reading).await else {
            return false;
        };
        let map = read.and_then(|(map, moving)| (!moving).then_some(map));
        if map.is_some() && map == previous {
            tracing::info!(
                waited_s = started.elapsed().as_secs(),
                "no slot of the source is moving: a new snapshot of every shard"
            );
            return true;
        }
        previous = map;
        if last_note.is_none_or(|at| at.elapsed() >= WAITING_NOTE_EVERY) {
            tracing::info!(
                waited_s = started.elapsed().as_secs(),
                "waiting for the source's resharding to end"
            );
            last_note = Some(Instant::now());
        }
        if shutdown
            .or_stop(tokio::time::sleep(POLL_EVERY))
            .await
            .is_none()
        {
            return false;
        }
    }
}
