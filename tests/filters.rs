//! Key and database filters (`--include-key`, `--exclude-key`, `--include-db`, `--exclude-db`)
//! with `--map-db`, through the snapshot (whole keys and big values in parts) and live changes
//! (multi-key commands cut to the kept keys, transactions, other databases), checked key by key
//! against the source filtered by the test itself; a command the filter cannot cut exactly
//! stops the copy, naming it, before anything of it is applied. `verify` given the same map and
//! filters compares only what the copy holds. Type filters (`--exclude-type`) the same way.

mod common;

use common::follow::{fails, wait_caught_up, Proc, PARTITIONS};
use common::keyspace::{difference, of_db, Entry};
use common::{run_verify, slotstream, RedisServer, TTL_EXTENSION_MS};
use std::collections::BTreeMap;
use std::process::Command;

/// The filter under test, as the test applies it: db 2 left out, keys `keep:*` but not
/// `keep:secret*`.
fn kept(db: u32, key: &[u8]) -> bool {
    db != 2 && key.starts_with(b"keep:") && !key.starts_with(b"keep:secret")
}

const FILTER: &[&str] = &[
    "--include-key",
    "keep:*",
    "--exclude-key",
    "keep:secret*",
    "--exclude-db",
    "2",
    "--map-db",
    "1=5",
    "--chunk-bytes",
    "1024",
];

fn cmd(conn: &mut redis::Connection, args: &[&str]) {
    let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(conn).unwrap();
}

/// Keys in db 0, 1 and 2, some kept and some not, with TTLs and two big lists (sent in parts).
fn write_snapshot_data(source: &RedisServer) {
    let mut conn = source.conn();
    for db in 0..3 {
        cmd(&mut conn, &["SELECT", &db.to_string()]);
        for name in ["keep:s", "keep:secret:s", "other:s"] {
            cmd(&mut conn, &["SET", name, &format!("{name}@{db}")]);
        }
        cmd(&mut conn, &["HSET", "keep:h", "f", "1", "g", "2"]);
        cmd(&mut conn, &["EXPIRE", "keep:h", "3000"]);
        cmd(&mut conn, &["SADD", "other:set", "a", "b"]);
    }
    cmd(&mut conn, &["SELECT", "0"]);
    for name in ["keep:big", "other:big"] {
        let items: Vec<String> = (0..2000).map(|i| format!("{name}-{i:06}")).collect();
        let mut push = redis::cmd("RPUSH");
        push.arg(name).arg(&items);
        let _: i64 = push.query(&mut conn).unwrap();
    }
}

/// Live changes: single keys, multi-key commands partly kept, a transaction, other databases.
fn write_live(source: &RedisServer) {
    let mut conn = source.conn();
    cmd(&mut conn, &["SET", "keep:live", "1"]);
    cmd(&mut conn, &["SET", "other:live", "1"]);
    cmd(&mut conn, &["DEL", "keep:s", "other:s", "keep:secret:s"]);
    cmd(
        &mut conn,
        &["MSET", "keep:m", "a", "other:m", "b", "keep:n", "c"],
    );
    cmd(&mut conn, &["INCRBY", "keep:counter", "5"]);
    cmd(&mut conn, &["RPUSH", "keep:big", "tail"]);
    cmd(&mut conn, &["EXPIRE", "keep:live", "4000"]);
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("keep:tx")
        .cmd("SET")
        .arg("other:tx")
        .arg("x")
        .cmd("SADD")
        .arg("other:set")
        .arg("c")
        .cmd("INCR")
        .arg("keep:tx")
        .query(&mut conn)
        .unwrap();
    for db in ["1", "2"] {
        cmd(&mut conn, &["SELECT", db]);
        cmd(&mut conn, &["SET", "keep:live", db]);
        cmd(&mut conn, &["DEL", "keep:s"]);
    }
}

/// `source` db `from`, filtered, against `target` db `to`.
fn assert_filtered_copy(source: &RedisServer, from: u32, target: &RedisServer, to: u32) {
    let want: BTreeMap<Vec<u8>, Entry> = of_db(source, from)
        .into_iter()
        .filter(|(key, _)| kept(from, key))
        .collect();
    assert!(!want.is_empty(), "nothing of db {from} is kept");
    let got = of_db(target, to);
    if let Some(why) = difference(&want, &got, TTL_EXTENSION_MS, 2_000) {
        panic!("db {from} → db {to}: {why}");
    }
}

fn assert_filtered(source: &RedisServer, target: &RedisServer) {
    assert_filtered_copy(source, 0, target, 0);
    assert_filtered_copy(source, 1, target, 5);
    for db in [1, 2] {
        assert!(
            of_db(target, db).is_empty(),
            "db {db} of the target is not empty"
        );
    }
}

/// Keys and values, without expiry times (read at another moment, they differ by milliseconds).
fn values(keys: &BTreeMap<Vec<u8>, Entry>) -> Vec<(&Vec<u8>, &common::keyspace::Value)> {
    keys.iter()
        .map(|(key, entry)| (key, &entry.value))
        .collect()
}

/// `verify` given the same map and filters finds the copy identical; without the filters it
/// finds the left-out keys missing.
fn assert_verify_agrees(source: &RedisServer, target: &RedisServer) {
    let scoped: Vec<&str> = FILTER
        .chunks(2)
        .filter(|pair| pair[0] != "--chunk-bytes")
        .flatten()
        .copied()
        .collect();
    let run = run_verify(&source.url(), &target.url(), &scoped);
    assert_eq!(run.code, Some(0), "{}", run.text());
    let run = run_verify(&source.url(), &target.url(), &["--map-db", "1=5"]);
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("other:s"), "{}", run.text());
}

fn sync_cmd(source: &RedisServer, target: &RedisServer) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", &source.url(), "--target", &target.url()])
        .args(["--partitions", &PARTITIONS.to_string()])
        .args(FILTER);
    cmd
}

#[test]
fn sync_copies_what_the_filter_keeps_through_the_snapshot_and_live_changes() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    write_snapshot_data(&source);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    let log = common::follow::sync_log(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_filtered(&source, &target);

    write_live(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_filtered(&source, &target);
    assert_verify_agrees(&source, &target);

    // Kept and left-out keys in one command whose effect on the kept one needs the other.
    let before = of_db(&target, 0);
    cmd(
        &mut source.conn(),
        &["RENAME", "keep:live", "other:renamed"],
    );
    let status = sync.wait_exit(
        std::time::Duration::from_secs(60),
        "sync did not stop at a RENAME it cannot filter",
    );
    let out = sync.log();
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("RENAME touches keys the filter keeps and keys it leaves out"),
        "{out}"
    );
    assert_eq!(values(&of_db(&target, 0)), values(&before), "{out}");
}

/// The type filter under test: lists, sets and streams left out.
const LEFT_OUT_TYPES: &str = "list,set,stream";

fn kept_type(value: &common::keyspace::Value) -> bool {
    use common::keyspace::Value;
    !matches!(value, Value::List(_) | Value::Set(_) | Value::Stream(_))
}

/// `--exclude-type`: whole types left out of the snapshot (a big list in parts too) and of the
/// live changes; a kept key that a left-out type's command replaces (`SUNIONSTORE` over a hash)
/// is deleted on the target; generic commands reach kept keys; `verify` given the same filter
/// agrees. A command that hides the type it moves (`RENAME`) stops the copy, naming it.
#[test]
fn type_filters_leave_out_whole_types_and_what_replaces_a_kept_key() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut conn = source.conn();
    cmd(&mut conn, &["SET", "s", "v"]);
    cmd(&mut conn, &["RPUSH", "l", "a", "b"]);
    cmd(&mut conn, &["SADD", "set:a", "x", "y"]);
    cmd(&mut conn, &["SADD", "set:b", "y", "z"]);
    cmd(&mut conn, &["ZADD", "z", "1", "m"]);
    cmd(&mut conn, &["HSET", "h", "f", "1"]);
    cmd(&mut conn, &["HSET", "h:replaced", "f", "1"]);
    cmd(&mut conn, &["XADD", "st", "*", "f", "v"]);
    cmd(&mut conn, &["PFADD", "hll", "a", "b"]);
    cmd(&mut conn, &["GEOADD", "geo", "13.36", "38.11", "palermo"]);
    let items: Vec<String> = (0..2000).map(|i| format!("item-{i:06}")).collect();
    let _: i64 = redis::cmd("RPUSH")
        .arg("big")
        .arg(&items)
        .query(&mut conn)
        .unwrap();
    let mut sync = slotstream();
    sync.args(["sync", "--source", &source.url(), "--target", &target.url()])
        .args([
            "--partitions",
            &PARTITIONS.to_string(),
            "--chunk-bytes",
            "1024",
        ])
        .args(["--exclude-type", LEFT_OUT_TYPES]);
    let mut sync = Proc::spawn(&mut sync, "sync");
    let log = common::follow::sync_log(&source);
    let assert_typed_copy = |what: &str| {
        let want: BTreeMap<Vec<u8>, Entry> = of_db(&source, 0)
            .into_iter()
            .filter(|(_, entry)| kept_type(&entry.value))
            .collect();
        let got = of_db(&target, 0);
        if let Some(why) = difference(&want, &got, TTL_EXTENSION_MS, 2_000) {
            panic!("{what}: {why}");
        }
        assert_eq!(got.len(), want.len(), "{what}: the target holds more keys");
    };
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_typed_copy("after the snapshot");

    cmd(&mut conn, &["SET", "s2", "v"]);
    cmd(&mut conn, &["RPUSH", "l", "c"]);
    cmd(&mut conn, &["LPUSH", "l2", "a"]);
    cmd(&mut conn, &["XADD", "st", "*", "g", "w"]);
    cmd(&mut conn, &["SADD", "set:a", "w"]);
    cmd(&mut conn, &["SUNIONSTORE", "h:replaced", "set:a", "set:b"]);
    cmd(&mut conn, &["HINCRBY", "h", "f", "4"]);
    cmd(&mut conn, &["EXPIRE", "h", "3000"]);
    cmd(&mut conn, &["DEL", "z", "l"]);
    cmd(&mut conn, &["ZADD", "z2", "2", "n"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_typed_copy("after live changes");
    let run = run_verify(
        &source.url(),
        &target.url(),
        &["--exclude-type", LEFT_OUT_TYPES],
    );
    assert_eq!(run.code, Some(0), "{}", run.text());
    let run = run_verify(&source.url(), &target.url(), &[]);
    assert_eq!(run.code, Some(1), "without the filter: {}", run.text());

    cmd(&mut conn, &["RENAME", "s2", "s3"]);
    let status = sync.wait_exit(
        std::time::Duration::from_secs(60),
        "sync did not stop at a RENAME under a type filter",
    );
    let out = sync.log();
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("RENAME moves a key without saying its type"),
        "{out}"
    );
}

#[test]
fn a_filter_is_checked_before_anything_is_copied() {
    for (filter, said) in [
        (
            ["--exclude-db", "300"],
            "\"300\" is not a database number (0-255)",
        ),
        (
            ["--include-type", "string,sortedset"],
            "\"sortedset\" is not a value type (one of string, list, set, zset",
        ),
    ] {
        let mut bad = slotstream();
        bad.args(["sync", "--source", "redis://127.0.0.1:1"])
            .args(["--target", "redis://127.0.0.1:2"])
            .args(filter);
        let log = fails(&mut bad, "sync");
        assert!(log.contains(said), "{log}");
    }
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use common::broker::{consume_cmd_to, produce_cmd_from, unique_topic};
    use common::follow::broker_with_topic;

    /// The producer filters: the topic holds only what the filter keeps; the consumer maps.
    #[test]
    fn produce_captures_what_the_filter_keeps() {
        let source = RedisServer::start();
        let target = RedisServer::start();
        write_snapshot_data(&source);
        let topic = unique_topic("filters");
        let broker = broker_with_topic(&topic);
        let mut produce = produce_cmd_from(&source.url(), &broker, &topic, PARTITIONS);
        let producer_args: Vec<&str> = FILTER
            .chunks(2)
            .filter(|pair| pair[0] != "--map-db")
            .flatten()
            .copied()
            .collect();
        produce.args(&producer_args);
        let mut producer = Proc::spawn(&mut produce, "produce");
        let mut consume = consume_cmd_to(&target.url(), &broker, &topic);
        consume.args(["--map-db", "1=5"]);
        let mut consumer = Proc::spawn(&mut consume, "consume");
        write_live(&source);
        wait_caught_up(
            &source,
            &target,
            &topic,
            &mut [&mut producer, &mut consumer],
        );
        assert_filtered(&source, &target);
        assert_verify_agrees(&source, &target);
        consumer.stop();
        producer.stop();
    }
}
