//! Every key of db 0 with its type, value and TTL, read from one server or from every primary of
//! a cluster, so a standalone source and a cluster target can be compared key by key. Shares no
//! code with `slotstream verify`.

use redis::Connection;
use slotstream_test_support::{Cluster, RedisServer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A key's value, read with the type's own commands (members sorted where order is not kept).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, String)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Vec<(String, Vec<Vec<u8>>)>),
    Other(String),
}

/// A key's value and when it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix ms, from `PTTL` and the local clock; `None`: no expiry.
    pub expire_at_ms: Option<i64>,
}

/// Keys of db 0 of one connection, without slotstream's bookkeeping.
fn read_db0(conn: &mut Connection, into: &mut BTreeMap<Vec<u8>, Entry>) {
    read_db(conn, 0, into)
}

/// Keys of database `db` of one connection, without slotstream's bookkeeping.
fn read_db(conn: &mut Connection, db: u32, into: &mut BTreeMap<Vec<u8>, Entry>) {
    let _: () = redis::cmd("SELECT").arg(db).query(conn).unwrap();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(conn)
            .unwrap();
        for key in keys
            .into_iter()
            .filter(|k| !k.starts_with(b"__slotstream:"))
        {
            if let Some(entry) = read_key(conn, &key) {
                into.insert(key, entry);
            }
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// One key; `None` when it vanished between `SCAN` and the read.
fn read_key(conn: &mut Connection, key: &[u8]) -> Option<Entry> {
    let kind: String = redis::cmd("TYPE").arg(key).query(conn).unwrap();
    let value = match kind.as_str() {
        "none" => return None,
        "string" => Value::String(redis::cmd("GET").arg(key).query(conn).unwrap()),
        "list" => Value::List(
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query(conn)
                .unwrap(),
        ),
        "set" => {
            let mut members: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(conn).unwrap();
            members.sort();
            Value::Set(members)
        }
        "zset" => Value::ZSet(
            redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(conn)
                .unwrap(),
        ),
        "hash" => {
            let mut fields: Vec<(Vec<u8>, Vec<u8>)> =
                redis::cmd("HGETALL").arg(key).query(conn).unwrap();
            fields.sort();
            Value::Hash(fields)
        }
        "stream" => Value::Stream(
            redis::cmd("XRANGE")
                .arg(key)
                .arg("-")
                .arg("+")
                .query(conn)
                .unwrap(),
        ),
        other => Value::Other(other.to_string()),
    };
    let ttl_ms: i64 = redis::cmd("PTTL").arg(key).query(conn).unwrap();
    // As an absolute time by this machine's clock, so a side read later is not a TTL shorter.
    let expire_at_ms = (ttl_ms >= 0).then(|| now_ms() + ttl_ms);
    Some(Entry {
        value,
        expire_at_ms,
    })
}

/// Every key of db 0 of a standalone server.
pub fn of_server(server: &RedisServer) -> BTreeMap<Vec<u8>, Entry> {
    let mut keys = BTreeMap::new();
    read_db0(&mut server.conn(), &mut keys);
    keys
}

/// Every key of database `db` of one server.
pub fn of_db(server: &RedisServer, db: u32) -> BTreeMap<Vec<u8>, Entry> {
    let mut keys = BTreeMap::new();
    read_db(&mut server.conn(), db, &mut keys);
    keys
}

/// Every key of the databases `dbs` of one server, as if they were one database.
pub fn of_server_dbs(server: &RedisServer, dbs: &[u32]) -> BTreeMap<Vec<u8>, Entry> {
    let mut keys = BTreeMap::new();
    let mut conn = server.conn();
    for &db in dbs {
        read_db(&mut conn, db, &mut keys);
    }
    keys
}

/// Every key of a cluster, read from each primary.
pub fn of_cluster(cluster: &Cluster) -> BTreeMap<Vec<u8>, Entry> {
    let mut keys = BTreeMap::new();
    for primary in cluster.primaries() {
        read_db0(&mut primary.conn(), &mut keys);
    }
    keys
}

/// The first difference between a source's keyspace and its copy's (expiry times the default
/// TTL extension later, within 2 s), if any.
pub fn copy_difference(
    source: &BTreeMap<Vec<u8>, Entry>,
    target: &BTreeMap<Vec<u8>, Entry>,
) -> Option<String> {
    difference(source, target, crate::common::TTL_EXTENSION_MS, 2_000)
}

/// The first difference between two keyspaces (the target's expiry times `extension_ms` later,
/// within `tolerance_ms`), if any.
pub fn difference(
    source: &BTreeMap<Vec<u8>, Entry>,
    target: &BTreeMap<Vec<u8>, Entry>,
    extension_ms: i64,
    tolerance_ms: i64,
) -> Option<String> {
    for (key, want) in source {
        let name = String::from_utf8_lossy(key);
        let Some(got) = target.get(key) else {
            return Some(format!("{name}: missing on the target"));
        };
        if got.value != want.value {
            return Some(format!(
                "{name}: {:?} on the source, {:?} on the target",
                want.value, got.value
            ));
        }
        let ttls_agree = match (want.expire_at_ms, got.expire_at_ms) {
            (None, None) => true,
            (Some(want), Some(got)) => (want + extension_ms - got).abs() <= tolerance_ms,
            _ => false,
        };
        if !ttls_agree {
            return Some(format!(
                "{name}: expiry {:?} (Unix ms) on the source, {:?} on the target",
                want.expire_at_ms, got.expire_at_ms
            ));
        }
    }
    target
        .keys()
        .find(|key| !source.contains_key(*key))
        .map(|key| format!("{}: only on the target", String::from_utf8_lossy(key)))
}

/// Waits until the cluster holds exactly the source's db 0 (or `within` passes, then panics
/// with the difference and `log`, what the process under test printed).
pub fn wait_identical(
    source: &RedisServer,
    cluster: &Cluster,
    within: Duration,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + within;
    loop {
        let difference = copy_difference(&of_server(source), &of_cluster(cluster));
        match difference {
            None => return,
            Some(why) if Instant::now() >= deadline => {
                panic!(
                    "the cluster is not identical to the source: {why}\n{}",
                    log()
                )
            }
            Some(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
