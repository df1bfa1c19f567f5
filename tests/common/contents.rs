//! An independent copy checker: compares two servers key by key with plain blocking commands,
//! sharing no code with `slotstream verify`.
//!
//! `DUMP` payloads differ between servers for hashtable-encoded values (iteration order), so
//! values are compared by content. TTLs and stream time stamps may differ by up to 2 s; a copy's
//! expiry times are its TTL extension later than the source's.

use redis::{Connection, Value};
use std::collections::HashSet;

const TOLERANCE_MS: i64 = 2000;
const PREFIX: &[u8] = b"__slotstream:";

/// Panics, naming the db and key, unless the target, a copy slotstream wrote with the default
/// TTL extension, holds exactly the source's keys with the same types, TTLs (the extension
/// later, ±2 s) and values, in every db (keys under `__slotstream:` aside). Returns how many
/// keys were compared.
pub fn assert_same_contents(source_url: &str, target_url: &str) -> usize {
    assert_same_contents_with(source_url, target_url, crate::common::TTL_EXTENSION_MS)
}

/// [`assert_same_contents`] for a target whose expiry times are `extension_ms` later than the
/// source's (0: two servers written alike).
pub fn assert_same_contents_with(source_url: &str, target_url: &str, extension_ms: i64) -> usize {
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
        let ordered: Vec<Vec<u8>> = source_keys.iter().cloned().collect();
        for batch in ordered.chunks(1000) {
            compare_batch(&mut src, &mut tgt, db, batch, extension_ms);
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

/// `TYPE` and `PTTL` of each key, in one pipeline.
fn types_and_ttls(conn: &mut Connection, keys: &[Vec<u8>]) -> Vec<(String, i64)> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("TYPE").arg(key).cmd("PTTL").arg(key);
    }
    let flat: Vec<(String, i64)> = pipe.query(conn).expect("TYPE/PTTL pipeline");
    flat
}

/// The value of each key (streams aside) as byte strings in a canonical order, in one pipeline.
fn values(conn: &mut Connection, keys: &[Vec<u8>], kinds: &[String]) -> Vec<Vec<Vec<u8>>> {
    let mut pipe = redis::pipe();
    for (key, kind) in keys.iter().zip(kinds) {
        match kind.as_str() {
            "string" => pipe.cmd("GET").arg(key),
            "list" => pipe.cmd("LRANGE").arg(key).arg(0).arg(-1),
            "set" => pipe.cmd("SMEMBERS").arg(key),
            "hash" => pipe.cmd("HGETALL").arg(key),
            "zset" => pipe.cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES"),
            "stream" => pipe.cmd("EXISTS").arg(key),
            _ => pipe.cmd("DUMP").arg(key),
        };
    }
    let replies: Vec<Value> = pipe.query(conn).expect("value pipeline");
    replies
        .into_iter()
        .zip(kinds)
        .map(|(reply, kind)| canonical(kind, reply))
        .collect()
}

fn canonical(kind: &str, reply: Value) -> Vec<Vec<u8>> {
    match (kind, reply) {
        ("stream", _) => Vec::new(),
        ("string", Value::BulkString(bytes)) => vec![bytes],
        ("list" | "zset", reply) => redis::from_redis_value(reply).expect("an array"),
        ("set", reply) => {
            let mut members: Vec<Vec<u8>> = redis::from_redis_value(reply).expect("an array");
            members.sort_unstable();
            members
        }
        ("hash", reply) => {
            let flat: Vec<Vec<u8>> = redis::from_redis_value(reply).expect("an array");
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut items = flat.into_iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((field, value));
            }
            pairs.sort_unstable();
            pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
        }
        (_, Value::BulkString(mut payload)) => {
            payload.truncate(payload.len().saturating_sub(10));
            vec![payload]
        }
        (kind, reply) => panic!("unexpected {kind} reply {reply:?}"),
    }
}

fn compare_batch(
    src: &mut Connection,
    tgt: &mut Connection,
    db: i64,
    keys: &[Vec<u8>],
    extension_ms: i64,
) {
    // A key with a TTL may expire on the source between the scan and this look: it is gone
    // there, and the target's copy is removed by the source's DEL (or expires by itself).
    let a = types_and_ttls(src, keys);
    let (keys, a): (Vec<Vec<u8>>, Vec<(String, i64)>) = keys
        .iter()
        .cloned()
        .zip(a)
        .filter(|(_, (kind, _))| kind != "none")
        .unzip();
    let keys = &keys[..];
    let b = types_and_ttls(tgt, keys);
    for (key, ((kind, ttl), (other, other_ttl))) in keys.iter().zip(a.iter().zip(&b)) {
        let at = format!("db {db} key {}", show(key));
        assert_ne!(other, "none", "{at}: only on the source");
        assert_eq!(kind, other, "{at}: type");
        assert!(
            (*ttl < 0 && *other_ttl < 0 && ttl == other_ttl)
                || (*ttl >= 0
                    && *other_ttl >= 0
                    && (ttl + extension_ms - other_ttl).abs() <= TOLERANCE_MS),
            "{at}: PTTL {ttl} vs {other_ttl} (the target's should be {extension_ms} ms longer)"
        );
    }
    let kinds: Vec<String> = a.into_iter().map(|(kind, _)| kind).collect();
    let (va, vb) = (values(src, keys, &kinds), values(tgt, keys, &kinds));
    for (i, key) in keys.iter().enumerate() {
        let at = format!("db {db} key {}", show(key));
        let kind = &kinds[i];
        if kind == "stream" {
            let x: Value = query(src, &[b"XRANGE", key, b"-", b"+"]);
            let y: Value = query(tgt, &[b"XRANGE", key, b"-", b"+"]);
            assert!(x == y, "{at}: stream entries differ");
            compare_stream_info(src, tgt, &at, key);
        } else if va[i] != vb[i] {
            let first = va[i].iter().zip(&vb[i]).position(|(x, y)| x != y);
            panic!(
                "{at}: {kind} values differ ({} vs {} items, first difference at item {first:?})\n\
                 source: {}\ntarget: {}",
                va[i].len(),
                vb[i].len(),
                show_items(&va[i]),
                show_items(&vb[i])
            );
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
            // seen-time is not replicated: every replica sets its own on apply.
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

/// Up to 16 items, each shown escaped and cut at 48 bytes, for a failure message.
fn show_items(items: &[Vec<u8>]) -> String {
    let mut shown: Vec<String> = items
        .iter()
        .take(16)
        .map(|item| show(&item[..item.len().min(48)]))
        .collect();
    if items.len() > 16 {
        shown.push(format!("... {} more", items.len() - 16));
    }
    shown.join(" ")
}
