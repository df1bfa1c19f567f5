//! Mark and sweep after a new epoch's snapshot: the keys of a partition's slots that the
//! snapshot did not contain are deleted from the destination, so a forced full resync converges
//! without flushing the destination and without leftover keys (keys deleted on the source while
//! the producer was away).

use redis::aio::MultiplexedConnection;
use slotstream_schemas::slot::{key_slot, partition_for_slot, SlotRanges};
use slotstream_schemas::BOOKKEEPING_PREFIX;
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, Hasher};

/// Fingerprints of the `(db, key)` pairs a snapshot contained in one partition: 8 bytes a key
/// instead of the key itself. Two keys sharing a fingerprint (about 1 in 10^10 for a million
/// keys) would leave one stale key in place, never delete a live one.
#[derive(Default)]
pub struct SeenKeys {
    seen: HashSet<u64>,
    state: std::hash::RandomState,
}

impl SeenKeys {
    pub fn insert(&mut self, db: u32, key: &[u8]) {
        let print = self.fingerprint(db, key);
        self.seen.insert(print);
    }

    pub fn contains(&self, db: u32, key: &[u8]) -> bool {
        self.seen.contains(&self.fingerprint(db, key))
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn fingerprint(&self, db: u32, key: &[u8]) -> u64 {
        let mut hasher = self.state.build_hasher();
        hasher.write_u32(db);
        hasher.write(key);
        hasher.finish()
    }
}

/// Deletes the destination keys of `partition`'s slots (those of them in `only`, when given:
/// one shard's) that `seen` lacks, in every database that has keys. Returns how many it
/// deleted. Leaves the connection in an unknown database.
pub async fn sweep(
    conn: &mut MultiplexedConnection,
    partition: u32,
    partitions: u32,
    seen: &SeenKeys,
    only: Option<&SlotRanges>,
) -> Result<u64, redis::RedisError> {
    let dbs = databases_with_keys(conn).await?;
    delete_where(conn, dbs, |db, key| {
        let slot = key_slot(key);
        partition_for_slot(slot, partitions) == partition
            && only.is_none_or(|slots| slots.contains(slot))
            && !seen.contains(db, key)
    })
    .await
}

/// Deletes the destination keys of `slots` in `db` (every database with keys when `None`):
/// a `FLUSHDB` or `FLUSHALL` of one shard of a cluster source, by its effect. Returns how many
/// it deleted. Leaves the connection in an unknown database.
pub async fn delete_in_slots(
    conn: &mut MultiplexedConnection,
    slots: &SlotRanges,
    db: Option<u32>,
) -> Result<u64, redis::RedisError> {
    let dbs = match db {
        Some(db) => vec![db],
        None => databases_with_keys(conn).await?,
    };
    delete_where(conn, dbs, |_, key| slots.contains(key_slot(key))).await
}

/// Deletes, in each of `dbs`, the keys (bookkeeping aside) for which `doomed` says so: one
/// `SCAN` pass, one `UNLINK` per slot and page (a cluster node refuses one across slots).
async fn delete_where(
    conn: &mut MultiplexedConnection,
    dbs: Vec<u32>,
    doomed: impl Fn(u32, &[u8]) -> bool,
) -> Result<u64, redis::RedisError> {
    let mut deleted = 0;
    for db in dbs {
        redis::cmd("SELECT").arg(db).query_async::<()>(conn).await?;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await?;
            let mut by_slot: BTreeMap<u16, Vec<&Vec<u8>>> = BTreeMap::new();
            for key in keys
                .iter()
                .filter(|key| !key.starts_with(BOOKKEEPING_PREFIX) && doomed(db, key))
            {
                by_slot.entry(key_slot(key)).or_default().push(key);
            }
            if !by_slot.is_empty() {
                let mut pipe = redis::pipe();
                for keys in by_slot.values() {
                    pipe.cmd("UNLINK").arg(keys);
                }
                let removed: Vec<u64> = pipe.query_async(conn).await?;
                deleted += removed.iter().sum::<u64>();
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(deleted)
}

/// The databases `INFO keyspace` lists (those holding keys).
pub(crate) async fn databases_with_keys(
    conn: &mut MultiplexedConnection,
) -> Result<Vec<u32>, redis::RedisError> {
    let info: String = redis::cmd("INFO").arg("keyspace").query_async(conn).await?;
    Ok(slotstream_schemas::info::keyspace(&info, "keys")
        .into_iter()
        .map(|(db, _)| db)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_keys_per_database() {
        let mut seen = SeenKeys::default();
        seen.insert(0, b"a");
        assert!(seen.contains(0, b"a"));
        assert!(!seen.contains(1, b"a"));
        assert!(!seen.contains(0, b"b"));
        assert_eq!(seen.len(), 1);
    }
}
