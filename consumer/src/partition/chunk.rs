//! Big values arriving in chunks: each chunk's elements are written under a temporary key in
//! the value's slot, and the last chunk renames it over the real key. Readers see the old value
//! until the rename and the whole new one after it, and there is never a moment without one.
//! The temporary key moves with the partition's checkpoint, so after a restart the chunks not
//! applied yet are added to it and nothing is written twice.

use super::Lane;
use crate::error::ApplyError;
use crate::rewrite::{write_part, Part, RewriteContext, Rewritten};
use slotstream_schemas::display::show_key;
use slotstream_schemas::slot::hash_tag;
use slotstream_schemas::{now_ms, SnapshotChunk, BOOKKEEPING_PREFIX};
use std::sync::atomic::Ordering;

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

impl Lane {
    /// Adds one chunk of a big value to the batch.
    pub(super) fn write_chunk(&mut self, db: u32, chunk: SnapshotChunk) -> Result<(), ApplyError> {
        if chunk.first {
            self.left_out = None;
        }
        if self.left_out.as_deref() == Some(&chunk.key[..]) {
            if chunk.last {
                self.left_out = None;
            }
            return Ok(());
        }
        let building = build_key(&chunk.key);
        let now = now_ms();
        let ctx = RewriteContext {
            target: &self.ctx.target_info,
            now_ms: now,
            extension_ms: self.ctx.ttl_extension_ms,
            on_unsupported: self.ctx.on_unsupported,
        };
        let expired = chunk.expire_ms.is_some_and(|at| at <= now);
        let part = Part {
            rdb_type: chunk.rdb_type,
            object: &chunk.object,
            rdb_version: chunk.rdb_version,
            first: chunk.first,
            last: chunk.last,
            expire_ms: chunk.expire_ms.filter(|_| !expired),
        };
        let written = write_part(&mut self.batch.cmds, &building, &part, &ctx);
        let mut commands = match written {
            Ok(Rewritten::Commands(n)) => n,
            Ok(Rewritten::Skipped(why)) => {
                tracing::warn!(db, key = %show_key(&chunk.key), %why, "key left out");
                self.ctx.stats.left_out.fetch_add(1, Ordering::Relaxed);
                if !chunk.last {
                    self.left_out = Some(chunk.key.clone());
                }
                self.batch.cmds.command(2);
                self.batch.cmds.arg(b"DEL");
                self.batch.cmds.arg(&building);
                self.batch.keys.push((db, chunk.key));
                return Ok(());
            }
            Err(err) => {
                return Err(ApplyError::Incompatible {
                    addr: self.ctx.target.addr.clone(),
                    why: format!(
                        "key {} (db {db}, chunk {} of a big value, RDB type {}): {err}",
                        show_key(&chunk.key),
                        chunk.seq,
                        chunk.rdb_type
                    ),
                })
            }
        };
        if chunk.last {
            let out = &mut self.batch.cmds;
            if expired {
                out.command(2);
                out.arg(b"DEL");
                out.arg(&building);
                self.summary.expired += 1;
                self.ctx.stats.expired.fetch_add(1, Ordering::Relaxed);
            } else {
                out.command(3);
                out.arg(b"RENAME");
                out.arg(&building);
                out.arg(&chunk.key);
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
