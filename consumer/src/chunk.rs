//! Big values arriving in chunks: each chunk's elements are written under a temporary key in
//! the value's slot, and the last chunk renames it over the real key. Readers see the old value
//! until the rename and the whole new one after it, and there is never a moment without one.
//! The temporary key moves with the partition's checkpoint, so after a restart the chunks not
//! applied yet are added to it and nothing is written twice.

use crate::batch::{Batch, Replies};
use crate::error::ApplyError;
use crate::rewrite::Part;
use crate::snapshot::{SnapshotWriter, Written};
use redis::aio::MultiplexedConnection;
use slotstream_schemas::display::show_key;
use slotstream_schemas::slot::hash_tag;
use slotstream_schemas::{SnapshotChunk, BOOKKEEPING_PREFIX};

/// The temporary key a chunked value is built under: bookkeeping, in the same slot as `key`.
pub fn build_key(key: &[u8]) -> Vec<u8> {
    let mut name = BOOKKEEPING_PREFIX.to_vec();
    name.extend_from_slice(b"build:");
    let tag = hash_tag(key);
    if tag.is_empty() || tag.contains(&b'}') {
        // No tag can name this slot: build beside it (standalone targets have no slots).
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

/// The chunked value whose chunks are arriving, if any.
#[derive(Debug, Default)]
pub struct ChunkedValue {
    in_value: Option<InValue>,
}

#[derive(Debug)]
struct InValue {
    key: Vec<u8>,
    /// Left out (`--on-unsupported=skip-with-warning`): its other chunks are passed over.
    left_out: bool,
}

impl ChunkedValue {
    /// Whether `chunk` continues a value this run has not seen begin (a restart in its middle):
    /// then [`left_out_mark_found`] must tell whether the value is being left out, and
    /// [`Self::resume`] take the answer, before the chunk is written.
    pub fn resumes_unseen(&self, chunk: &SnapshotChunk) -> bool {
        let continues = self.in_value.as_ref().is_some_and(|v| v.key == chunk.key);
        !chunk.first && !continues
    }

    /// Takes up a value whose earlier chunks a previous run applied (or left out).
    pub fn resume(&mut self, chunk: &SnapshotChunk, left_out: bool) {
        self.in_value = Some(InValue {
            key: chunk.key.clone(),
            left_out,
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
            self.in_value = Some(InValue {
                key: chunk.key.clone(),
                left_out: false,
            });
        }
        let building = build_key(&chunk.key);
        let left_out = self.in_value.as_ref().is_some_and(|v| v.left_out);
        if chunk.last {
            self.in_value = None;
        }
        if left_out {
            return Ok(pass_over(batch, chunk, &building));
        }
        let expired = chunk.expire_ms.is_some_and(|at| at <= now_ms);
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
        let mut push = batch.push(Replies::Strict);
        let written = writer.rewrite(
            push.commands(),
            db,
            &chunk.key,
            &building,
            &part,
            now_ms,
            what,
        )?;
        let (last, key) = (chunk.last, chunk.key);
        if written == Written::LeftOut {
            if last {
                push.commands().push(&[&b"DEL"[..], &building]);
                push.concerning(key);
                batch.tally.records += 1;
            } else {
                // Leave a mark, so a restart in the middle of the value passes over it too.
                if let Some(value) = &mut self.in_value {
                    value.left_out = true;
                }
                let mark = left_out_mark(&key);
                push.commands().push(&[&b"SET"[..], &building, &mark]);
                push.concerning(key);
            }
            return Ok(Written::LeftOut);
        }
        if !last {
            push.concerning(key);
            return Ok(Written::Yes);
        }
        if expired {
            push.commands().push(&[&b"DEL"[..], &building]);
        } else {
            // Never a missing key: the last chunk holds elements, written in this batch
            // (fields whose TTL has passed are kept for the TTL extension, like keys).
            push.commands().push(&[&b"RENAME"[..], &building, &key]);
        }
        push.concerning(key);
        // A value counts once, like a whole key, when its last chunk is applied.
        batch.tally.records += 1;
        if expired {
            return Ok(Written::Expired);
        }
        batch.tally.snapshot_keys += 1;
        Ok(Written::Yes)
    }
}

/// A part of a value being left out: nothing is written but, with the last part, the removal of
/// the mark under its temporary key (the value counts as one record then).
fn pass_over(batch: &mut Batch, chunk: SnapshotChunk, building: &[u8]) -> Written {
    if chunk.last {
        batch.command(Replies::Strict, chunk.key, &[&b"DEL"[..], building]);
        batch.tally.records += 1;
    }
    Written::LeftOut
}

/// Whether the temporary key of `key` in `db` holds the mark of a value being left out.
pub async fn left_out_mark_found(
    conn: &mut MultiplexedConnection,
    db: u32,
    key: &[u8],
) -> Result<bool, redis::RedisError> {
    let building = build_key(key);
    let (kind,): (String,) = redis::pipe()
        .cmd("SELECT")
        .arg(db)
        .ignore()
        .cmd("TYPE")
        .arg(&building)
        .query_async(conn)
        .await?;
    if kind != "string" {
        return Ok(false);
    }
    let held: Option<Vec<u8>> = redis::cmd("GET").arg(&building).query_async(conn).await?;
    let found = held == Some(left_out_mark(key));
    if found {
        tracing::info!(
            db,
            key = %show_key(key),
            "restarted in a big value being left out: its other chunks are passed over"
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_schemas::slot::key_slot;

    #[test]
    fn the_building_key_is_in_the_value_slot() {
        for key in [
            &b"plain"[..],
            b"{user:1}:cart",
            b"",
            b"a}b",
            b"x{}y",
            b"\x00\xff",
        ] {
            let building = build_key(key);
            assert!(building.starts_with(BOOKKEEPING_PREFIX));
            if !hash_tag(key).is_empty() && !hash_tag(key).contains(&b'}') {
                assert_eq!(key_slot(&building), key_slot(key), "{key:?}");
            }
        }
    }
}
