//! The seven server versions of the compatibility matrix (found and started by
//! `slotstream-test-support`), what each can create, and a dataset of every type and encoding a
//! version can create, limited to what the target of a pair can also hold.

use redis::Connection;
#[allow(unused_imports)] // each test file uses its own part
pub use slotstream_test_support::versions::{binary, start, HUB, MODULES_VERSION, VERSIONS};

/// What a version can create.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// Small sets of strings as listpacks (Redis 7.2+, Valkey).
    pub listpack_sets: bool,
    /// Hash fields with their own TTLs (Redis 7.4+, Valkey 9+).
    pub field_ttls: bool,
    /// `XGROUP CREATECONSUMER` (6.2+).
    pub create_consumer: bool,
    /// JSON, Bloom, Cuckoo and TimeSeries values (the Stack modules on 7.4.1).
    pub modules: bool,
    /// Function libraries (7.0+).
    pub functions: bool,
    /// Pending entries whose message was deleted: kept only when a stream is written whole (a
    /// stream sent in parts, past `--chunk-bytes`, loses them: COMPATIBILITY.md).
    pub pending_of_deleted: bool,
}

impl Features {
    pub fn of(name: &str) -> Features {
        let rank = VERSIONS.iter().position(|v| *v == name).unwrap_or(0);
        let at_least = |v: &str| rank >= VERSIONS.iter().position(|x| *x == v).unwrap_or(0);
        Features {
            listpack_sets: at_least("valkey-8.1.8"),
            field_ttls: at_least("redis-7.4.1"),
            create_consumer: at_least("redis-6.2.14"),
            modules: name == MODULES_VERSION,
            functions: at_least("redis-7.0.15"),
            pending_of_deleted: true,
        }
    }

    /// What both ends of a pair have.
    pub fn both(a: Features, b: Features) -> Features {
        Features {
            listpack_sets: a.listpack_sets,
            field_ttls: a.field_ttls && b.field_ttls,
            create_consumer: a.create_consumer,
            modules: a.modules && b.modules,
            functions: a.functions && b.functions,
            pending_of_deleted: a.pending_of_deleted && b.pending_of_deleted,
        }
    }
}

fn run(conn: &mut Connection, args: &[&str]) {
    let _: redis::Value = redis::cmd(args[0])
        .arg(&args[1..])
        .query(conn)
        .unwrap_or_else(|err| panic!("{args:?}: {err}"));
}

/// Every type in its compact and its large encoding, TTLs, binary data, two dbs, streams with
/// deleted entries, groups, consumers and pending entries (some of deleted messages), an empty
/// stream with a group.
pub fn write_dataset(conn: &mut Connection, features: Features) {
    run(conn, &["SET", "s:int", "12345"]);
    run(conn, &["SET", "s:emb", "hello"]);
    run(conn, &["SET", "s:raw", &"r".repeat(300)]);
    run(conn, &["SET", "s:ttl", "v", "EX", "5000"]);
    let _: () = redis::cmd("SET")
        .arg(&b"s:\x00bin\xff"[..])
        .arg(&b"\x00\x01\xfe\xff"[..])
        .query(conn)
        .unwrap();
    let items = |n: usize, prefix: &str| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    };
    for (key, n) in [("l:small", 5), ("l:big", 2000)] {
        let mut cmd = redis::cmd("RPUSH");
        cmd.arg(key).arg(items(n, "item-"));
        cmd.query::<()>(conn).unwrap();
    }
    run(conn, &["RPUSH", "l:wide", &"w".repeat(10_000), "x"]);
    run(conn, &["PEXPIRE", "l:big", "3000000"]);
    let mut intset = redis::cmd("SADD");
    intset.arg("set:int").arg((0..50).collect::<Vec<i64>>());
    intset.query::<()>(conn).unwrap();
    for (key, n) in [("set:small", 10), ("set:big", 1000)] {
        let mut cmd = redis::cmd("SADD");
        cmd.arg(key).arg(items(n, "m-"));
        cmd.query::<()>(conn).unwrap();
    }
    for (key, n) in [("z:small", 10), ("z:big", 500)] {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(key);
        for i in 0..n {
            cmd.arg(i as f64 / 3.0).arg(format!("z-{i}"));
        }
        cmd.query::<()>(conn).unwrap();
    }
    run(conn, &["ZADD", "z:small", "inf", "top", "-inf", "bottom"]);
    for (key, n) in [("h:small", 10), ("h:big", 1000)] {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for i in 0..n {
            cmd.arg(format!("f-{i}")).arg(format!("v-{i}"));
        }
        cmd.query::<()>(conn).unwrap();
    }
    if features.field_ttls {
        for (key, n) in [("h:ttl-small", 6), ("h:ttl-big", 300)] {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(key);
            for i in 0..n {
                cmd.arg(format!("f-{i}")).arg(format!("v-{i}"));
            }
            cmd.query::<()>(conn).unwrap();
            run(conn, &["HEXPIRE", key, "4000", "FIELDS", "2", "f-1", "f-3"]);
        }
    }
    write_streams(conn, features);
    if features.modules {
        write_module_values(conn);
    }
    if features.functions {
        run(conn, &["FUNCTION", "LOAD", LIBRARY]);
    }
    run(conn, &["SELECT", "1"]);
    run(conn, &["SET", "db1:key", "in db 1"]);
    run(conn, &["RPUSH", "db1:list", "a", "b"]);
    run(conn, &["SELECT", "0"]);
}

/// A function library (Redis 7.0+).
pub const LIBRARY: &str =
    "#!lua name=matrixlib\nredis.register_function('answer', function() return 42 end)";

/// The names of the function libraries on a server.
pub fn libraries(conn: &mut Connection) -> Vec<String> {
    let list: Vec<redis::Value> = redis::cmd("FUNCTION").arg("LIST").query(conn).unwrap();
    list.iter()
        .filter_map(|library| {
            let redis::Value::Array(fields) = library else {
                return None;
            };
            fields.chunks(2).find_map(|pair| match pair {
                [redis::Value::BulkString(k), redis::Value::BulkString(v)]
                    if k == b"library_name" =>
                {
                    Some(String::from_utf8_lossy(v).into_owned())
                }
                _ => None,
            })
        })
        .collect()
}

/// One value of each data module type.
pub fn write_module_values(conn: &mut Connection) {
    run(
        conn,
        &[
            "JSON.SET",
            "json:doc",
            "$",
            r#"{"a":[1,2,{"b":"c"}],"n":1.5}"#,
        ],
    );
    run(conn, &["BF.ADD", "bloom:seen", "alice"]);
    run(conn, &["CF.ADD", "cuckoo:seen", "bob"]);
    run(conn, &["TS.ADD", "ts:temp", "1700000000000", "21.5"]);
}

fn write_streams(conn: &mut Connection, features: Features) {
    for i in 1..=300 {
        let id = format!("1700000000000-{i}");
        let (f, v) = (format!("field-{}", i % 3), format!("value-{i}"));
        run(
            conn,
            &["XADD", "x:events", &id, &f, &v, "n", &i.to_string()],
        );
    }
    for i in [5, 6, 150] {
        run(conn, &["XDEL", "x:events", &format!("1700000000000-{i}")]);
    }
    run(conn, &["XGROUP", "CREATE", "x:events", "workers", "0"]);
    run(
        conn,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "alice",
            "COUNT",
            "10",
            "STREAMS",
            "x:events",
            ">",
        ],
    );
    run(
        conn,
        &[
            "XREADGROUP",
            "GROUP",
            "workers",
            "bob",
            "COUNT",
            "4",
            "STREAMS",
            "x:events",
            ">",
        ],
    );
    run(
        conn,
        &[
            "XACK",
            "x:events",
            "workers",
            "1700000000000-2",
            "1700000000000-3",
        ],
    );
    if features.pending_of_deleted {
        // Messages deleted while pending: alice's first (before every entry left) and one in
        // the middle of hers, bob's last.
        for i in [1, 9, 16] {
            run(conn, &["XDEL", "x:events", &format!("1700000000000-{i}")]);
        }
    }
    run(conn, &["XGROUP", "CREATE", "x:events", "audit", "$"]);
    if features.create_consumer {
        run(
            conn,
            &["XGROUP", "CREATECONSUMER", "x:events", "audit", "idle"],
        );
    }
    run(conn, &["XGROUP", "CREATE", "x:empty", "g", "$", "MKSTREAM"]);
}

/// A short live workload of plain commands every version has.
pub fn write_live(conn: &mut Connection, round: u32) {
    for i in 0..50 {
        let key = format!("live:{}", i % 10);
        run(conn, &["INCR", &format!("{key}:n")]);
        run(
            conn,
            &["RPUSH", &format!("{key}:l"), &format!("{round}-{i}")],
        );
        run(conn, &["HSET", &format!("{key}:h"), &format!("f{i}"), "v"]);
        run(
            conn,
            &["SADD", &format!("{key}:s"), &format!("{round}-{i}")],
        );
        run(
            conn,
            &[
                "ZADD",
                &format!("{key}:z"),
                &i.to_string(),
                &format!("{round}"),
            ],
        );
        run(conn, &["SET", &format!("{key}:t"), "v", "EX", "1000"]);
    }
    run(conn, &["XADD", "x:events", "*", "live", &round.to_string()]);
    run(conn, &["EXPIRE", "s:emb", "2000"]);
    run(conn, &["DEL", "s:raw"]);
}

/// Writes hash `key` with fields `f1`, `f2` and gives `f1` a TTL of `secs` (`HEXPIRE`: Redis
/// 7.4+, Valkey 9+).
pub fn write_field_ttl_hash(conn: &mut redis::Connection, key: &str, secs: u64) {
    let _: () = redis::cmd("HSET")
        .arg(&[key, "f1", "v1", "f2", "v2"])
        .query(conn)
        .unwrap();
    let _: Vec<i64> = redis::cmd("HEXPIRE")
        .arg(key)
        .arg(secs)
        .arg(&["FIELDS", "1", "f1"])
        .query(conn)
        .unwrap();
}
