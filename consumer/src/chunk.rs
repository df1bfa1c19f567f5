//! Big values arriving in chunks: each chunk's elements are written under a temporary key in
//! the value's slot, and the last chunk renames it over the real key. Readers see the old value
//! until the rename and the whole new one after it, and there is never a moment without one.
//!
//! Applying a chunk twice must be harmless, like every write of our own ([`Replies::Strict`]):
//! a batch of them is applied before its checkpoint is stored, and a restart applies it again.
//! So each chunk also records its number under a second bookkeeping key in the value's slot
//! (the part mark), in the same transaction as its elements; a restart in the middle of a
//! value reads the mark and passes over the chunks already there. A first chunk starts the
//! value afresh (it empties the temporary key), and the mark is deleted with the checkpoint
//! that covers the value's last chunk.

use crate::batch::{Batch, Replies};
use crate::error::ApplyError;
use crate::expiry::passed;
use crate::rewrite::Part;
use crate::snapshot::{SnapshotWriter, Written};
use redis::aio::ConnectionLike;
use slotstream_schemas::display::show_key;
use slotstream_schemas::slot::hash_tag;
use slotstream_schemas::{SnapshotChunk, BOOKKEEPING_PREFIX};

/// The temporary key a chunked value is built under: bookkeeping, in the same slot as `key`.
pub fn build_key(key: &[u8]) -> Vec<u8> {
    bookkeeping_key(b"build:", key)
}

/// Where the number of the value's last chunk applied is kept, in the same slot as `key`.
pub fn part_key(key: &[u8]) -> Vec<u8> {
    bookkeeping_key(b"part:", key)
}

/// `__slotstream:<kind>{tag}`: a bookkeeping key in `key`'s slot.
fn bookkeeping_key(kind: &[u8], key: &[u8]) -> Vec<u8> {
    let mut name = BOOKKEEPING_PREFIX.to_vec();
    name.extend_from_slice(kind);
    let tag = hash_tag(key);
    if tag.is_empty() || tag.contains(&b'}') {
        // No tag can name this slot: keep it beside the key (standalone targets have no slots).
        name.extend_from_slice(key);
    } else {
        name.push(b'{');
        name.extend_from_slice(tag);
        name.push(b'}');
    }
    name
}

/// What the temporary key holds while a value is left out (`--on-unsupported=skip-with-warning`):
/// a restart in the middle of the value finds it there and passes over the value's other chunks.
fn left_out_mark(key: &[u8]) -> Vec<u8> {
    let mut mark = b"left out: ".to_vec();
    mark.extend_from_slice(key);
    mark
}

/// What a previous run left of a value it was applying, as the destination shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumed {
    /// The value is being left out (`--on-unsupported=skip-with-warning`).
    pub left_out: bool,
    /// Its chunks up to this number are applied.
    pub applied_through: Option<u32>,
}

/// The chunked value whose chunks are arriving, if any.
#[derive(Debug, Default)]
pub struct ChunkedValue {
    in_value: Option<InValue>,
}

#[derive(Debug)]
struct InValue {
    key: Vec<u8>,
    resumed: Resumed,
}

impl ChunkedValue {
    /// Whether `chunk` continues a value this run has not seen begin (a restart in its middle):
    /// then [`resume_state`] must tell what a previous run left of it, and [`Self::resume`]
    /// take the answer, before the chunk is written.
    pub fn resumes_unseen(&self, chunk: &SnapshotChunk) -> bool {
        let continues = self.in_value.as_ref().is_some_and(|v| v.key == chunk.key);
        !chunk.first && !continues
    }

    /// Takes up a value whose earlier chunks a previous run applied (or left out).
    pub fn resume(&mut self, chunk: &SnapshotChunk, resumed: Resumed) {
        self.in_value = Some(InValue {
            key: chunk.key.clone(),
            resumed,
        });
    }

    /// Adds one chunk of a big value to the batch (in the batch's current database, `db`).
    /// [`Written::Expired`] when the value turned out to have expired (known at its last chunk).
    pub fn write(
        &mut self,
        batch: &mut Batch,
        writer: &SnapshotWriter<'_>,
        db: u32,
        chunk: SnapshotChunk,
        now_ms: i64,
    ) -> Result<Written, ApplyError> {
        if chunk.first {
            self.resume(&chunk, Resumed::default());
        }
        let resumed = self
            .in_value
            .as_ref()
            .map(|v| v.resumed)
            .unwrap_or_default();
        if chunk.last {
            self.in_value = None;
        }
        if resumed.applied_through.is_some_and(|seq| chunk.seq <= seq) {
            return Ok(already_applied(batch, &chunk));
        }
        if resumed.left_out {
            return Ok(pass_over(batch, chunk));
        }
        let building = build_key(&chunk.key);
        let expired = chunk
            .expire_ms
            .is_some_and(|at| passed(at, writer.extension_ms, now_ms));
        let part = Part {
            rdb_type: chunk.rdb_type,
            object: &chunk.object,
            rdb_version: chunk.rdb_version,
            first: chunk.first,
            last: chunk.last,
            expire_ms: chunk.expire_ms.filter(|_| !expired),
        };
        let what = || {
            format!(
                "chunk {} of a big value, RDB type {}",
                chunk.seq, chunk.rdb_type
            )
        };
        // The part's elements and its mark apply together: a restart trusts the mark.
        batch.keep_whole();
        let mut push = batch.push(Replies::Strict);
        let cmds = push.commands();
        let written = writer.rewrite(cmds, db, &chunk.key, &building, &part, now_ms, what)?;
        let done = match written {
            Written::LeftOut if chunk.last => {
                cmds.push(&[&b"DEL"[..], &building]);
                Written::LeftOut
            }
            Written::LeftOut => {
                // Leave a mark, so a restart in the middle of the value passes over it too.
                if let Some(value) = &mut self.in_value {
                    value.resumed.left_out = true;
                }
                cmds.push(&[&b"SET"[..], &building, &left_out_mark(&chunk.key)]);
                Written::LeftOut
            }
            _ if !chunk.last => Written::Yes,
            _ if expired => {
                cmds.push(&[&b"DEL"[..], &building]);
                Written::Expired
            }
            _ => {
                // Never a missing key: the last chunk holds elements, written in this batch
                // (fields whose TTL has passed are kept for the TTL extension, like keys).
                cmds.push(&[&b"RENAME"[..], &building, &chunk.key]);
                Written::Yes
            }
        };
        mark_part(cmds, &chunk);
        push.concerning(chunk.key.clone());
        Ok(finish(batch, &chunk, done))
    }
}

/// `SET <part mark> <seq>`: this chunk is applied.
fn mark_part(cmds: &mut crate::wire::Commands, chunk: &SnapshotChunk) {
    let seq = chunk.seq.to_string();
    cmds.push(&[&b"SET"[..], &part_key(&chunk.key), seq.as_bytes()]);
}

/// After a chunk's commands: with the last one, the value counts once (like a whole key) and
/// its part mark goes with the checkpoint.
fn finish(batch: &mut Batch, chunk: &SnapshotChunk, written: Written) -> Written {
    if chunk.last {
        batch.delete_when_stored(part_key(&chunk.key));
        batch.tally.records += 1;
        if written == Written::Yes {
            batch.tally.snapshot_keys += 1;
        }
    }
    written
}

/// A chunk a previous run applied (its checkpoint was not stored yet when it stopped).
fn already_applied(batch: &mut Batch, chunk: &SnapshotChunk) -> Written {
    finish(batch, chunk, Written::Yes)
}

/// A part of a value being left out: nothing is written but its part mark and, with the last
/// part, the removal of the left-out mark under its temporary key.
fn pass_over(batch: &mut Batch, chunk: SnapshotChunk) -> Written {
    let mut push = batch.push(Replies::Strict);
    if chunk.last {
        push.commands().push(&[&b"DEL"[..], &build_key(&chunk.key)]);
    }
    mark_part(push.commands(), &chunk);
    push.concerning(chunk.key.clone());
    finish(batch, &chunk, Written::LeftOut)
}

/// What a previous run left of `key`'s value in `db`: whether it is being left out (the mark
/// under its temporary key) and which of its chunks are applied (its part mark).
pub async fn resume_state(
    conn: &mut (impl ConnectionLike + Send),
    db: u32,
    key: &[u8],
) -> Result<Resumed, redis::RedisError> {
    let building = build_key(key);
    // The connection is left in db 0 (a cluster has no other).
    let mut pipe = redis::pipe();
    if db != 0 {
        pipe.cmd("SELECT").arg(db).ignore();
    }
    pipe.cmd("TYPE").arg(&building);
    pipe.cmd("GET").arg(part_key(key));
    let (kind, part): (String, Option<String>) = pipe.query_async(conn).await?;
    let held: Option<Vec<u8>> = if kind == "string" {
        redis::cmd("GET").arg(&building).query_async(conn).await?
    } else {
        None
    };
    if db != 0 {
        redis::cmd("SELECT").arg(0).query_async::<()>(conn).await?;
    }
    let left_out = held == Some(left_out_mark(key));
    let resumed = Resumed {
        left_out,
        applied_through: part.and_then(|p| p.parse().ok()),
    };
    if resumed != Resumed::default() {
        tracing::info!(
            db,
            key = %show_key(key),
            left_out,
            applied_through = resumed.applied_through,
            "restarted in a big value: passing over what an earlier run applied"
        );
    }
    Ok(resumed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_schemas::slot::key_slot;

    #[test]
    fn the_bookkeeping_keys_are_in_the_value_slot() {
        for key in [
            &b"plain"[..],
            b"{user:1}:cart",
            b"",
            b"a}b",
            b"x{}y",
            b"\x00\xff",
        ] {
            for bookkeeping in [build_key(key), part_key(key)] {
                assert!(bookkeeping.starts_with(BOOKKEEPING_PREFIX));
                if !hash_tag(key).is_empty() && !hash_tag(key).contains(&b'}') {
                    assert_eq!(key_slot(&bookkeeping), key_slot(key), "{key:?}");
                }
            }
            assert_ne!(build_key(key), part_key(key));
        }
    }
}
