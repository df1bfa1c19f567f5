//! The write workload against native replication: a replica of a source that ran
//! `WorkloadConfig::quick()` must end identical to it. That proves the workload is well-formed
//! and replicable, and that the content checker understands everything it writes, before
//! slotstream is held to the same standard.

mod common;

use common::workload::{self, Features, WorkloadConfig, WorkloadReport};
use common::{assert_same_contents_with, RedisServer};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const REPLICATION_TIMEOUT: Duration = Duration::from_secs(20);
/// Longer than the longest short TTL the workload sets (1 s), so no key is about to expire
/// while the contents are compared.
const EXPIRY_GRACE: Duration = Duration::from_millis(1200);

#[test]
fn workload_replicates_natively_and_covers_every_command_family() {
    let source = RedisServer::start();
    let replica = RedisServer::start_binary(source.binary(), &[]);
    redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(source.port())
        .exec(&mut replica.conn())
        .expect("REPLICAOF");
    wait_for(&replica, "master_link_status", |status| status == "up");

    let config = WorkloadConfig::quick();
    let report = workload::run(&source.url(), &config, &AtomicBool::new(false));
    println!("{}", report.summary());
    assert!(report.ops >= config.min_ops, "{}", report.summary());
    assert!(report.elapsed >= config.min_duration);

    std::thread::sleep(EXPIRY_GRACE);
    // The source may write more after this (DELs of expired keys, pings); that is fine.
    let offset: u64 = info_field(&source, "master_repl_offset").parse().unwrap();
    wait_for(&replica, "master_repl_offset", |at| {
        at.parse::<u64>().is_ok_and(|at| at >= offset)
    });
    // The checker reads consumer groups with XINFO STREAM FULL, which came with 6.0.
    if report.features.version >= (6, 0, 0) {
        let compared = assert_same_contents_with(&source.url(), &replica.url(), 0);
        assert!(compared > 1000, "only {compared} keys compared");
        println!("{compared} keys identical on the replica");
    } else {
        println!("contents not compared: the checker needs Redis 6.0 or later");
    }
    let expired: u64 = info_field(&source, "expired_keys").parse().unwrap();
    assert!(expired > 0, "no key expired during the run");
    for name in expected_commands(&report.features) {
        assert!(
            report.per_command.get(name).copied().unwrap_or(0) > 0,
            "no {name} sent:\n{}",
            report.summary()
        );
    }
    assert_no_mistakes(&report);
}

#[test]
fn workload_is_deterministic_for_a_seed() {
    let features = Features {
        version: (7, 0, 15),
        swapdb: true,
        copy: true,
        lmove: true,
        functions: true,
        keepttl: true,
        redis_62: true,
    };
    let config = WorkloadConfig::quick();
    let first = workload::first_commands(&config, features, 5000);
    assert_eq!(first, workload::first_commands(&config, features, 5000));
    let other_seed = WorkloadConfig {
        seed: config.seed + 1,
        ..config.clone()
    };
    assert_ne!(first, workload::first_commands(&other_seed, features, 5000));
}

/// Every command family of the issue that this server supports.
fn expected_commands(features: &Features) -> Vec<&'static str> {
    #[rustfmt::skip]
    let mut names = vec![
        "SET", "GETSET", "INCR", "INCRBYFLOAT", "APPEND", "SETRANGE",
        "LPUSH", "RPUSH", "LPOP", "RPOP", "LINSERT", "LTRIM", "LSET",
        "HSET", "HINCRBY", "HINCRBYFLOAT", "HDEL",
        "SADD", "SPOP", "SREM", "SMOVE", "SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE",
        "ZADD", "ZINCRBY", "ZREM", "ZREMRANGEBYRANK", "ZUNIONSTORE", "ZINTERSTORE",
        "XADD", "XDEL", "XGROUP CREATE", "XGROUP SETID", "XGROUP DESTROY", "XREADGROUP",
        "XACK", "XCLAIM", "XTRIM",
        "SETBIT", "BITOP", "PFADD", "PFMERGE",
        "EXPIRE", "PEXPIRE", "PEXPIREAT", "PERSIST",
        "MSET", "MSETNX", "DEL", "UNLINK", "RENAME", "MOVE",
        "MULTI", "EXEC", "EVAL", "SCRIPT LOAD", "EVALSHA",
        "SELECT", "FLUSHDB", "PUBLISH",
    ];
    names.push(if features.lmove { "LMOVE" } else { "RPOPLPUSH" });
    if features.redis_62 {
        names.push("XGROUP CREATECONSUMER");
    }
    if features.copy {
        names.push("COPY");
    }
    if features.functions {
        names.extend(["FUNCTION LOAD", "FCALL"]);
    }
    if features.swapdb {
        names.push("SWAPDB");
    }
    names
}

/// Refusals are part of the workload ("no such key", a group destroyed under a reader), but
/// these would mean it sends something the server does not understand, or mixes types.
fn assert_no_mistakes(report: &WorkloadReport) {
    for (name, error) in &report.first_error {
        for mistake in [
            "unknown command",
            "syntax error",
            "wrong number of arguments",
            "WRONGTYPE",
            "unknown subcommand",
        ] {
            assert!(
                !error.contains(mistake),
                "{name}: {error}\n{}",
                report.summary()
            );
        }
    }
}

fn info_field(server: &RedisServer, name: &str) -> String {
    let info: String = redis::cmd("INFO").query(&mut server.conn()).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .map(|value| value.trim().to_string())
        .unwrap_or_default()
}

fn wait_for(server: &RedisServer, name: &str, done: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + REPLICATION_TIMEOUT;
    loop {
        let value = info_field(server, name);
        if done(&value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} still {value:?} after {REPLICATION_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
