//! Keys the destination held before slotstream's first write into it.
//!
//! A later epoch's sweep deletes the keys of its slots that its snapshot lacks. That is right
//! for keys an earlier epoch wrote (the source deleted them while the producer was away), and
//! wrong for the destination's own data. So before the first write of a log into a destination
//! (no checkpoint of that log there yet), its keys are looked at: by default
//! ([`OnExisting::Fail`]) a destination that holds any key of its own is refused, naming how
//! many and a few of them; with [`OnExisting::Overwrite`] the copy goes ahead and those keys
//! are remembered under `__slotstream:existing:<log>:<partition>` (db 0), so that no sweep ever
//! deletes them. A key the first snapshot writes over is the source's from then on: it is
//! forgotten in the same batch that writes it.
//!
//! Once the destination has passed that look, and before the first write, it is claimed for
//! the log (`__slotstream:claim:<log>`, db 0): a run killed after its first batch but before its
//! first checkpoint leaves keys that are slotstream's, not the destination's, and the restart,
//! seeing the claim, neither refuses them nor looks again. Such keys may be gone from the
//! source by then, so in a claimed destination a partition without a checkpoint sweeps after
//! its first snapshot, as after an earlier epoch.

use crate::config::OnExisting;
use crate::sweep::databases_with_keys;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use slotstream_schemas::display::show_key;
use slotstream_schemas::slot::{key_slot, partition_for_slot};
use slotstream_schemas::BOOKKEEPING_PREFIX;

/// Keys read per `SCAN` and written per `SADD`.
const PAGE: usize = 1000;
/// Keys named in the refusal.
const EXAMPLES: usize = 5;

/// What the destination holds of its own.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExistingKeys {
    /// Keys outside slotstream's bookkeeping, over every database.
    pub count: u64,
    /// A few of them, as `db N: key`.
    pub examples: Vec<String>,
}

impl ExistingKeys {
    /// What was found: `it already holds N keys of its own (for example …)`.
    pub fn summary(&self) -> String {
        format!(
            "it already holds {} keys of its own (for example {})",
            self.count,
            self.examples.join(", ")
        )
    }

    /// The refusal for [`OnExisting::Fail`].
    pub fn refusal(&self) -> String {
        format!(
            "{}; a later full resync deletes the keys its snapshot lacks, and slotstream never \
             deletes data it did not write. Empty the target, or pass --on-existing overwrite \
             to copy over them and keep them out of every sweep",
            self.summary()
        )
    }
}

/// The key under which the keys of `partition` the destination held before `log`'s first
/// write are remembered.
pub fn remembered_key(log: &str, partition: u32) -> Vec<u8> {
    let mut key = BOOKKEEPING_PREFIX.to_vec();
    key.extend_from_slice(format!("existing:{log}:{partition}").as_bytes());
    key
}

/// The key that says an earlier run of `log` passed the look at the destination and may have
/// written into it.
pub fn claim_key(log: &str) -> Vec<u8> {
    let mut key = BOOKKEEPING_PREFIX.to_vec();
    key.extend_from_slice(format!("claim:{log}").as_bytes());
    key
}

/// Whether an earlier run of `log` claimed the destination (`store` is in db 0).
pub async fn claimed(
    store: &mut (impl ConnectionLike + Send),
    log: &str,
) -> Result<bool, redis::RedisError> {
    redis::cmd("EXISTS")
        .arg(claim_key(log))
        .query_async(store)
        .await
}

/// Claims the destination for `log`, before its first write (`store` is in db 0).
pub async fn claim(
    store: &mut (impl ConnectionLike + Send),
    log: &str,
) -> Result<(), redis::RedisError> {
    redis::cmd("SET")
        .arg(claim_key(log))
        .arg(1)
        .query_async(store)
        .await
}

/// A remembered key: its database (4 bytes, big-endian), then its name.
pub fn member(db: u32, key: &[u8]) -> Vec<u8> {
    let mut member = db.to_be_bytes().to_vec();
    member.extend_from_slice(key);
    member
}

/// Looks at the destination before `log`'s first write, on each of `nodes` (the server, or
/// every primary of a cluster), for keys of its own: with [`OnExisting::Fail`] it stops at the
/// first page that has some (the caller refuses the target); with [`OnExisting::Overwrite`] it
/// counts them all and remembers them per partition through `store`.
pub async fn check(
    nodes: &mut [MultiplexedConnection],
    store: &mut (impl ConnectionLike + Send),
    policy: OnExisting,
    log: &str,
    partitions: u32,
) -> Result<ExistingKeys, redis::RedisError> {
    let mut found = ExistingKeys::default();
    for conn in nodes.iter_mut() {
        for db in databases_with_keys(conn).await? {
            redis::cmd("SELECT").arg(db).query_async::<()>(conn).await?;
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(PAGE)
                    .query_async(conn)
                    .await?;
                let mut by_partition: Vec<Vec<Vec<u8>>> = vec![Vec::new(); partitions as usize];
                for key in keys
                    .into_iter()
                    .filter(|k| !k.starts_with(BOOKKEEPING_PREFIX))
                {
                    found.count += 1;
                    if found.examples.len() < EXAMPLES {
                        found.examples.push(format!("db {db}: {}", show_key(&key)));
                    }
                    let partition = partition_for_slot(key_slot(&key), partitions);
                    by_partition[partition as usize].push(member(db, &key));
                }
                if policy == OnExisting::Overwrite {
                    remember(store, log, &by_partition).await?;
                }
                if next == 0 || (policy == OnExisting::Fail && found.count > 0) {
                    break;
                }
                cursor = next;
            }
            redis::cmd("SELECT").arg(0).query_async::<()>(conn).await?;
            if policy == OnExisting::Fail && found.count > 0 {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

/// Adds keys found to each partition's remembered set (`store` is in db 0).
async fn remember(
    store: &mut (impl ConnectionLike + Send),
    log: &str,
    by_partition: &[Vec<Vec<u8>>],
) -> Result<(), redis::RedisError> {
    // One command per partition: on a cluster the remembered sets live in different slots.
    for (partition, members) in by_partition.iter().enumerate() {
        if !members.is_empty() {
            redis::cmd("SADD")
                .arg(remembered_key(log, partition as u32))
                .arg(members)
                .query_async::<()>(store)
                .await?;
        }
    }
    Ok(())
}

/// The keys of `partition` remembered for `log`, as `(db, key)`, read page by page into `add`.
pub async fn load(
    conn: &mut (impl ConnectionLike + Send),
    log: &str,
    partition: u32,
    mut add: impl FnMut(u32, &[u8]),
) -> Result<(), redis::RedisError> {
    let key = remembered_key(log, partition);
    let mut cursor: u64 = 0;
    loop {
        let (next, members): (u64, Vec<Vec<u8>>) = redis::cmd("SSCAN")
            .arg(&key)
            .arg(cursor)
            .arg("COUNT")
            .arg(PAGE)
            .query_async(conn)
            .await?;
        for member in &members {
            if let Some((db, name)) = member.split_first_chunk::<4>() {
                add(u32::from_be_bytes(*db), name);
            }
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_keys_are_bookkeeping_and_name_their_database() {
        assert!(remembered_key("shop", 3).starts_with(BOOKKEEPING_PREFIX));
        assert!(claim_key("shop").starts_with(BOOKKEEPING_PREFIX));
        let member = member(7, b"user:1");
        let (db, name) = member.split_first_chunk::<4>().unwrap();
        assert_eq!((u32::from_be_bytes(*db), name), (7, &b"user:1"[..]));
    }

    #[test]
    fn the_refusal_names_the_count_examples_and_the_way_out() {
        let found = ExistingKeys {
            count: 12,
            examples: vec!["db 0: a".into(), "db 3: b".into()],
        };
        let text = found.refusal();
        for needle in ["12 keys", "db 0: a", "db 3: b", "--on-existing overwrite"] {
            assert!(text.contains(needle), "{needle} missing in {text}");
        }
    }
}
