//! A stream's entries and everything else it carries, as commands: `XADD` per entry, then its
//! last ID and counters (`XSETID`), consumer groups (`XGROUP CREATE`), consumers and their
//! pending entries (`XCLAIM … FORCE` with the delivery time and count).
//!
//! What an older destination cannot express is left out: entries-added, max-deleted-ID and a
//! group's entries-read need Redis 7.0 (or Valkey). A pending entry whose message was deleted
//! cannot be re-created by any command (`XCLAIM` ignores IDs it does not find), and a consumer's
//! seen and active times become the time of the rewrite.

use super::Writer;
use slotstream_rdb::elements::{ConsumerGroup, StreamEntry, StreamId, StreamMeta};

/// A group made and dropped again to create an empty stream (`MKSTREAM`) on every version.
const SCAFFOLD_GROUP: &[u8] = b"__slotstream:empty";

pub(super) fn write_entry(w: &mut Writer<'_, '_>, entry: &StreamEntry) {
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
