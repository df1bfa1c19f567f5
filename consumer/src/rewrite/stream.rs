//! A stream's entries and everything else it carries, as commands: `XADD` per entry, then its
//! last ID and counters (`XSETID`), consumer groups (`XGROUP CREATE`), consumers and their
//! pending entries (`XCLAIM … FORCE` with the delivery time and count).
//!
//! A pending entry whose message was deleted (by `XDEL`, or trimmed away) cannot be claimed,
//! since `XCLAIM` ignores IDs it does not find: when the whole stream is written at once, such an
//! ID gets a placeholder entry in its place in the ID order, is claimed, and the placeholders are
//! deleted again (their `XDEL` leaves the pending entries, as on the source), after which the
//! last ID and counters are set once more. A stream written in parts (bigger than
//! `--chunk-bytes`) has sent its entries before its pending entries arrive, so such pending
//! entries are still left out there.
//!
//! What an older destination cannot express is left out: entries-added, max-deleted-ID and a
//! group's entries-read need Redis 7.0 (or Valkey). A consumer's seen and active times become
//! the time of the rewrite.

use super::Writer;
use slotstream_rdb::elements::{ConsumerGroup, StreamEntry, StreamId, StreamMeta};
use std::collections::VecDeque;

/// A group made and dropped again to create an empty stream (`MKSTREAM`) on every version.
const SCAFFOLD_GROUP: &[u8] = b"__slotstream:empty";

/// The field of a placeholder entry (deleted again before the value is done).
const PLACEHOLDER_FIELD: &[u8] = b"__slotstream:placeholder";

/// A whole stream's pending IDs, to give a placeholder entry each one the stream lacks.
#[derive(Debug, Default)]
pub(super) struct Placeholders {
    /// Pending IDs not passed yet, in order.
    pending: VecDeque<StreamId>,
    /// Placeholder entries written, to delete once they are claimed.
    written: Vec<StreamId>,
}

impl Placeholders {
    /// For a stream whose metadata is `meta`, written whole: every pending ID of every group.
    pub(super) fn of(meta: &StreamMeta) -> Placeholders {
        let mut ids: Vec<StreamId> = meta
            .groups
            .iter()
            .flat_map(|group| group.pending.iter().map(|p| p.id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Placeholders {
            pending: ids.into(),
            written: Vec::new(),
        }
    }
}

/// Placeholders for the pending IDs before `next` (all that are left with `None`); a pending ID
/// equal to `next` is the entry itself.
fn place_before(w: &mut Writer<'_, '_>, next: Option<StreamId>) {
    while let Some(&id) = w.placeholders.pending.front() {
        if next.is_some_and(|next| id > next) {
            return;
        }
        w.placeholders.pending.pop_front();
        if Some(id) == next {
            return;
        }
        let key = w.key;
        w.command(&[
            b"XADD",
            key,
            id_text(id).as_bytes(),
            PLACEHOLDER_FIELD,
            b"1",
        ]);
        w.placeholders.written.push(id);
    }
}

pub(super) fn write_entry(w: &mut Writer<'_, '_>, entry: &StreamEntry) {
    place_before(w, Some(entry.id));
    w.out.command(3 + entry.fields.len() * 2);
    w.out.arg(b"XADD");
    w.out.arg(w.key);
    w.out.arg(id_text(entry.id).as_bytes());
    for (field, value) in &entry.fields {
        w.out.arg(field);
        w.out.arg(value);
    }
    w.count += 1;
}

/// An empty stream under the key (entries are appended to it): a group made and dropped again
/// with `MKSTREAM`, which every version has.
pub(super) fn create_empty(w: &mut Writer<'_, '_>) {
    let key = w.key;
    w.command(&[b"XGROUP", b"CREATE", key, SCAFFOLD_GROUP, b"0", b"MKSTREAM"]);
    w.command(&[b"XGROUP", b"DESTROY", key, SCAFFOLD_GROUP]);
}

pub(super) fn write_meta(w: &mut Writer<'_, '_>, meta: &StreamMeta) {
    // Pending IDs past the last entry: placed before the last ID moves past them.
    place_before(w, None);
    let key = w.key;
    let counters = w.ctx.target.has_stream_counters();
    let last_id = id_text(meta.last_id);
    let mut args: Vec<Vec<u8>> = vec![b"XSETID".to_vec(), key.to_vec(), last_id.into_bytes()];
    if counters {
        if let (Some(added), Some(max_deleted)) = (meta.entries_added, meta.max_deleted_id) {
            args.extend([
                b"ENTRIESADDED".to_vec(),
                added.to_string().into_bytes(),
                b"MAXDELETEDID".to_vec(),
                id_text(max_deleted).into_bytes(),
            ]);
        }
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    w.command(&refs);
    for group in &meta.groups {
        write_group(w, group, counters);
    }
    if w.placeholders.written.is_empty() {
        return;
    }
    // Claimed: the placeholders go, their pending entries stay; then the last ID and counters
    // once more, since a deletion may have moved the max-deleted ID.
    let ids: Vec<String> = w.placeholders.written.drain(..).map(id_text).collect();
    let mut xdel: Vec<&[u8]> = vec![b"XDEL", key];
    xdel.extend(ids.iter().map(|id| id.as_bytes()));
    w.command(&xdel);
    w.command(&refs);
}

fn write_group(w: &mut Writer<'_, '_>, group: &ConsumerGroup, counters: bool) {
    let key = w.key;
    let last = id_text(group.last_delivered_id);
    let read = group
        .entries_read
        .filter(|_| counters)
        .map(|n| n.to_string());
    match &read {
        Some(read) => w.command(&[
            b"XGROUP",
            b"CREATE",
            key,
            &group.name,
            last.as_bytes(),
            b"ENTRIESREAD",
            read.as_bytes(),
        ]),
        None => w.command(&[b"XGROUP", b"CREATE", key, &group.name, last.as_bytes()]),
    }
    for consumer in &group.consumers {
        if w.ctx.target.at_least(6, 2) {
            w.command(&[
                b"XGROUP",
                b"CREATECONSUMER",
                key,
                &group.name,
                &consumer.name,
            ]);
        } else {
            // Reading the consumer's own (empty) history creates it and changes nothing else.
            w.command(&[
                b"XREADGROUP",
                b"GROUP",
                &group.name,
                &consumer.name,
                b"COUNT",
                b"1",
                b"STREAMS",
                key,
                b"0",
            ]);
        }
        for id in &consumer.pending {
            let Ok(at) = group.pending.binary_search_by(|p| p.id.cmp(id)) else {
                continue;
            };
            let entry = &group.pending[at];
            let (id, time, count) = (
                id_text(entry.id),
                entry.delivery_time_ms.to_string(),
                entry.delivery_count.to_string(),
            );
            w.command(&[
                b"XCLAIM",
                key,
                &group.name,
                &consumer.name,
                b"0",
                id.as_bytes(),
                b"TIME",
                time.as_bytes(),
                b"RETRYCOUNT",
                count.as_bytes(),
                b"FORCE",
                b"JUSTID",
            ]);
        }
    }
}

fn id_text(id: StreamId) -> String {
    id.to_string()
}
