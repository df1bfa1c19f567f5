//! Big values arriving in chunks: each chunk's elements are written under a temporary key in
//! the value's slot, and the last chunk renames it over the real key. Readers see the old value
//! until the rename and the whole new one after it, and there is never a moment without one.
//! The temporary key moves with the partition's checkpoint, so after a restart the chunks not
//! applied yet are added to it and nothing is written twice.

use super::Lane;
use crate::error::ApplyError;
use crate::rewrite::Part;
use slotstream_schemas::display::show_key;
use slotstream_schemas::slot::hash_tag;
use slotstream_schemas::{now_ms, SnapshotChunk, BOOKKEEPING_PREFIX};

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

/// A chunked value whose chunks are arriving.
pub(super) struct InValue {
    key: Vec<u8>,
    /// Left out (`--on-unsupported=skip-with-warning`): its other chunks are passed over.
    left_out: bool,
}

impl Lane {
    /// Called before [`Lane::write_chunk`]: keeps track of the value being applied. A chunk that
    /// continues a value this run has not seen begin (a restart in its middle) may belong to a
    /// value being left out, as the mark under its temporary key says.
    pub(super) async fn resume_chunked(
        &mut self,
        db: u32,
        chunk: &SnapshotChunk,
    ) -> Result<(), ApplyError> {
        let continues = self.chunked.as_ref().is_some_and(|v| v.key == chunk.key);
        if continues && !chunk.first {
            return Ok(());
        }
        let left_out = !chunk.first && self.left_out_mark_found(db, &chunk.key).await?;
        self.chunked = Some(InValue {
            key: chunk.key.clone(),
            left_out,
        });
        Ok(())
    }

    /// Whether the temporary key of `key` holds the mark of a value being left out.
    async fn left_out_mark_found(&mut self, db: u32, key: &[u8]) -> Result<bool, ApplyError> {
        let building = build_key(key);
        let addr = self.ctx.target.addr.clone();
        let failed = |cause| ApplyError::Redis {
            addr: addr.clone(),
            doing: format!("reading {}", show_key(&building)),
            cause,
        };
        let (kind,): (String,) = redis::pipe()
            .cmd("SELECT")
            .arg(db)
            .ignore()
            .cmd("TYPE")
            .arg(&building)
            .query_async(&mut self.conn)
            .await
            .map_err(failed)?;
        if kind != "string" {
            return Ok(false);
        }
        let held: Option<Vec<u8>> = redis::cmd("GET")
            .arg(&building)
            .query_async(&mut self.conn)
            .await
            .map_err(failed)?;
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

    /// Adds one chunk of a big value to the batch.
    pub(super) fn write_chunk(&mut self, db: u32, chunk: SnapshotChunk) -> Result<(), ApplyError> {
        let building = build_key(&chunk.key);
        let left_out = self.chunked.as_ref().is_some_and(|v| v.left_out);
        if chunk.last {
            self.chunked = None;
        }
        if left_out {
            if chunk.last {
                self.batch.cmds.push(&[b"DEL", &building[..]]);
                self.batch.keys.push((db, chunk.key));
                self.batch.records += 1;
            }
            return Ok(());
        }
        let now = now_ms();
        let expired = chunk.expire_ms.is_some_and(|at| at <= now);
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
        let written = self.write_rewritten(db, &chunk.key, &building, &part, now, what)?;
        let Some(mut commands) = written else {
            if chunk.last {
                self.batch.cmds.push(&[b"DEL", &building[..]]);
                self.batch.records += 1;
            } else {
                if let Some(value) = &mut self.chunked {
                    value.left_out = true;
                }
                let mark = left_out_mark(&chunk.key);
                self.batch.cmds.push(&[b"SET", &building[..], &mark]);
            }
            self.batch.keys.push((db, chunk.key));
            return Ok(());
        };
        if chunk.last {
            if expired {
                self.batch.cmds.push(&[b"DEL", &building[..]]);
                self.count_expired();
            } else {
                // Never a missing key: the last chunk holds elements, written in this batch
                // (fields whose TTL has passed are kept for the TTL extension, like keys).
                self.batch
                    .cmds
                    .push(&[b"RENAME", &building[..], &chunk.key]);
                self.batch.snapshot_keys += 1;
            }
            commands += 1;
        }
        self.batch
            .keys
            .extend(std::iter::repeat_n((db, chunk.key), commands));
        // A value counts once, like a whole key, when its last chunk is applied.
        if chunk.last {
            self.batch.records += 1;
        }
        Ok(())
    }
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
