//! An independent copy checker: compares two servers key by key with plain blocking commands,
//! sharing no code with `slotstream verify`.
//!
//! `DUMP` payloads differ between servers for hashtable-encoded values (iteration order), so
//! values are compared by content. TTLs and stream time stamps may differ by up to 2 s.

use redis::{Connection, Value};
use std::collections::HashSet;

const TOLERANCE_MS: i64 = 2000;
const PREFIX: &[u8] = b"__slotstream:";

/// Panics, naming the db and key, unless the target holds exactly the source's keys with the
/// same types, TTLs (±2 s) and values, in every db (keys under `__slotstream:` aside).
/// Returns how many keys were compared.
pub fn assert_same_contents(source_url: &str, target_url: &str) -> usize {
    let mut src = connect(source_url);
    let mut tgt = connect(target_url);
    let databases: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query(&mut src)
        .expect("CONFIG GET databases");
    let databases: i64 = databases[1].parse().expect("a number of databases");
    let mut compared = 0;
    for db in 0..databases {
        for conn in [&mut src, &mut tgt] {
            redis::cmd("SELECT").arg(db).exec(conn).expect("SELECT");
        }
        let source_keys = all_keys(&mut src);
        for key in &source_keys {
            compare_key(&mut src, &mut tgt, db, key);
        }
        compared += source_keys.len();
        for key in all_keys(&mut tgt) {
            assert!(
                source_keys.contains(&key),
                "db {db} key {}: only on the target",
                show(&key)
            );
        }
    }
    compared
}

fn connect(url: &str) -> Connection {
    redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .unwrap_or_else(|err| panic!("connect to {url}: {err}"))
}

fn all_keys(conn: &mut Connection) -> HashSet<Vec<u8>> {
    let mut keys = HashSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query(conn)
            .expect("SCAN");
        keys.extend(page.into_iter().filter(|key| !key.starts_with(PREFIX)));
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

fn show(key: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(key))
}

fn query<T: redis::FromRedisValue>(conn: &mut Connection, args: &[&[u8]]) -> T {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(conn)
        .unwrap_or_else(|err| panic!("{}: {err}", String::from_utf8_lossy(args[0])))
}

fn compare_key(src: &mut Connection, tgt: &mut Connection, db: i64, key: &[u8]) {
    let at = format!("db {db} key {}", show(key));
    let kind: String = query(src, &[b"TYPE", key]);
    let other: String = query(tgt, &[b"TYPE", key]);
    assert_eq!(kind, other, "{at}: type");
    let ttl: i64 = query(src, &[b"PTTL", key]);
    let other_ttl: i64 = query(tgt, &[b"PTTL", key]);
    assert!(
        (ttl < 0 && other_ttl < 0 && ttl == other_ttl)
            || (ttl >= 0 && other_ttl >= 0 && (ttl - other_ttl).abs() <= TOLERANCE_MS),
        "{at}: PTTL {ttl} vs {other_ttl}"
    );
    if kind == "stream" {
        let a: Value = query(src, &[b"XRANGE", key, b"-", b"+"]);
        let b: Value = query(tgt, &[b"XRANGE", key, b"-", b"+"]);
        assert!(a == b, "{at}: stream entries differ");
        compare_stream_info(src, tgt, &at, key);
        return;
    }
    let (a, b) = (read_value(src, &kind, key), read_value(tgt, &kind, key));
    if a != b {
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        panic!(
            "{at}: {kind} values differ ({} vs {} items, first difference at item {first:?})",
            a.len(),
            b.len()
        );
    }
}

/// A value as a list of byte strings in a canonical order (sets and hashes sorted).
fn read_value(conn: &mut Connection, kind: &str, key: &[u8]) -> Vec<Vec<u8>> {
    match kind {
        "string" => vec![query(conn, &[b"GET", key])],
        "list" => query(conn, &[b"LRANGE", key, b"0", b"-1"]),
        "set" => {
            let mut members: Vec<Vec<u8>> = query(conn, &[b"SMEMBERS", key]);
            members.sort_unstable();
            members
        }
        "hash" => {
            let flat: Vec<Vec<u8>> = query(conn, &[b"HGETALL", key]);
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut items = flat.into_iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((field, value));
            }
            pairs.sort_unstable();
            pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
        }
        "zset" => query(conn, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]),
        _ => {
            let mut payload: Vec<u8> = query(conn, &[b"DUMP", key]);
            payload.truncate(payload.len().saturating_sub(10));
            vec![payload]
        }
    }
}

/// Stream metadata, groups, consumers and pending entries from `XINFO STREAM key FULL`.
fn compare_stream_info(src: &mut Connection, tgt: &mut Connection, at: &str, key: &[u8]) {
    let full = |conn: &mut Connection| -> Vec<(String, Value)> {
        pairs(query(
            conn,
            &[b"XINFO", b"STREAM", key, b"FULL", b"COUNT", b"0"],
        ))
    };
    let (a, b) = (full(src), full(tgt));
    for name in [
        "length",
        "last-generated-id",
        "max-deleted-entry-id",
        "entries-added",
        "recorded-first-entry-id",
    ] {
        assert_eq!(get(&a, name), get(&b, name), "{at}: stream {name}");
    }
    let groups = |info: &[(String, Value)]| -> Vec<Vec<(String, Value)>> {
        let mut groups: Vec<_> = list(get(info, "groups")).into_iter().map(pairs).collect();
        groups.sort_by_key(|group| text(get(group, "name")));
        groups
    };
    let (ga, gb) = (groups(&a), groups(&b));
    assert_eq!(ga.len(), gb.len(), "{at}: number of groups");
    for (x, y) in ga.iter().zip(&gb) {
        let group = format!("{at} group {}", text(get(x, "name")));
        for name in ["name", "last-delivered-id", "entries-read", "pel-count"] {
            assert_eq!(get(x, name), get(y, name), "{group}: {name}");
        }
        // [id, consumer, delivery time, delivery count]
        same_pel(get(x, "pending"), get(y, "pending"), 2, &group);
        let consumers = |group: &[(String, Value)]| -> Vec<Vec<(String, Value)>> {
            let mut list: Vec<_> = list(get(group, "consumers"))
                .into_iter()
                .map(pairs)
                .collect();
            list.sort_by_key(|consumer| text(get(consumer, "name")));
            list
        };
        let (ca, cb) = (consumers(x), consumers(y));
        assert_eq!(ca.len(), cb.len(), "{group}: number of consumers");
        for (p, q) in ca.iter().zip(&cb) {
            let who = format!("{group} consumer {}", text(get(p, "name")));
            for name in ["name", "pel-count"] {
                assert_eq!(get(p, name), get(q, name), "{who}: {name}");
            }
            near(
                get(p, "seen-time"),
                get(q, "seen-time"),
                &format!("{who}: seen-time"),
            );
            // [id, delivery time, delivery count]
            same_pel(get(p, "pending"), get(q, "pending"), 1, &who);
        }
    }
}

/// Compares two PEL listings; the element at `time_at` is a time stamp, compared within 2 s.
fn same_pel(a: Option<&Value>, b: Option<&Value>, time_at: usize, what: &str) {
    let (a, b) = (list(a), list(b));
    assert_eq!(a.len(), b.len(), "{what}: pending entries");
    for (x, y) in a.into_iter().zip(b) {
        let (x, y) = (list(Some(&x)), list(Some(&y)));
        assert_eq!(x.len(), y.len(), "{what}: pending entry shape");
        for (i, (p, q)) in x.iter().zip(&y).enumerate() {
            if i == time_at {
                near(Some(p), Some(q), &format!("{what}: delivery time"));
            } else {
                assert_eq!(p, q, "{what}: pending entry field {i}");
            }
        }
    }
}

fn near(a: Option<&Value>, b: Option<&Value>, what: &str) {
    let int = |v: Option<&Value>| match v {
        Some(Value::Int(n)) => Some(*n),
        _ => None,
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => assert!((x - y).abs() <= TOLERANCE_MS, "{what}: {x} vs {y}"),
        (x, y) => assert_eq!(x, y, "{what}"),
    }
}

fn pairs(value: Value) -> Vec<(String, Value)> {
    let items = list(Some(&value));
    items
        .chunks(2)
        .filter_map(|pair| Some((text(pair.first()), pair.get(1)?.clone())))
        .collect()
}

fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

fn get<'a>(map: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    map.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(Value::SimpleString(s)) => s.clone(),
        Some(Value::Int(n)) => n.to_string(),
        _ => String::new(),
    }
}
