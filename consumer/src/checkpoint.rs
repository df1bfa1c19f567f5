//! Per-partition checkpoints, kept in the destination itself.
//!
//! Invariant: a checkpoint moves only inside the same `MULTI/EXEC` as the batch of records it
//! ends, so the destination never holds the effects of a record without the checkpoint that
//! covers it, nor the reverse. On start the consumer reads the checkpoints, seeks the log to
//! just after them and skips every record at or below them: a record is applied exactly once,
//! whether the consumer restarts or the producer wrote it twice.

use crate::batch::{Batch, Replies};
use crate::target::SlotMap;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use slotstream_schemas::{Position, BOOKKEEPING_PREFIX};

/// Where a partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    pub epoch: u64,
    pub position: Position,
    /// Log offset of the last applied record (its last message), when the log has offsets.
    pub log_offset: Option<i64>,
    /// Whether the epoch's `SnapshotEnd` has been applied.
    pub snapshot_done: bool,
    /// Database of the record (the source stream's selected db right after it).
    pub db: u32,
    /// While a snapshot that must be swept is applied: log offset of its `EpochBegin`, where a
    /// restarted consumer reads again to rebuild the set of keys the snapshot contains.
    pub sweep_from: Option<i64>,
    /// When the source wrote the record (Unix ms, its capture time): `slotstream status`
    /// counts a stopped copy's lag from it.
    pub captured_ms: Option<i64>,
}

impl Checkpoint {
    /// True when a record at `(epoch, position)` was already applied.
    pub fn covers(&self, epoch: u64, position: Position) -> bool {
        (epoch, position) <= (self.epoch, self.position)
    }
}

/// The destination key holding partition `partition`'s checkpoint for `log` (db 0).
pub fn checkpoint_key(log: &str, partition: u32) -> Vec<u8> {
    let mut key = BOOKKEEPING_PREFIX.to_vec();
    key.extend_from_slice(format!("checkpoint:{log}:{partition}").as_bytes());
    key
}

/// On a cluster destination: the key of partition `partition`'s checkpoint for `slot`, which
/// hashes to that slot, so it commits in the same transaction as the slot's commands and moves
/// with the slot when the cluster moves it.
pub fn slot_checkpoint_key(log: &str, partition: u32, slot: u16) -> Vec<u8> {
    let mut key = checkpoint_key(log, partition);
    key.extend_from_slice(format!(":{{{}}}", slotstream_schemas::slot::slot_tag(slot)).as_bytes());
    key
}

/// The command that stores a slot's checkpoint (position and epoch only; see
/// [`slot_checkpoint_key`]).
pub fn write_slot_command(key: &[u8], checkpoint: &Checkpoint) -> redis::Cmd {
    let mut set = redis::cmd("HSET");
    set.arg(key)
        .arg("epoch")
        .arg(checkpoint.epoch)
        .arg("offset")
        .arg(checkpoint.position.offset)
        .arg("index")
        .arg(checkpoint.position.index)
        .arg("log_offset")
        .arg(checkpoint.log_offset.unwrap_or(-1));
    set
}

/// Where a partition's records come from: the replication id of its epoch and the source id,
/// each stored with its checkpoint once known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub replid: Option<String>,
    pub source: Option<String>,
}

/// Commands that store `checkpoint` and count `applied` more data records.
///
/// Every field is written each time (with the epoch's replication id and the source when
/// known), so a checkpoint rewritten right after a replicated `FLUSHALL` or `FLUSHDB` is whole
/// again.
pub fn write_commands(
    key: &[u8],
    checkpoint: &Checkpoint,
    applied: u64,
    origin: &Origin,
) -> [redis::Cmd; 2] {
    let mut set = write_slot_command(key, checkpoint);
    set.arg("snapshot_done")
        .arg(u8::from(checkpoint.snapshot_done))
        .arg("db")
        .arg(checkpoint.db)
        .arg("sweep_from")
        .arg(checkpoint.sweep_from.unwrap_or(-1))
        .arg("captured_ms")
        .arg(checkpoint.captured_ms.unwrap_or(-1));
    if let Some(replid) = &origin.replid {
        set.arg("replid").arg(replid);
    }
    if let Some(source) = &origin.source {
        set.arg("source").arg(source);
    }
    let mut count = redis::cmd("HINCRBY");
    count.arg(key).arg("applied").arg(applied);
    [set, count]
}

/// After `SWAPDB 0 db` in `batch`: the checkpoints of `log` moved to `db` with the rest of db
/// 0; delete them there (the barrier rewrites every partition's checkpoint in db 0 in the same
/// transaction), and move the claim of the destination back to db 0, so no bookkeeping is left
/// among the user's keys.
pub fn delete_moved(batch: &mut Batch, log: &str, partitions: u32, db: u32) {
    let back = batch.db();
    batch.select(db);
    for partition in 0..partitions {
        let key = checkpoint_key(log, partition);
        batch.command(Replies::Strict, key.clone(), &[&b"DEL"[..], &key]);
    }
    let claim = crate::existing::claim_key(log);
    batch.command(
        Replies::Strict,
        claim.clone(),
        &[&b"MOVE"[..], &claim, b"0"],
    );
    batch.select(back);
}

/// On a cluster destination: the slot checkpoints of `partition` among `slots`, read from
/// the primary that owns each slot (`nodes` in the order of [`SlotMap::nodes`]), one pipeline
/// per primary. A slot that moved since the map was read fails the read with `MOVED` or
/// `ASK`, and the caller starts again with a fresh map.
pub async fn load_slots(
    nodes: &mut [MultiplexedConnection],
    map: &SlotMap,
    log: &str,
    partition: u32,
    slots: std::ops::Range<u16>,
) -> Result<Vec<(u16, Checkpoint)>, redis::RedisError> {
    let mut found = Vec::new();
    for (node, conn) in nodes.iter_mut().enumerate() {
        let owned: Vec<u16> = slots
            .clone()
            .filter(|&slot| map.owner(slot) == Some(node))
            .collect();
        if owned.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for &slot in &owned {
            pipe.cmd("HMGET")
                .arg(slot_checkpoint_key(log, partition, slot))
                .arg(&["epoch", "offset", "index", "log_offset"]);
        }
        let replies: Vec<Vec<Option<i64>>> = pipe.query_async(conn).await?;
        found.extend(
            owned
                .into_iter()
                .zip(replies)
                .filter_map(|(slot, fields)| slot_checkpoint(slot, &fields)),
        );
    }
    Ok(found)
}

/// A slot checkpoint from its fields, if the slot has one.
fn slot_checkpoint(slot: u16, fields: &[Option<i64>]) -> Option<(u16, Checkpoint)> {
    let [Some(epoch), Some(offset), Some(index), log_offset] = fields[..] else {
        return None;
    };
    let checkpoint = Checkpoint {
        epoch: epoch as u64,
        position: Position {
            offset: offset as u64,
            index: index as u64,
        },
        log_offset: log_offset.filter(|&o| o >= 0),
        ..Default::default()
    };
    Some((slot, checkpoint))
}

/// Reads a checkpoint; `None` when the partition has none yet. Expects db 0 selected.
pub async fn load(
    conn: &mut (impl ConnectionLike + Send),
    key: &[u8],
) -> Result<Option<Checkpoint>, redis::RedisError> {
    let fields: Vec<Option<i64>> = redis::cmd("HMGET")
        .arg(key)
        .arg(&[
            "epoch",
            "offset",
            "index",
            "log_offset",
            "snapshot_done",
            "db",
            "sweep_from",
            "captured_ms",
        ])
        .query_async(conn)
        .await?;
    let [Some(epoch), Some(offset), Some(index), log_offset, done, db, sweep_from, captured] =
        fields[..]
    else {
        return Ok(None);
    };
    Ok(Some(Checkpoint {
        epoch: epoch as u64,
        position: Position {
            offset: offset as u64,
            index: index as u64,
        },
        log_offset: log_offset.filter(|&o| o >= 0),
        snapshot_done: done == Some(1),
        db: db.unwrap_or(0) as u32,
        sweep_from: sweep_from.filter(|&o| o >= 0),
        captured_ms: captured.filter(|&ms| ms >= 0),
    }))
}

/// The replication id stored with a partition's checkpoint (set when an epoch begins).
pub async fn load_replid(
    conn: &mut (impl ConnectionLike + Send),
    key: &[u8],
) -> Result<Option<String>, redis::RedisError> {
    redis::cmd("HGET")
        .arg(key)
        .arg("replid")
        .query_async(conn)
        .await
}

/// The replication id and source stored with a partition's checkpoint (both `None` without
/// one; checkpoints written before the source was stored have none).
pub async fn load_origin(
    conn: &mut (impl ConnectionLike + Send),
    key: &[u8],
) -> Result<Origin, redis::RedisError> {
    let (replid, source): (Option<String>, Option<String>) = redis::cmd("HMGET")
        .arg(key)
        .arg("replid")
        .arg("source")
        .query_async(conn)
        .await?;
    Ok(Origin { replid, source })
}

/// Total data records applied in a partition, as counted inside the checkpoint transactions.
pub async fn applied_count(
    conn: &mut (impl ConnectionLike + Send),
    key: &[u8],
) -> Result<u64, redis::RedisError> {
    let count: Option<u64> = redis::cmd("HGET")
        .arg(key)
        .arg("applied")
        .query_async(conn)
        .await?;
    Ok(count.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_by_epoch_then_position() {
        let at = |epoch, offset, index| Checkpoint {
            epoch,
            position: Position { offset, index },
            ..Default::default()
        };
        let checkpoint = at(2, 100, 5);
        assert!(checkpoint.covers(
            2,
            Position {
                offset: 100,
                index: 5
            }
        ));
        assert!(checkpoint.covers(
            2,
            Position {
                offset: 100,
                index: 4
            }
        ));
        assert!(checkpoint.covers(
            1,
            Position {
                offset: 900,
                index: 0
            }
        ));
        assert!(!checkpoint.covers(
            2,
            Position {
                offset: 100,
                index: 6
            }
        ));
        assert!(!checkpoint.covers(
            2,
            Position {
                offset: 101,
                index: 0
            }
        ));
        assert!(!checkpoint.covers(
            3,
            Position {
                offset: 0,
                index: 0
            }
        ));
    }

    #[test]
    fn keys_are_bookkeeping_keys() {
        assert!(checkpoint_key("shop", 3).starts_with(BOOKKEEPING_PREFIX));
        assert_eq!(checkpoint_key("shop", 3), b"__slotstream:checkpoint:shop:3");
    }
}
