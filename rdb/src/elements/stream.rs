//! Streams (RDB types 15, 19 and 21): their entries, metadata and consumer groups.
//!
//! A stream is a count of nodes, each a 16-byte master ID (the node key) and a listpack; then
//! length and last ID; from type 19 first ID, max deleted ID and entries added; then the groups,
//! each with its name, last delivered ID, (type 19+) entries read, its pending entries (raw
//! ID, delivery time, delivery count) and its consumers (name, seen time, (type 21) active
//! time, raw IDs of their pending entries).
//!
//! A node's listpack starts with a master entry: `count`, `deleted`, the number of master
//! fields, the fields, and `0`. Each entry then is `flags`, ms and seq deltas from the master
//! ID, (unless flag SAMEFIELDS) a field count and field/value pairs, or (SAMEFIELDS) only the
//! values of the master fields, and last `lp-count`, the number of listpack items it took.
//! Flag DELETED marks an entry that XDEL removed.

use super::error::DecodeError;
use super::listpack::{Item, Listpack};
use super::reader::{capacity_for, Blob, Reader};
use super::sink::Sink;
use crate::types::{TYPE_STREAM_LISTPACKS_2, TYPE_STREAM_LISTPACKS_3};

/// A stream entry ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    /// From its raw form in node keys and PELs: milliseconds, sequence, both big-endian.
    pub fn from_be_bytes(raw: [u8; 16]) -> StreamId {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&raw[..8]);
        seq.copy_from_slice(&raw[8..]);
        StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A whole decoded stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stream {
    /// Live entries in ID order (deleted ones are left out).
    pub entries: Vec<StreamEntry>,
    pub meta: StreamMeta,
}

/// One entry: its ID and its field/value pairs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Everything of a stream besides its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamMeta {
    /// Number of live entries.
    pub length: u64,
    pub last_id: StreamId,
    /// From type 19 (Redis 7.0) on; `None` before.
    pub first_id: Option<StreamId>,
    pub max_deleted_id: Option<StreamId>,
    pub entries_added: Option<u64>,
    pub groups: Vec<ConsumerGroup>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerGroup {
    pub name: Vec<u8>,
    pub last_delivered_id: StreamId,
    /// The group's read counter: `None` before type 19, or when stored as unknown (-1).
    pub entries_read: Option<u64>,
    /// The group's pending entries list, in ID order.
    pub pending: Vec<PendingEntry>,
    pub consumers: Vec<Consumer>,
}

/// An entry delivered to a consumer of the group and not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEntry {
    pub id: StreamId,
    /// Unix milliseconds of the last delivery.
    pub delivery_time_ms: i64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub name: Vec<u8>,
    pub seen_time_ms: i64,
    /// From type 21 (Redis 7.2) on.
    pub active_time_ms: Option<i64>,
    /// IDs of the group's pending entries owned by this consumer.
    pub pending: Vec<StreamId>,
}

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// Reads a stream, handing its entries to `sink`; returns the rest.
///
/// Long, because it reads the stream's layout (nodes, then the metadata, then each group with
/// its pending entries and consumers) in the order `t_stream.c` writes it, one version's
/// extra fields at a time; split, that order would be harder to check against the source.
pub(super) fn stream<E: From<DecodeError>>(
    rdb_type: u8,
    r: &mut Reader<'_>,
    sink: &mut Sink<'_, StreamEntry, E>,
) -> Result<StreamMeta, E> {
    let v2 = rdb_type >= TYPE_STREAM_LISTPACKS_2;
    let v3 = rdb_type >= TYPE_STREAM_LISTPACKS_3;
    let nodes = r.length("stream node count")?;
    for _ in 0..nodes {
        let at = r.pos();
        let key = r.string("stream node key")?;
        let raw: [u8; 16] = key.as_ref().try_into().map_err(|_| {
            let detail = format!("{} bytes instead of a 16-byte ID", key.len());
            DecodeError::invalid("stream node key", at, detail)
        })?;
        let blob = r.blob("stream node listpack")?;
        node(&blob, StreamId::from_be_bytes(raw), sink)?;
    }
    let id = |r: &mut Reader<'_>, what| -> Result<StreamId, DecodeError> {
        Ok(StreamId {
            ms: r.length(what)?,
            seq: r.length(what)?,
        })
    };
    let mut meta = StreamMeta {
        length: r.length("stream length")?,
        last_id: id(r, "stream last ID")?,
        ..StreamMeta::default()
    };
    if v2 {
        meta.first_id = Some(id(r, "stream first ID")?);
        meta.max_deleted_id = Some(id(r, "stream max deleted ID")?);
        meta.entries_added = Some(r.length("stream entries added")?);
    }
    let groups = r.length("consumer group count")?;
    meta.groups.reserve(capacity_for(groups, r.left()));
    for _ in 0..groups {
        let name = r.string("consumer group name")?.into_owned();
        let last_delivered_id = id(r, "group last delivered ID")?;
        let entries_read = if v2 {
            Some(r.length("group entries read")?).filter(|&n| n != u64::MAX)
        } else {
            None
        };
        let n = r.length("group PEL size")?;
        let mut pending = Vec::with_capacity(capacity_for(n, r.left() / 25));
        for _ in 0..n {
            pending.push(PendingEntry {
                id: r.raw_stream_id("pending entry ID")?,
                delivery_time_ms: r.i64_le("pending entry delivery time")?,
                delivery_count: r.length("pending entry delivery count")?,
            });
        }
        let n = r.length("consumer count")?;
        let mut consumers = Vec::with_capacity(capacity_for(n, r.left() / 10));
        for _ in 0..n {
            let name = r.string("consumer name")?.into_owned();
            let seen_time_ms = r.i64_le("consumer seen time")?;
            let active_time_ms = if v3 {
                Some(r.i64_le("consumer active time")?)
            } else {
                None
            };
            let owned = r.length("consumer PEL size")?;
            let mut ids = Vec::with_capacity(capacity_for(owned, r.left() / 16));
            for _ in 0..owned {
                ids.push(r.raw_stream_id("consumer pending entry ID")?);
            }
            consumers.push(Consumer {
                name,
                seen_time_ms,
                active_time_ms,
                pending: ids,
            });
        }
        meta.groups.push(ConsumerGroup {
            name,
            last_delivered_id,
            entries_read,
            pending,
            consumers,
        });
    }
    Ok(meta)
}

/// The entries of one node's listpack.
///
/// Long, because a node is a master entry followed by entries that are deltas of it (with or
/// without their own field names): read in one pass, as the listpack lays them out.
fn node<E: From<DecodeError>>(
    blob: &Blob<'_>,
    master: StreamId,
    sink: &mut Sink<'_, StreamEntry, E>,
) -> Result<(), E> {
    let wrap = |e| blob.wrap(e);
    let mut lp = Listpack::new(&blob.data).map_err(wrap)?;
    let end = blob.data.len().saturating_sub(1);
    let mut next = |what: &'static str| -> Result<(usize, Item<'_>), DecodeError> {
        lp.next()
            .unwrap_or_else(|| Err(DecodeError::truncated(what, end, 1, 0)))
    };
    let int = |(at, item): (usize, Item<'_>), what: &'static str| -> Result<i64, DecodeError> {
        item.int()
            .ok_or_else(|| DecodeError::invalid(what, at, "not an integer"))
    };
    let count = int(next("master entry")?, "master entry count").map_err(wrap)?;
    let deleted = int(next("master entry")?, "master entry deleted count").map_err(wrap)?;
    let (at, item) = next("master entry").map_err(wrap)?;
    let nfields = int((at, item), "master field count").map_err(wrap)?;
    let nfields = usize::try_from(nfields)
        .map_err(|_| wrap(DecodeError::invalid("master field count", at, "negative")))?;
    let mut master_fields = Vec::with_capacity(nfields.min(blob.data.len()));
    for _ in 0..nfields {
        master_fields.push(next("master field").map_err(wrap)?.1.to_vec());
    }
    let (at, item) = next("master entry").map_err(wrap)?;
    if int((at, item), "master entry end").map_err(wrap)? != 0 {
        return Err(wrap(DecodeError::invalid("master entry end", at, "not 0")).into());
    }
    let (mut live, mut dead) = (0i64, 0i64);
    loop {
        let (at, flags) = match lp.next() {
            None => break,
            Some(entry) => entry.map_err(wrap)?,
        };
        let mut next = |what: &'static str| -> Result<(usize, Item<'_>), DecodeError> {
            lp.next()
                .unwrap_or_else(|| Err(DecodeError::truncated(what, end, 1, 0)))
        };
        let flags = int((at, flags), "stream entry flags").map_err(wrap)?;
        let ms = int(next("stream entry")?, "stream entry ID").map_err(wrap)?;
        let seq = int(next("stream entry")?, "stream entry ID").map_err(wrap)?;
        let id = StreamId {
            ms: master.ms.wrapping_add(ms as u64),
            seq: master.seq.wrapping_add(seq as u64),
        };
        let same = flags & FLAG_SAMEFIELDS != 0;
        let mut fields = Vec::new();
        let items = if same {
            fields.reserve(master_fields.len());
            for field in &master_fields {
                let value = next("stream entry value").map_err(wrap)?.1.to_vec();
                fields.push((field.clone(), value));
            }
            master_fields.len() as i64 + 3
        } else {
            let (n_at, n) = next("stream entry").map_err(wrap)?;
            let n = int((n_at, n), "stream entry field count").map_err(wrap)?;
            let n = usize::try_from(n).map_err(|_| {
                wrap(DecodeError::invalid(
                    "stream entry field count",
                    n_at,
                    "negative",
                ))
            })?;
            fields.reserve(n.min(blob.data.len()));
            for _ in 0..n {
                let field = next("stream entry field").map_err(wrap)?.1.to_vec();
                let value = next("stream entry value").map_err(wrap)?.1.to_vec();
                fields.push((field, value));
            }
            2 * n as i64 + 4
        };
        let (c_at, c) = next("stream entry").map_err(wrap)?;
        let lp_count = int((c_at, c), "stream entry item count").map_err(wrap)?;
        if lp_count != items {
            let detail = format!("{lp_count}, but the entry took {items} items");
            return Err(wrap(DecodeError::invalid(
                "stream entry item count",
                c_at,
                detail,
            ))
            .into());
        }
        if flags & FLAG_DELETED != 0 {
            dead += 1;
        } else {
            live += 1;
            sink.push(StreamEntry { id, fields })?;
        }
    }
    if (live, dead) != (count, deleted) {
        let detail = format!(
            "it counts {count} live and {deleted} deleted entries, there are {live} and {dead}"
        );
        return Err(wrap(DecodeError::invalid("stream master entry", 6, detail)).into());
    }
    Ok(())
}
