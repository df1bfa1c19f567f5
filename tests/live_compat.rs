//! Live commands newer than the target, through `slotstream sync` on real servers: each newer
//! form a Redis 7.x or Valkey 9 source replicates reaches an older target in a form it knows,
//! and the copy ends identical; a command no older form expresses stops the copy by default,
//! again after a restart, and is left out with a warning when asked.

mod common;

use common::follow::{assert_identical, assert_nothing_refused, sync_cmd, sync_log};
use common::follow::{wait_caught_up, Proc};
use common::newer;
use common::versions;
use common::{verify_identical, RedisServer};
use std::time::Duration;

/// The 7.x source of these tests: it replicates every newer form (7.0's and 7.4's included).
const SOURCE: &str = "redis-7.4.1";

/// A `from` source followed by `sync` into a `to` target (with `extra` arguments), caught up;
/// `None` when a server is not installed.
fn follow(from: &str, to: &str, extra: &[&str]) -> Option<(RedisServer, RedisServer, Proc)> {
    let (source, target) = (versions::start(from)?, versions::start(to)?);
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("the copy")
        .query(&mut source.conn())
        .unwrap();
    let mut sync = Proc::spawn(sync_cmd(&source, &target).args(extra), "sync");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    Some((source, target, sync))
}

/// Follows the source's writes of `write` into `to`, then checks the copy (with both checkers
/// when `both`, else with `slotstream verify`) and that the target refused nothing.
fn newer_commands_into(from: &str, to: &str, both: bool, write: fn(&mut redis::Connection)) {
    eprintln!("{from} -> {to}");
    let Some((source, target, mut sync)) = follow(from, to, &[]) else {
        return;
    };
    write(&mut source.conn());
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    if both {
        assert_identical(&source, &target);
    } else {
        verify_identical(&source, &target);
    }
    let log = sync.stop();
    assert_nothing_refused(&log);
    assert!(!log.contains("left out"), "{log}");
}

#[test]
fn keys_and_collections_from_7_x_into_5_0_6_0_6_2_and_7_0() {
    for to in [
        "redis-5.0.10",
        "redis-6.0.9",
        "redis-6.2.14",
        "redis-7.0.15",
    ] {
        newer_commands_into(SOURCE, to, true, newer::write_keys_and_collections);
    }
}

#[test]
fn streams_from_7_x_into_5_0_6_0_6_2_and_7_0() {
    for to in [
        "redis-5.0.10",
        "redis-6.0.9",
        "redis-6.2.14",
        "redis-7.0.15",
    ] {
        // The independent checker compares stream counters that servers before 7.0 lack.
        let both = to == "redis-7.0.15";
        newer_commands_into(SOURCE, to, both, newer::write_streams);
    }
}

#[test]
fn valkey_9_commands_into_redis_7_4_and_5_0() {
    newer_commands_into("valkey-9.1.2", "redis-7.4.1", true, |conn| {
        newer::write_valkey(conn, true)
    });
    newer_commands_into("valkey-9.1.2", "redis-5.0.10", true, |conn| {
        newer::write_valkey(conn, false)
    });
}

/// Writes a hash with a field TTL (`HEXPIRE`, which 7.4 replicates as `HPEXPIREAT`), and a key
/// after it in the same slot (so in the same partition, which applies in order).
fn write_field_ttl(source: &RedisServer) {
    let mut conn = source.conn();
    let _: () = redis::cmd("HSET")
        .arg(&["{t}h", "f", "v", "g", "w"])
        .query(&mut conn)
        .unwrap();
    let _: Vec<i64> = redis::cmd("HEXPIRE")
        .arg(&["{t}h", "1000", "FIELDS", "1", "f"])
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(AFTER)
        .arg("1")
        .query(&mut conn)
        .unwrap();
}

const AFTER: &str = "{t}after";

fn get(target: &RedisServer, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut target.conn())
        .unwrap()
}

#[test]
fn a_field_ttl_into_5_0_stops_the_copy_by_default_and_again_after_a_restart() {
    let Some((source, target, mut sync)) = follow(SOURCE, "redis-5.0.10", &[]) else {
        return;
    };
    write_field_ttl(&source);
    let limit = Duration::from_secs(60);
    let status = sync.wait_exit(limit, "sync did not stop at HPEXPIREAT");
    assert!(!status.success());
    let log = sync.log();
    for part in [
        "cannot apply the live command HPEXPIREAT on key \"{t}h\"",
        "(redis 5.0.10)",
        "hash field TTLs need Redis 7.4+ or Valkey 9+",
        "--on-unsupported=skip-with-warning",
    ] {
        assert!(log.contains(part), "{part} is not in:\n{log}");
    }
    assert_eq!(get(&target, AFTER), None, "a command after it was applied");

    // A restart takes up from the checkpoint, and stops at the same command.
    let mut again = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    let status = again.wait_exit(limit, "the restarted sync did not stop at HPEXPIREAT");
    assert!(!status.success());
    assert!(
        again
            .log()
            .contains("live command HPEXPIREAT on key \"{t}h\""),
        "{}",
        again.log()
    );
    assert_eq!(get(&target, AFTER), None);
}

#[test]
fn a_field_ttl_into_5_0_is_left_out_with_a_warning_when_asked() {
    let skip = ["--on-unsupported", "skip-with-warning"];
    let Some((source, target, mut sync)) = follow(SOURCE, "redis-5.0.10", &skip) else {
        return;
    };
    write_field_ttl(&source);
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    let mut conn = target.conn();
    let hash: Vec<String> = redis::cmd("HGETALL").arg("{t}h").query(&mut conn).unwrap();
    assert_eq!(hash, ["f", "v", "g", "w"]);
    assert_eq!(get(&target, AFTER).as_deref(), Some("1"));
    let log = sync.stop();
    for part in [
        "live command left out",
        "command=HPEXPIREAT",
        "key=\"{t}h\"",
        "left_out_so_far=1",
    ] {
        assert!(log.contains(part), "{part} is not in:\n{log}");
    }
    assert_nothing_refused(&log);
}
