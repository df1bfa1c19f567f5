//! The acceptance dataset for Redis 7.0: every type in small and large encodings, intsets,
//! streams with groups, pending entries and consumers, TTLs, several dbs, binary and empty keys
//! and values; plus the big keys (a ~50 MB string, a 1,000,000-field hash).
//!
//! Everything is deterministic (stream ids are explicit), so writing it to two servers gives two
//! equal datasets up to wall-clock stamps (TTLs, delivery and seen times).

use redis::{Connection, Pipeline};
use std::collections::{BTreeMap, BTreeSet};

/// The dbs [`write_full`] fills, each with the same keys and db-specific values.
pub const FULL_DBS: [i64; 4] = [0, 1, 2, 15];
/// Elements of each large list, set, zset and hash.
pub const LARGE: usize = 10_000;
/// Entries left in [`keys::STREAM`] after the deletions.
pub const STREAM_ENTRIES: usize = 1000;
/// 2100-01-01T00:00:00Z, for `EXPIREAT`.
pub const FAR_FUTURE: i64 = 4_102_444_800;
/// Size of [`keys::BIG_STRING`]: 50 chunks of 1 MiB.
pub const BIG_STRING_BYTES: usize = 50 << 20;
/// Fields of [`keys::BIG_HASH`].
pub const BIG_HASH_FIELDS: usize = 1_000_000;

/// Names of the keys tests poke at (each exists in every db of [`FULL_DBS`]).
pub mod keys {
    pub const INT: &str = "str:int";
    pub const EMBSTR: &str = "str:embstr";
    pub const RAW: &str = "str:raw";
    pub const STRING_100K: &str = "str:100k";
    pub const BINARY_VALUE: &str = "str:binary";
    pub const EMPTY_VALUE: &str = "str:empty";
    pub const EMPTY_KEY: &str = "";
    pub const BINARY_KEY: &[u8] = b"bin:\x00\xff\r\n\x7fkey";
    pub const TAGGED_NAME: &str = "{user:1000}:name";
    pub const TAGGED_EMAIL: &str = "{user:1000}:email";
    pub const NO_TTL: &str = "str:persistent";
    pub const STRING_TTL: &str = "str:ttl";
    pub const STRING_PTTL: &str = "str:pttl";
    pub const STRING_EXPIREAT: &str = "str:expireat";
    pub const LIST_SMALL: &str = "list:small";
    pub const LIST_LARGE: &str = "list:large";
    pub const LIST_TTL: &str = "list:ttl";
    pub const SET_INTSET: &str = "set:intset";
    pub const SET_SMALL: &str = "set:small";
    pub const SET_LARGE: &str = "set:large";
    pub const SET_INTSET_LARGE: &str = "set:intset-large";
    pub const SET_INTS_HASHTABLE: &str = "set:ints-hashtable";
    pub const SET_TTL: &str = "set:ttl";
    pub const ZSET_SMALL: &str = "zset:small";
    pub const ZSET_LARGE: &str = "zset:large";
    pub const ZSET_TTL: &str = "zset:ttl";
    pub const HASH_SMALL: &str = "hash:small";
    pub const HASH_LARGE: &str = "hash:large";
    pub const HASH_TTL: &str = "hash:ttl";
    pub const STREAM: &str = "stream:groups";
    pub const STREAM_EMPTY: &str = "stream:empty";
    pub const STREAM_TTL: &str = "stream:ttl";
    pub const BIG_STRING: &str = "big:string";
    pub const BIG_HASH: &str = "big:hash";
}

/// How many keys a writer created, per db.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetSummary {
    pub keys_per_db: BTreeMap<i64, usize>,
}

impl DatasetSummary {
    pub fn total(&self) -> usize {
        self.keys_per_db.values().sum()
    }

    pub fn merge(&mut self, other: &DatasetSummary) {
        for (db, n) in &other.keys_per_db {
            *self.keys_per_db.entry(*db).or_default() += n;
        }
    }

    /// Panics unless the server at `url` holds exactly these keys counts in these dbs and no
    /// keys elsewhere (keys under `__slotstream:` aside).
    pub fn assert_matches(&self, url: &str) {
        let mut conn = redis::Client::open(url)
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
        let databases: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("databases")
            .query(&mut conn)
            .expect("CONFIG GET databases");
        let databases: i64 = databases[1].parse().expect("a number of databases");
        for db in 0..databases {
            redis::cmd("SELECT")
                .arg(db)
                .exec(&mut conn)
                .expect("SELECT");
            let mut count = 0;
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut conn)
                    .expect("SCAN");
                count += keys
                    .iter()
                    .filter(|key| !key.starts_with(b"__slotstream:"))
                    .count();
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            let expected = self.keys_per_db.get(&db).copied().unwrap_or(0);
            assert_eq!(
                count, expected,
                "{url} db {db}: {count} keys, expected {expected}"
            );
        }
    }
}

/// Records every key written, per db, to build the summary.
struct Writer<'a> {
    conn: &'a mut Connection,
    db: i64,
    written: BTreeMap<i64, BTreeSet<Vec<u8>>>,
}

impl<'a> Writer<'a> {
    fn new(conn: &'a mut Connection) -> Self {
        Writer {
            conn,
            db: 0,
            written: BTreeMap::new(),
        }
    }

    fn select(&mut self, db: i64) {
        redis::cmd("SELECT")
            .arg(db)
            .exec(self.conn)
            .expect("SELECT");
        self.db = db;
    }

    /// Runs one command that writes one key: the second word, or the third for `XGROUP`.
    fn run(&mut self, args: &[&[u8]]) {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.exec(self.conn)
            .unwrap_or_else(|err| panic!("{:?}: {err}", String::from_utf8_lossy(args[0])));
        let key = if args[0].eq_ignore_ascii_case(b"XGROUP") {
            args[2]
        } else {
            args[1]
        };
        self.note(key);
    }

    fn note(&mut self, key: &[u8]) {
        self.written
            .entry(self.db)
            .or_default()
            .insert(key.to_vec());
    }

    fn pipe(&mut self, key: &[u8], pipe: &Pipeline) {
        pipe.exec(self.conn).expect("pipeline");
        self.note(key);
    }

    fn summary(self) -> DatasetSummary {
        DatasetSummary {
            keys_per_db: self
                .written
                .into_iter()
                .map(|(db, keys)| (db, keys.len()))
                .collect(),
        }
    }
}

/// Writes the acceptance dataset into dbs 0, 1, 2 and 15 and leaves db 0 selected.
pub fn write_full(conn: &mut Connection) -> DatasetSummary {
    let mut w = Writer::new(conn);
    for db in FULL_DBS {
        w.select(db);
        write_strings(&mut w, db);
        write_collections(&mut w, db);
        write_streams(&mut w, db);
    }
    w.select(0);
    w.summary()
}

fn write_strings(w: &mut Writer, db: i64) {
    let tag = format!("db{db}");
    let raw = format!(
        "{tag}:{}",
        "raw string longer than forty-four bytes, ".repeat(3)
    );
    let big: Vec<u8> = (0..100 * 1024)
        .map(|i| (i * 31 + db as usize) as u8)
        .collect();
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(tag.as_bytes());
    let embstr = format!("hello-{tag}");
    let empty_key_value = format!("empty-key-{tag}");
    for (key, value) in [
        (keys::INT.as_bytes(), b"12345".as_slice()),
        (keys::EMBSTR.as_bytes(), embstr.as_bytes()),
        (keys::RAW.as_bytes(), raw.as_bytes()),
        (keys::STRING_100K.as_bytes(), &big),
        (keys::BINARY_VALUE.as_bytes(), &binary),
        (keys::EMPTY_VALUE.as_bytes(), b""),
        (keys::EMPTY_KEY.as_bytes(), empty_key_value.as_bytes()),
        (keys::BINARY_KEY, b"value of a binary key"),
        (keys::TAGGED_NAME.as_bytes(), b"alice"),
        (keys::TAGGED_EMAIL.as_bytes(), b"alice@example.com"),
        (keys::NO_TTL.as_bytes(), b"-42"),
        (keys::STRING_TTL.as_bytes(), b"expires in an hour"),
        (keys::STRING_PTTL.as_bytes(), b"expires in 2 h and 123 ms"),
        (keys::STRING_EXPIREAT.as_bytes(), b"expires in 2100"),
    ] {
        w.run(&[b"SET", key, value]);
    }
    w.run(&[b"EXPIRE", keys::STRING_TTL.as_bytes(), b"3600"]);
    w.run(&[b"PEXPIRE", keys::STRING_PTTL.as_bytes(), b"7200123"]);
    let at = FAR_FUTURE.to_string();
    w.run(&[b"EXPIREAT", keys::STRING_EXPIREAT.as_bytes(), at.as_bytes()]);
}

/// `COMMAND key arg...` with the args produced by `items`, as one pipeline of 1000-arg commands.
fn push_many(w: &mut Writer, command: &str, key: &str, items: impl Iterator<Item = String>) {
    let items: Vec<String> = items.collect();
    let mut pipe = redis::pipe();
    for chunk in items.chunks(1000) {
        pipe.cmd(command).arg(key).arg(chunk).ignore();
    }
    w.pipe(key.as_bytes(), &pipe);
}

fn write_collections(w: &mut Writer, db: i64) {
    let tag = format!("db{db}");
    // Lists: one small (a single listpack node), one spread over many quicklist nodes.
    w.run(&[
        b"RPUSH",
        keys::LIST_SMALL.as_bytes(),
        b"a",
        b"b",
        b"",
        &[0, 255, 13, 10],
        tag.as_bytes(),
    ]);
    push_many(
        w,
        "RPUSH",
        keys::LIST_LARGE,
        (0..LARGE).map(|i| format!("item-{i}-{tag}")),
    );
    w.run(&[b"RPUSH", keys::LIST_TTL.as_bytes(), b"x", b"y"]);
    // Sets: intset, small strings, large strings, a 500-int intset (under
    // set-max-intset-entries 512) and 1000 ints (over it, so a hashtable).
    w.run(&[
        b"SADD",
        keys::SET_INTSET.as_bytes(),
        b"1",
        b"2",
        b"3",
        b"-5",
        b"100000",
    ]);
    w.run(&[
        b"SADD",
        keys::SET_SMALL.as_bytes(),
        b"a",
        b"b",
        b"",
        tag.as_bytes(),
    ]);
    push_many(
        w,
        "SADD",
        keys::SET_LARGE,
        (0..LARGE).map(|i| format!("member-{i}-{tag}")),
    );
    push_many(
        w,
        "SADD",
        keys::SET_INTSET_LARGE,
        (0..500).map(|i| (i * 7 - 1000).to_string()),
    );
    push_many(
        w,
        "SADD",
        keys::SET_INTS_HASHTABLE,
        (0..1000).map(|i| (i * 3).to_string()),
    );
    w.run(&[b"SADD", keys::SET_TTL.as_bytes(), b"p", b"q"]);
    // Zsets: small (listpack), large (skiplist) with infinities and fractions.
    w.run(&[
        b"ZADD",
        keys::ZSET_SMALL.as_bytes(),
        b"1",
        b"a",
        b"2.5",
        b"b",
        b"-3",
        b"c",
        b"0",
        tag.as_bytes(),
    ]);
    let mut scored: Vec<String> = Vec::new();
    for i in 0..LARGE - 3 {
        scored.push(format!("{}", i as f64 / 3.0 - 1000.0));
        scored.push(format!("m-{i}-{tag}"));
    }
    scored.extend(["-inf", "neg-inf", "+inf", "pos-inf", "0.1", "a-tenth"].map(String::from));
    push_many(w, "ZADD", keys::ZSET_LARGE, scored.into_iter());
    w.run(&[b"ZADD", keys::ZSET_TTL.as_bytes(), b"1", b"one"]);
    // Hashes: small (listpack) with an empty field and value, large (hashtable).
    w.run(&[
        b"HSET",
        keys::HASH_SMALL.as_bytes(),
        b"f1",
        b"v1",
        b"empty",
        b"",
        b"",
        b"empty field",
        b"db",
        tag.as_bytes(),
    ]);
    let fields = (0..LARGE).flat_map(|i| [format!("field-{i}"), format!("value-{i}-{tag}")]);
    push_many(w, "HSET", keys::HASH_LARGE, fields);
    w.run(&[b"HSET", keys::HASH_TTL.as_bytes(), b"f", b"v"]);
    // One of each type expires in an hour; the hash in ms precision.
    for key in [keys::LIST_TTL, keys::SET_TTL, keys::ZSET_TTL] {
        w.run(&[b"EXPIRE", key.as_bytes(), b"3600"]);
    }
    w.run(&[b"PEXPIRE", keys::HASH_TTL.as_bytes(), b"3600500"]);
}

/// The id of the `i`th entry written to [`keys::STREAM`]: three entries per millisecond.
fn stream_id(i: usize) -> String {
    format!("{}-{}", 1_700_000_000_000u64 + (i / 3) as u64, i % 3)
}

fn write_streams(w: &mut Writer, db: i64) {
    let key = keys::STREAM;
    let tag = format!("db{db}");
    let written = STREAM_ENTRIES + 10;
    let deleted: Vec<usize> = (1..=10).map(|i| i * 10).collect();
    let add = |w: &mut Writer, range: std::ops::Range<usize>| {
        let mut pipe = redis::pipe();
        for i in range {
            pipe.cmd("XADD")
                .arg(key)
                .arg(stream_id(i))
                .arg("n")
                .arg(i)
                .arg("db")
                .arg(&tag);
            if i % 100 == 0 {
                pipe.arg("bin").arg(&[0u8, 255, 10][..]);
            }
            pipe.ignore();
        }
        w.pipe(key.as_bytes(), &pipe);
    };
    add(w, 0..written - 5);
    // g-new starts after the first 1005 entries, g-all at the beginning.
    w.run(&[
        b"XGROUP",
        b"CREATE",
        key.as_bytes(),
        b"g-new",
        b"$",
        b"MKSTREAM",
    ]);
    w.run(&[b"XGROUP", b"CREATE", key.as_bytes(), b"g-all", b"0"]);
    add(w, written - 5..written);
    for i in &deleted {
        w.run(&[b"XDEL", key.as_bytes(), stream_id(*i).as_bytes()]);
    }
    let live: Vec<String> = (0..written)
        .filter(|i| !deleted.contains(i))
        .map(stream_id)
        .collect();
    let read = |w: &mut Writer, group: &str, consumer: &str, count: &str| {
        let _: redis::Value = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("STREAMS")
            .arg(key)
            .arg(">")
            .query(w.conn)
            .expect("XREADGROUP");
    };
    read(w, "g-all", "alice", "100");
    read(w, "g-all", "bob", "50");
    read(w, "g-new", "carol", "2");
    // alice acks 30 of hers; bob claims one more of hers (delivery count 2).
    let mut ack = redis::cmd("XACK");
    ack.arg(key).arg("g-all").arg(&live[..30]);
    ack.exec(w.conn).expect("XACK");
    let _: redis::Value = redis::cmd("XCLAIM")
        .arg(key)
        .arg("g-all")
        .arg("bob")
        .arg(0)
        .arg(&live[30])
        .query(w.conn)
        .expect("XCLAIM");
    w.run(&[
        b"XGROUP",
        b"CREATECONSUMER",
        key.as_bytes(),
        b"g-all",
        b"dave",
    ]);
    // An empty stream that still has a group, and a small stream that expires.
    w.run(&[
        b"XGROUP",
        b"CREATE",
        keys::STREAM_EMPTY.as_bytes(),
        b"g",
        b"$",
        b"MKSTREAM",
    ]);
    for (i, id) in ["1-1", "2-1", "3-1"].iter().enumerate() {
        let n = i.to_string();
        w.run(&[
            b"XADD",
            keys::STREAM_TTL.as_bytes(),
            id.as_bytes(),
            b"n",
            n.as_bytes(),
        ]);
    }
    w.run(&[b"EXPIRE", keys::STREAM_TTL.as_bytes(), b"3600"]);
}

/// Writes the big keys into db 0: a ~50 MB string (appended 1 MiB at a time) and a
/// 1,000,000-field hash (`HSET` of 1000 fields, 50 per pipeline).
pub fn write_big(conn: &mut Connection) -> DatasetSummary {
    let mut w = Writer::new(conn);
    w.select(0);
    w.run(&[b"SET", keys::BIG_STRING.as_bytes(), b""]);
    for chunk in 0..BIG_STRING_BYTES >> 20 {
        let bytes: Vec<u8> = (0..1usize << 20)
            .map(|i| (i.wrapping_mul(7) + chunk) as u8)
            .collect();
        w.run(&[b"APPEND", keys::BIG_STRING.as_bytes(), &bytes]);
    }
    let per_command = 1000;
    let per_pipeline = 50;
    for start in (0..BIG_HASH_FIELDS).step_by(per_command * per_pipeline) {
        let mut pipe = redis::pipe();
        for first in (start..start + per_command * per_pipeline).step_by(per_command) {
            pipe.cmd("HSET").arg(keys::BIG_HASH);
            for i in first..(first + per_command).min(BIG_HASH_FIELDS) {
                pipe.arg(format!("field:{i}")).arg(format!("value:{i}"));
            }
            pipe.ignore();
        }
        w.pipe(keys::BIG_HASH.as_bytes(), &pipe);
    }
    w.summary()
}

/// `len` bytes that do not compress (an RDB stores them as they are), from a xorshift state.
pub fn incompressible(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

/// Writes `n` short strings `small:{i}` into db 0 (selecting it).
pub fn write_small_strings(conn: &mut Connection, n: usize) -> DatasetSummary {
    let mut w = Writer::new(conn);
    w.select(0);
    for start in (0..n).step_by(1000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 1000).min(n) {
            pipe.cmd("SET")
                .arg(format!("small:{i}"))
                .arg(format!("value-{i}"))
                .ignore();
        }
        pipe.exec(w.conn).expect("SET pipeline");
    }
    let mut summary = w.summary();
    summary.keys_per_db.insert(0, n);
    summary
}
