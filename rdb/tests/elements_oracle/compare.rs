//! Checking a decoded `DUMP` payload against what the server reads back itself, and that
//! damaged copies of it never make the decoder panic.

use std::time::{SystemTime, UNIX_EPOCH};

use slotstream_rdb::elements::{
    decode, for_each_batch, Batch, DecodeError, Stream, StreamMeta, Value,
};

use crate::scenarios::Case;
use crate::Version;
use slotstream_test_support::{Reply, RespClient};

/// A `DUMP` payload taken apart.
pub struct Payload {
    pub rdb_type: u8,
    pub object: Vec<u8>,
    pub version: u16,
}

/// Dumps, decodes and compares one key; returns its payload.
pub fn verify(s: &mut RespClient, v: &Version, case: &Case) -> Payload {
    let key = case.key.as_slice();
    let label = format!("{}: {}", v.label, String::from_utf8_lossy(key));
    let dump = s.ok(&[b"DUMP", key]).bytes();
    let n = dump.len();
    assert!(n > 11, "{label}: DUMP too short");
    let p = Payload {
        rdb_type: dump[0],
        object: dump[1..n - 10].to_vec(),
        version: u16::from_le_bytes([dump[n - 10], dump[n - 9]]),
    };
    let encoding = s.ok(&[b"OBJECT", b"ENCODING", key]).text();
    assert_eq!(encoding, case.encoding, "{label}: OBJECT ENCODING");
    assert_eq!(p.rdb_type, case.rdb_type, "{label}: type byte");
    if let Some(prefix) = &case.prefix {
        assert!(
            p.object.starts_with(prefix),
            "{label}: object starts {:02x?}, expected {prefix:02x?}",
            &p.object[..p.object.len().min(8)]
        );
    }
    let value = decode(p.rdb_type, &p.object, p.version)
        .unwrap_or_else(|e| panic!("{label}: decode failed: {e}"));
    check_batches(&label, &p, &value);
    match &value {
        Value::String(bytes) => assert_eq!(bytes, &s.ok(&[b"GET", key]).bytes(), "{label}"),
        Value::List(items) => {
            let theirs = list(&s.ok(&[b"LRANGE", key, b"0", b"-1"]));
            assert_eq!(items, &theirs, "{label}");
        }
        Value::Set(members) => {
            let mut ours = members.clone();
            let mut theirs = list(&s.ok(&[b"SMEMBERS", key]));
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "{label}");
        }
        Value::ZSet(pairs) => {
            let mut ours = pairs.clone();
            ours.sort_by(|a, b| a.1.partial_cmp(&b.1).expect("no NaN").then(a.0.cmp(&b.0)));
            let reply = s.ok(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
            let theirs: Vec<(Vec<u8>, f64)> = reply
                .array()
                .chunks(2)
                .map(|c| (c[0].bytes(), c[1].text().parse::<f64>().expect("a score")))
                .collect();
            assert_eq!(ours.len(), theirs.len(), "{label}");
            for (o, t) in ours.iter().zip(&theirs) {
                assert_eq!(o.0, t.0, "{label}");
                assert_eq!(o.1.to_bits(), t.1.to_bits(), "{label}: score of {:?}", t.0);
            }
        }
        Value::Hash(fields) => {
            let mut ours: Vec<_> = fields
                .iter()
                .map(|f| (f.field.clone(), f.value.clone()))
                .collect();
            let mut theirs: Vec<_> = s
                .ok(&[b"HGETALL", key])
                .array()
                .chunks(2)
                .map(|c| (c[0].bytes(), c[1].bytes()))
                .collect();
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "{label}");
            if v.field_ttl() {
                let count = fields.len().to_string();
                let mut args: Vec<&[u8]> = vec![b"HPEXPIRETIME", key, b"FIELDS", count.as_bytes()];
                args.extend(fields.iter().map(|f| f.field.as_slice()));
                let times = s.ok(&args);
                for (f, t) in fields.iter().zip(times.array()) {
                    assert_eq!(
                        f.expire_ms.unwrap_or(-1),
                        t.int(),
                        "{label}: TTL of {:?}",
                        f.field
                    );
                }
                if key.starts_with(b"hash:ttl-s") || key.starts_with(b"hash:ttl-h") {
                    assert!(
                        fields.iter().any(|f| f.expire_ms.is_some()),
                        "{label}: no TTL"
                    );
                }
            } else {
                assert!(fields.iter().all(|f| f.expire_ms.is_none()), "{label}");
            }
        }
        Value::Stream(stream) => compare_stream(s, v, key, stream, &label),
    }
    p
}

fn list(reply: &Reply) -> Vec<Vec<u8>> {
    reply.array().iter().map(Reply::bytes).collect()
}

/// Decodes in batches of several sizes: same elements, batches within bounds, meta last.
fn check_batches(label: &str, p: &Payload, whole: &Value) {
    for max in [1, 3, 1000] {
        let mut rebuilt = match whole {
            Value::String(_) => Value::String(Vec::new()),
            Value::List(_) => Value::List(Vec::new()),
            Value::Set(_) => Value::Set(Vec::new()),
            Value::ZSet(_) => Value::ZSet(Vec::new()),
            Value::Hash(_) => Value::Hash(Vec::new()),
            Value::Stream(_) => Value::Stream(Stream::default()),
        };
        let mut meta: Option<StreamMeta> = None;
        for_each_batch(p.rdb_type, &p.object, p.version, max, |batch| {
            assert!(meta.is_none(), "{label}: a batch after the stream metadata");
            let len = match (&mut rebuilt, batch) {
                (Value::String(to), Batch::String(s)) => {
                    *to = s;
                    1
                }
                (Value::List(to), Batch::List(more)) | (Value::Set(to), Batch::Set(more)) => {
                    let len = more.len();
                    to.extend(more);
                    len
                }
                (Value::ZSet(to), Batch::ZSet(more)) => {
                    let len = more.len();
                    to.extend(more);
                    len
                }
                (Value::Hash(to), Batch::Hash(more)) => {
                    let len = more.len();
                    to.extend(more);
                    len
                }
                (Value::Stream(to), Batch::StreamEntries(more)) => {
                    let len = more.len();
                    to.entries.extend(more);
                    len
                }
                (Value::Stream(_), Batch::StreamMeta(m)) => {
                    meta = Some(m);
                    1
                }
                (value, batch) => panic!("{label}: batch {batch:?} for {value:?}"),
            };
            assert!(
                (1..=max).contains(&len),
                "{label}: batch of {len} with max {max}"
            );
            Ok::<(), DecodeError>(())
        })
        .unwrap_or_else(|e| panic!("{label}: batched decode failed: {e}"));
        if let Value::Stream(stream) = &mut rebuilt {
            stream.meta = meta.unwrap_or_else(|| panic!("{label}: no stream metadata"));
        }
        assert_eq!(&rebuilt, whole, "{label}: batches of {max}");
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A stream entry's field/value pairs.
type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn compare_stream(s: &mut RespClient, v: &Version, key: &[u8], st: &Stream, label: &str) {
    let theirs: Vec<(String, Fields)> = s
        .ok(&[b"XRANGE", key, b"-", b"+"])
        .array()
        .iter()
        .map(|e| {
            let e = e.array();
            let fields = e[1]
                .array()
                .chunks(2)
                .map(|c| (c[0].bytes(), c[1].bytes()))
                .collect();
            (e[0].text(), fields)
        })
        .collect();
    let ours: Vec<_> = st
        .entries
        .iter()
        .map(|e| (e.id.to_string(), e.fields.clone()))
        .collect();
    assert_eq!(ours, theirs, "{label}: entries");
    let m = &st.meta;
    if !v.at_least(6, 0) {
        return compare_stream_5(s, key, m, label);
    }
    let info = s.ok(&[b"XINFO", b"STREAM", key, b"FULL", b"COUNT", b"0"]);
    assert_eq!(info.get("length").int() as u64, m.length, "{label}: length");
    assert_eq!(
        info.get("last-generated-id").text(),
        m.last_id.to_string(),
        "{label}"
    );
    if v.at_least(7, 0) {
        let id = |name: &str| Some(info.get(name).text());
        assert_eq!(
            id("max-deleted-entry-id"),
            m.max_deleted_id.map(|i| i.to_string()),
            "{label}"
        );
        assert_eq!(
            id("recorded-first-entry-id"),
            m.first_id.map(|i| i.to_string()),
            "{label}"
        );
        assert_eq!(
            Some(info.get("entries-added").int() as u64),
            m.entries_added,
            "{label}"
        );
    } else {
        assert_eq!(
            (m.first_id, m.max_deleted_id, m.entries_added),
            (None, None, None)
        );
    }
    let groups = info.get("groups").array();
    assert_eq!(groups.len(), m.groups.len(), "{label}: groups");
    for (g, ours) in groups.iter().zip(&m.groups) {
        let label = format!("{label}, group {}", String::from_utf8_lossy(&ours.name));
        assert_eq!(g.get("name").bytes(), ours.name, "{label}");
        let last = g.get("last-delivered-id").text();
        assert_eq!(last, ours.last_delivered_id.to_string(), "{label}");
        if v.at_least(7, 0) {
            let read = g.get("entries-read");
            let read = (!read.is_null()).then(|| read.int() as u64);
            assert_eq!(read, ours.entries_read, "{label}: entries-read");
        } else {
            assert_eq!(ours.entries_read, None, "{label}");
        }
        assert_eq!(
            g.get("pel-count").int() as usize,
            ours.pending.len(),
            "{label}"
        );
        let pel = g.get("pending").array();
        assert_eq!(pel.len(), ours.pending.len(), "{label}: PEL");
        for (p, o) in pel.iter().zip(&ours.pending) {
            let p = p.array();
            assert_eq!(p[0].text(), o.id.to_string(), "{label}");
            let owner = ours.consumers.iter().find(|c| c.pending.contains(&o.id));
            assert_eq!(
                Some(p[1].bytes()),
                owner.map(|c| c.name.clone()),
                "{label}: owner"
            );
            assert_eq!(p[2].int(), o.delivery_time_ms, "{label}: delivery time");
            assert_eq!(
                p[3].int() as u64,
                o.delivery_count,
                "{label}: delivery count"
            );
        }
        let consumers = g.get("consumers").array();
        assert_eq!(consumers.len(), ours.consumers.len(), "{label}: consumers");
        for (c, o) in consumers.iter().zip(&ours.consumers) {
            assert_eq!(c.get("name").bytes(), o.name, "{label}");
            assert_eq!(
                c.get("seen-time").int(),
                o.seen_time_ms,
                "{label}: seen-time"
            );
            match c.field("active-time") {
                Some(t) => assert_eq!(Some(t.int()), o.active_time_ms, "{label}: active-time"),
                None => assert_eq!(o.active_time_ms, None, "{label}"),
            }
            let ids: Vec<String> = c
                .get("pending")
                .array()
                .iter()
                .map(|p| p.array()[0].text())
                .collect();
            let our_ids: Vec<String> = o.pending.iter().map(|i| i.to_string()).collect();
            assert_eq!(ids, our_ids, "{label}: consumer PEL");
        }
    }
}

/// Redis 5.0 has no `XINFO STREAM FULL`: groups, consumers and PELs one by one; times only
/// as idle times, so they are compared within a margin.
fn compare_stream_5(s: &mut RespClient, key: &[u8], m: &StreamMeta, label: &str) {
    let info = s.ok(&[b"XINFO", b"STREAM", key]);
    assert_eq!(info.get("length").int() as u64, m.length, "{label}: length");
    assert_eq!(
        info.get("last-generated-id").text(),
        m.last_id.to_string(),
        "{label}"
    );
    let groups = s.ok(&[b"XINFO", b"GROUPS", key]);
    assert_eq!(groups.array().len(), m.groups.len(), "{label}: groups");
    let near = |a: i64, b: i64| (a - b).abs() < 10_000;
    for (g, ours) in groups.array().iter().zip(&m.groups) {
        assert_eq!(g.get("name").bytes(), ours.name, "{label}");
        let last = g.get("last-delivered-id").text();
        assert_eq!(last, ours.last_delivered_id.to_string(), "{label}");
        assert_eq!(
            g.get("pending").int() as usize,
            ours.pending.len(),
            "{label}"
        );
        let pel = s.ok(&[b"XPENDING", key, &ours.name, b"-", b"+", b"1000000"]);
        assert_eq!(pel.array().len(), ours.pending.len(), "{label}: PEL");
        let now = now_ms();
        for (p, o) in pel.array().iter().zip(&ours.pending) {
            let p = p.array();
            assert_eq!(p[0].text(), o.id.to_string(), "{label}");
            let owner = ours.consumers.iter().find(|c| c.pending.contains(&o.id));
            assert_eq!(
                Some(p[1].bytes()),
                owner.map(|c| c.name.clone()),
                "{label}: owner"
            );
            assert!(
                near(now - p[2].int(), o.delivery_time_ms),
                "{label}: delivery time"
            );
            assert_eq!(
                p[3].int() as u64,
                o.delivery_count,
                "{label}: delivery count"
            );
        }
        let consumers = s.ok(&[b"XINFO", b"CONSUMERS", key, &ours.name]);
        assert_eq!(
            consumers.array().len(),
            ours.consumers.len(),
            "{label}: consumers"
        );
        for (c, o) in consumers.array().iter().zip(&ours.consumers) {
            assert_eq!(c.get("name").bytes(), o.name, "{label}");
            assert_eq!(c.get("pending").int() as usize, o.pending.len(), "{label}");
            assert!(
                near(now - c.get("idle").int(), o.seen_time_ms),
                "{label}: seen time"
            );
        }
    }
}

/// Decodes every cut of the payload (sampled when large) and random byte flips: errors are
/// fine, panics are not; every strict prefix of a valid object must fail.
pub fn no_panic(label: &str, p: &Payload) {
    let object = &p.object;
    let len = object.len();
    let cuts: Vec<usize> = if len <= 4096 {
        (0..len).collect()
    } else {
        (0..2048)
            .chain(len - 1024..len)
            .chain((0..len).step_by(97))
            .collect()
    };
    for cut in cuts {
        let result = std::panic::catch_unwind(|| decode(p.rdb_type, &object[..cut], p.version));
        let result = result.unwrap_or_else(|_| panic!("{label}: the first {cut} bytes panicked"));
        assert!(
            result.is_err(),
            "{label}: the first {cut} of {len} bytes decoded"
        );
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..300 {
        let mut damaged = object.clone();
        for _ in 0..1 + round % 3 {
            let at = (rand() % len as u64) as usize;
            damaged[at] ^= (rand() % 255 + 1) as u8;
        }
        let result = std::panic::catch_unwind(|| decode(p.rdb_type, &damaged, p.version));
        assert!(result.is_ok(), "{label}: damaged copy {round} panicked");
    }
}
