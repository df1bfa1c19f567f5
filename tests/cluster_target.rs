//! A Redis Cluster as the destination: `sync` given any node's URL finds the primaries, sends
//! each slot's commands to its owner, and keeps a checkpoint per slot, so the snapshot and the
//! live changes arrive identical and exactly once across kills; commands across slots arrive by
//! their effect, each step once. Records of other databases, and a command across slots whose
//! effect is not known, are refused with an error that says so.

mod common;

use common::follow::{wait_logged, write_counters};
use common::keyspace::{self, wait_identical};
use common::{slotstream, versions, RedisServer};
use slotstream_test_support::{Cluster, Proc};
use std::process::{Command, Output};
use std::time::Duration;

/// A source with db 0 holding every type, TTLs, hash-tagged keys and one big list (in chunks).
fn source_with_data() -> RedisServer {
    let source = RedisServer::start();
    write_data(&source);
    source
}

fn write_data(source: &RedisServer) {
    let mut conn = source.conn();
    let mut pipe = redis::pipe();
    for i in 0..3000 {
        pipe.cmd("SET")
            .arg(format!("string:{i}"))
            .arg(format!("value-{i}"))
            .ignore();
    }
    for i in 0..300 {
        pipe.cmd("SET").arg(format!("int:{i}")).arg(i).ignore();
        pipe.cmd("SET")
            .arg(format!("ttl:{i}"))
            .arg("v")
            .arg("EX")
            .arg(3600)
            .ignore();
        pipe.cmd("RPUSH")
            .arg(format!("list:{i}"))
            .arg(&["a", "b", "c"])
            .ignore();
        pipe.cmd("SADD")
            .arg(format!("set:{i}"))
            .arg(&[1, 2, 3])
            .ignore();
        pipe.cmd("ZADD")
            .arg(format!("zset:{i}"))
            .arg(&[(1.5, "x"), (2.0, "y")])
            .ignore();
        pipe.cmd("HSET")
            .arg(format!("hash:{i}"))
            .arg(&[("f", "v"), ("g", "w")])
            .ignore();
        pipe.cmd("XADD")
            .arg(format!("stream:{i}"))
            .arg("*")
            .arg(&[("k", "v")])
            .ignore();
        pipe.cmd("SET")
            .arg(format!("{{user:{i}}}:name"))
            .arg("n")
            .ignore();
        pipe.cmd("SET")
            .arg(format!("{{user:{i}}}:mail"))
            .arg("m")
            .ignore();
    }
    // Past the 1 MiB chunk size: built under a temporary key in its slot, renamed into place.
    for round in 0..40 {
        let items: Vec<String> = (0..1000)
            .map(|i| format!("item-{round}-{i}-{}", "x".repeat(20)))
            .collect();
        pipe.cmd("RPUSH").arg("big:list").arg(items).ignore();
    }
    let _: () = pipe.query(&mut conn).unwrap();
}

/// `slotstream sync` from `source` into the cluster node `target`, following live changes.
fn live_sync(source: &RedisServer, target: &str) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", &source.url(), "--target", target]);
    cmd
}

fn sync(source: &RedisServer, target: &str, extra: &[&str]) -> Output {
    slotstream()
        .args(["sync", "--source", &source.url(), "--target", target])
        .args(["--retry-for-secs", "0"])
        .args(extra)
        .output()
        .expect("run slotstream")
}

#[test]
fn a_snapshot_arrives_identical_in_a_cluster_given_any_node() {
    let cluster = Cluster::start(3, 1);
    let source = source_with_data();
    // A replica's URL works as well as a primary's: the slot map comes from the cluster.
    let node = cluster.replicas()[0].url();
    let output = sync(&source, &node, &["--snapshot-only"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let difference = keyspace::copy_difference(
        &keyspace::of_server(&source),
        &keyspace::of_cluster(&cluster),
    );
    assert_eq!(difference, None);
    for primary in cluster.primaries() {
        let keys: u64 = redis::cmd("DBSIZE").query(&mut primary.conn()).unwrap();
        assert!(
            keys > 1000,
            "the keys did not spread over the primaries ({keys} on one)"
        );
    }
}

/// Snapshot and live changes from `name` into a cluster of `name`: 6.2 has no `CLUSTER SHARDS`
/// (the slot map comes from `CLUSTER SLOTS`), Valkey 9 is another implementation.
fn snapshot_and_live_into_a_cluster_of(name: &str) {
    let Some(binary) = versions::binary(name) else {
        return;
    };
    let cluster = Cluster::start_binary(&binary, 3, 0);
    let source = RedisServer::start_binary(&binary, &[]);
    write_data(&source);
    let target = cluster.primaries()[1].url();
    let mut cmd = live_sync(&source, &target);
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    for round in 1..=3 {
        write_counters(&source, round);
    }
    let _: () = redis::cmd("DEL")
        .arg("big:list")
        .query(&mut source.conn())
        .unwrap();
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
}

#[test]
fn a_redis_6_2_cluster_without_cluster_shards_is_a_target() {
    snapshot_and_live_into_a_cluster_of("redis-6.2.14");
}

#[test]
fn a_valkey_9_cluster_is_a_target() {
    snapshot_and_live_into_a_cluster_of("valkey-9.1.2");
}

#[test]
fn live_changes_reach_a_cluster_exactly_once_across_kills() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    write_counters(&source, 0);
    let target = cluster.primaries()[0].url();
    let start = || {
        let mut cmd = live_sync(&source, &target);
        Proc::spawn(&mut cmd, "sync")
    };
    let mut sync = start();
    // Live first: the kills below land in the live phase, and each restart continues from the
    // slot checkpoints instead of copying again.
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let mut conn = source.conn();
    for round in 1..=6 {
        write_counters(&source, round);
        // A transaction of one slot, as the cluster can run it.
        let _: () = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg("{tx}:a")
            .cmd("LPUSH")
            .arg("{tx}:b")
            .arg(round)
            .query(&mut conn)
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg(format!("expiring:{round}"))
            .arg("v")
            .arg("EX")
            .arg(3600)
            .query(&mut conn)
            .unwrap();
        let _: () = redis::cmd("DEL")
            .arg(format!("expiring:{}", round - 1))
            .query(&mut conn)
            .unwrap();
        if round % 2 == 0 {
            // Mid-stream, as a crash would.
            sync.kill();
            sync = start();
        }
    }
    // The killed run may have applied everything already: wait for the restart itself.
    wait_logged(
        &sync,
        "asking the source to continue",
        Duration::from_secs(60),
    );
    wait_logged(&sync, "capture: continuing", Duration::from_secs(60));
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
    assert!(
        log.contains("asking the source to continue"),
        "the last restart copied again instead of continuing: {log}"
    );
}

#[test]
fn a_source_with_other_databases_is_refused_for_a_cluster_unless_mapped() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    let mut conn = source.conn();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut conn).unwrap();
    let _: () = redis::cmd("SET")
        .arg("in-db-3")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let output = sync(&source, &cluster.primaries()[0].url(), &["--snapshot-only"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("db 3") && stderr.contains("db 0 only"),
        "{stderr}"
    );
    let copied = keyspace::of_cluster(&cluster);
    assert!(
        !copied.contains_key(&b"in-db-3"[..]),
        "a key of db 3 reached the cluster"
    );

    // Mapped into db 0, db 3 joins db 0's keys, snapshot and live changes alike.
    let _: () = redis::cmd("SET")
        .arg("in-db-0")
        .arg("w")
        .query(&mut source.conn())
        .unwrap();
    let mut cmd = live_sync(&source, &cluster.primaries()[0].url());
    cmd.args(["--map-db", "3=0"]);
    let sync = Proc::spawn(&mut cmd, "sync");
    let same = || {
        keyspace::copy_difference(
            &keyspace::of_server_dbs(&source, &[0, 3]),
            &keyspace::of_cluster(&cluster),
        )
    };
    wait_until(
        || same().is_none(),
        || format!("{:?}\n{}", same(), sync.log()),
    );
    for i in 0..50 {
        let _: () = redis::cmd("INCR")
            .arg(format!("live-in-db-3:{}", i % 5))
            .query(&mut conn)
            .unwrap();
    }
    // A transaction that selects db 3 inside it.
    let _: () = redis::pipe()
        .atomic()
        .cmd("SELECT")
        .arg(3)
        .cmd("SET")
        .arg("{t}:in-tx")
        .arg("x")
        .query(&mut source.conn())
        .unwrap();
    wait_until(
        || same().is_none(),
        || format!("{:?}\n{}", same(), sync.log()),
    );
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
}

/// Polls `done` for up to a minute, then panics with `why()`.
fn wait_until(done: impl Fn() -> bool, why: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "{}", why());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Commands across slots, each of a kind the cluster target takes by its effect, with the keys
/// of each in different slots (`a`, `b`, `c`… each hash to a slot of their own).
const ACROSS_SLOTS: &[&[&str]] = &[
    &["SET", "a", "1", "EX", "3600"],
    &["RENAME", "a", "b"],
    &["SET", "c", "2"],
    &["RENAMENX", "c", "d"],
    &["COPY", "b", "e"],
    &["SADD", "s1", "x", "y"],
    &["SMOVE", "s1", "s2", "x"],
    &["RPUSH", "l1", "1", "2", "3"],
    &["LMOVE", "l1", "l2", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "l1", "l2"],
    &["SORT", "l2", "DESC", "STORE", "sorted:l2"],
    &["SADD", "u1", "p", "q"],
    &["SUNIONSTORE", "u3", "u1", "s2", "nothing"],
    &["ZADD", "z1", "1", "m"],
    &["ZADD", "z2", "2", "m", "3", "n"],
    &["ZUNIONSTORE", "z3", "2", "z1", "z2", "WEIGHTS", "2", "1"],
    &["SETBIT", "b1", "3", "1"],
    &["SETBIT", "b2", "9", "1"],
    &["BITOP", "OR", "b3", "b1", "b2"],
    &["PFADD", "h1", "a", "b"],
    &["PFADD", "h2", "c"],
    &["PFMERGE", "h3", "h1", "h2"],
    &["MSET", "m1", "1", "m2", "2"],
    &["DEL", "m1", "u1", "nothing"],
];

/// Runs each command of `commands` on the source.
fn run_all(source: &RedisServer, commands: &[&[&str]]) {
    let mut conn = source.conn();
    for args in commands {
        let _: redis::Value = redis::cmd(args[0])
            .arg(&args[1..])
            .query(&mut conn)
            .unwrap_or_else(|err| panic!("{args:?}: {err}"));
    }
}

/// A `MULTI` block and a Lua script whose keys span slots: counters that count twice if a
/// step is applied twice.
fn block_and_script_across_slots(source: &RedisServer) {
    let mut conn = source.conn();
    let _: () = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("n1")
        .cmd("INCR")
        .arg("n2")
        .cmd("LPUSH")
        .arg("q1")
        .arg("x")
        .cmd("RENAME")
        .arg("q1")
        .arg("q2")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("EVAL")
        .arg("redis.call('INCR', KEYS[1]) redis.call('INCRBY', KEYS[2], 5)")
        .arg(2)
        .arg("n1")
        .arg("n3")
        .query(&mut conn)
        .unwrap();
}

#[test]
fn commands_across_slots_reach_a_cluster_by_their_effect() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    let target = cluster.primaries()[0].url();
    // Keys first: once they are on the cluster, the snapshot is applied and what follows is live.
    write_counters(&source, 0);
    let mut cmd = live_sync(&source, &target);
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    run_all(&source, ACROSS_SLOTS);
    block_and_script_across_slots(&source);
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    // What the comparison covered: the keys the moves wrote, and not the ones they emptied.
    let copied = keyspace::of_cluster(&cluster);
    for key in [
        "b",
        "d",
        "e",
        "s2",
        "l2",
        "sorted:l2",
        "u3",
        "z3",
        "b3",
        "h3",
        "q2",
        "n1",
        "n3",
    ] {
        assert!(
            copied.contains_key(key.as_bytes()),
            "{key} is not on the cluster"
        );
    }
    for key in ["a", "c", "q1", "m1"] {
        assert!(
            !copied.contains_key(key.as_bytes()),
            "{key} is still on the cluster"
        );
    }
    let held: Vec<Vec<u8>> = cluster
        .primaries()
        .iter()
        .flat_map(|node| -> Vec<Vec<u8>> {
            redis::cmd("KEYS")
                .arg("__slotstream:*")
                .query(&mut node.conn())
                .unwrap()
        })
        .filter(|key| !key.starts_with(b"__slotstream:checkpoint:"))
        .filter(|key| !key.starts_with(b"__slotstream:claim:"))
        .collect();
    assert!(
        held.iter()
            .all(|key| !key.starts_with(b"__slotstream:step:")
                && !key.starts_with(b"__slotstream:input:")),
        "marks or inputs left behind: {held:?}"
    );
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
    assert!(
        log.contains("sync done keys=") && !log.contains(" commands=0 "),
        "{log}"
    );

    // One whose effect is not known (its BY pattern reads keys it does not name) stops the
    // copy, naming it; `--on-unsupported=skip-with-warning` leaves it out and goes on.
    let mut sync = Proc::spawn(cmd.args(["--retry-for-secs", "0"]), "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    run_all(
        &source,
        &[
            &["RPUSH", "list", "2", "1"],
            &["SORT", "list", "BY", "weight_*", "STORE", "sorted"],
        ],
    );
    let status = sync.wait_exit(Duration::from_secs(30), "sync stops at the SORT");
    assert!(!status.success());
    let log = sync.log();
    assert!(
        log.contains("SORT across hash slots") && log.contains("by its effect"),
        "{log}"
    );
    let sync = Proc::spawn(cmd.args(["--on-unsupported", "skip-with-warning"]), "sync");
    run_all(&source, &[&["SET", "after", "1"]]);
    let mut without_sorted = keyspace::of_server(&source);
    without_sorted.remove(&b"sorted"[..]);
    wait_until(
        || keyspace::copy_difference(&without_sorted, &keyspace::of_cluster(&cluster)).is_none(),
        || sync.log(),
    );
    let log = sync.stop();
    assert!(
        log.contains("a command across hash slots left out"),
        "{log}"
    );
}

/// Killed between two steps of a command across slots (the kill point
/// `cross-slot-step-applied`), again and again: a restart applies the steps that did not
/// commit, and none twice.
#[test]
fn a_sync_killed_between_the_steps_of_a_command_across_slots_applies_each_once() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    let target = cluster.primaries()[0].url();
    let start = |kill_at: Option<usize>| {
        let mut cmd = live_sync(&source, &target);
        if let Some(n) = kill_at {
            cmd.env(
                "FAILPOINTS",
                format!("cross-slot-step-applied={n}*off->return"),
            );
        }
        Proc::spawn(&mut cmd, "sync")
    };
    write_counters(&source, 0);
    let sync = start(None);
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    // A live write, so the restarts below continue from the checkpoints.
    write_counters(&source, 1);
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    sync.stop();
    // Both are held back until the sync that ends at the kill point reads them.
    run_all(&source, ACROSS_SLOTS);
    block_and_script_across_slots(&source);
    for n in [0, 2, 4, 6] {
        let mut victim = start(Some(n));
        let status = victim.wait_exit(Duration::from_secs(60), "sync did not reach the kill point");
        let log = victim.log();
        assert!(
            !status.success() && log.contains("failpoint cross-slot-step-applied"),
            "{status}:\n{log}"
        );
    }
    let sync = start(None);
    wait_logged(
        &sync,
        "asking the source to continue",
        Duration::from_secs(60),
    );
    wait_logged(&sync, "capture: continuing", Duration::from_secs(60));
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
    assert!(
        log.contains("asking the source to continue"),
        "the last restart copied again instead of continuing: {log}"
    );
}

#[test]
fn a_cluster_with_keys_of_its_own_is_refused_unless_overwrite_keeps_them() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    write_counters(&source, 0);
    // On whichever primary serves its slot: every primary is looked at.
    cluster.set("own:key", "theirs");
    let target = cluster.primaries()[0].url();
    let refused = sync(&source, &target, &["--snapshot-only"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("keys of its own") && stderr.contains("own:key"),
        "{stderr}"
    );
    let copied = keyspace::of_cluster(&cluster);
    assert_eq!(copied.len(), 1, "written before the refusal: {copied:?}");

    let output = sync(
        &source,
        &target,
        &["--snapshot-only", "--on-existing", "overwrite"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let mut expected = keyspace::of_server(&source);
    let own = keyspace::of_cluster(&cluster)
        .remove(&b"own:key"[..])
        .expect("the target's own key is kept");
    expected.insert(b"own:key".to_vec(), own.clone());
    assert_eq!(own.value, keyspace::Value::String(b"theirs".to_vec()));
    let difference = keyspace::copy_difference(&expected, &keyspace::of_cluster(&cluster));
    assert_eq!(difference, None);
}

#[test]
fn live_changes_survive_a_resharding_of_1000_slots() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    write_counters(&source, 0);
    let mut cmd = live_sync(&source, &cluster.primaries()[2].url());
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    // Slots move key by key (MIGRATE) while the source keeps writing: the slot checkpoints
    // move with their slots, and a MOVED or ASK starts the apply side again from them.
    let writing = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut round = 1;
            let mut conn = source.conn();
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                write_counters(&source, round);
                // Keys over many slots, some of them among those that move.
                for i in 0..500 {
                    let _: i64 = redis::cmd("INCR")
                        .arg(format!("spread:{i}"))
                        .query(&mut conn)
                        .unwrap();
                }
                round += 1;
            }
        });
        cluster.reshard(0, 1, 1000);
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
    });
    wait_identical(&source, &cluster, Duration::from_secs(90), || sync.log());
    let log = sync.stop();
    // The test is only worth something if the apply side met a moved slot.
    assert!(
        log.contains("MOVED") || log.contains("ASK"),
        "no slot moved under the apply side: {log}"
    );
    assert!(log.contains("refused=0"), "{log}");
}

#[test]
fn live_changes_survive_a_failover_of_a_target_primary() {
    let mut cluster = Cluster::start(3, 1);
    let source = RedisServer::start();
    write_counters(&source, 0);
    let mut cmd = live_sync(&source, &cluster.replicas()[1].url());
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let writing = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut round = 1;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                write_counters(&source, round);
                round += 1;
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        // A replica takes over its primary's slots; the old primary becomes its replica.
        cluster.failover(0);
        std::thread::sleep(Duration::from_millis(300));
        writing.store(false, std::sync::atomic::Ordering::Relaxed);
    });
    wait_identical(&source, &cluster, Duration::from_secs(90), || sync.log());
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
}

/// Through Kafka (the suite's broker): `consume` into a cluster, SIGKILLed six times while the
/// source takes counters, a `MULTI` block and a Lua script across slots: every counter, list
/// and moved key ends as on the source, nothing applied twice.
#[test]
fn a_consumer_killed_again_and_again_applies_everything_into_a_cluster_once() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    write_counters(&source, 0);
    let mut link = common::follow::KafkaLink::new("cluster-consume");
    link.start_producer(&source);
    let target = cluster.primaries()[0].url();
    let start = |link: &common::follow::KafkaLink| {
        let mut cmd = slotstream();
        cmd.args(["consume", "--brokers", link.broker.bootstrap()])
            .args(["--topic", &link.topic, "--target", &target]);
        Proc::spawn(&mut cmd, "consume")
    };
    let mut consumer = start(&link);
    wait_identical(&source, &cluster, Duration::from_secs(60), || {
        consumer.log()
    });
    for round in 1..=6 {
        write_counters(&source, round);
        block_and_script_across_slots(&source);
        run_all(
            &source,
            &[&["SET", "moved:a", "1"], &["RENAME", "moved:a", "moved:b"]],
        );
        // Mid-stream, as a crash would.
        consumer.kill();
        consumer = start(&link);
    }
    wait_identical(&source, &cluster, Duration::from_secs(90), || {
        consumer.log()
    });
    consumer.stop();
    link.stop();
}

/// The mixed workload (every type, TTLs, `MULTI` blocks, scripts and functions, commands
/// across slots), db 0 only, into a cluster while `sync` is SIGKILLed five times. The workload
/// outruns the source's 1 MB backlog, so each restart takes a new epoch whose sweep runs on the
/// cluster's nodes; the snapshots make the live commands lag seconds behind, so the TTL
/// extension is raised above that lag (README, Limits). The cluster ends identical.
#[test]
#[ignore = "one HyperLogLog ended with more registers on the cluster than on the source in 1 of 4 \
            runs (under CI load); not explained yet: RELIABILITY.md, Not covered yet"]
fn the_mixed_workload_reaches_a_cluster_identical_across_kills_and_epochs() {
    use common::workload::{self, WorkloadConfig};
    const EXTENSION_SECS: i64 = 120;
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    write_counters(&source, 0);
    let target = cluster.primaries()[0].url();
    let start = || {
        let mut cmd = live_sync(&source, &target);
        cmd.args(["--ttl-extension-secs", &EXTENSION_SECS.to_string()]);
        Proc::spawn(&mut cmd, "sync")
    };
    let mut sync = start();
    let same = || {
        keyspace::difference(
            &keyspace::of_server(&source),
            &keyspace::of_cluster(&cluster),
            EXTENSION_SECS * 1000,
            2_000,
        )
    };
    wait_until(|| same().is_none(), || sync.log());
    let config = WorkloadConfig {
        dbs: vec![0],
        flushdb_once: false,
        swapdb_once: false,
        ..WorkloadConfig::quick()
    };
    let writer = workload::spawn(&source.url(), config);
    let mut epochs = 0;
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(800));
        sync.kill();
        epochs += usize::from(sync.log().contains("full resync, epoch"));
        sync = start();
    }
    let report = writer.wait();
    assert!(report.ops >= 20_000, "{report:?}");
    common::follow::expire_due_keys(&source);
    wait_until(
        || same().is_none(),
        || format!("{:?}\n{}", same(), sync.log()),
    );
    let log = sync.stop();
    assert!(
        epochs > 0 || log.contains("full resync, epoch"),
        "no new epoch: {log}"
    );
}

/// `verify` with a cluster on either side, given any of its nodes: a server against the cluster
/// it was copied into, and two clusters against each other; a changed value and a key on one
/// side only are found on each.
#[test]
fn verify_compares_a_server_with_a_cluster_and_two_clusters() {
    let (one, two) = (Cluster::start(3, 0), Cluster::start(3, 0));
    let source = source_with_data();
    for cluster in [&one, &two] {
        let output = sync(&source, &cluster.primaries()[0].url(), &["--snapshot-only"]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let total = keyspace::of_server(&source).len();
    let identical = format!("verify: identical ({total} keys");
    let run = common::run_verify(&source.url(), &one.primaries()[1].url(), &[]);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(run.stdout.contains(&identical), "{}", run.text());
    // Two copies: their expiry times carry the same extension.
    let clusters = |a: &Cluster, b: &Cluster| {
        common::run_verify(
            &a.primaries()[2].url(),
            &b.primaries()[0].url(),
            &["--ttl-extension-secs", "0"],
        )
    };
    let run = clusters(&one, &two);
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert!(run.stdout.contains(&identical), "{}", run.text());

    one.set("string:7", "changed");
    one.set("only:on:one", "x");
    for run in [
        common::run_verify(&source.url(), &one.primaries()[0].url(), &[]),
        clusters(&two, &one),
    ] {
        assert_eq!(run.code, Some(1), "{}", run.text());
        for found in [
            "\"string:7\": value differs",
            "\"only:on:one\": extra on target",
        ] {
            assert!(run.stdout.contains(found), "{found}: {}", run.text());
        }
    }
}

/// A primary frozen (SIGSTOP) past the cluster's node timeout under live `sync`: the cluster
/// goes down (`CLUSTERDOWN` on every node), which is waited out and retried; once the primary
/// is back, the cluster ends identical, nothing lost or applied twice.
#[test]
fn live_changes_wait_out_a_cluster_that_is_down() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start();
    write_counters(&source, 0);
    let mut cmd = live_sync(&source, &cluster.primaries()[0].url());
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let frozen = cluster.primaries()[2].pid().to_string();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &frozen])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {frozen}");
    };
    signal("STOP");
    let state = |node: &RedisServer| -> String {
        redis::cmd("CLUSTER")
            .arg("INFO")
            .query::<String>(&mut node.conn())
            .unwrap_or_default()
    };
    let other = cluster.primaries()[0];
    wait_until(
        || state(other).contains("cluster_state:fail"),
        || state(other),
    );
    for round in 1..=3 {
        write_counters(&source, round);
    }
    std::thread::sleep(Duration::from_secs(2));
    signal("CONT");
    // Every node, before this test reads the cluster (the nodes agree one after another).
    wait_until(
        || {
            cluster
                .primaries()
                .iter()
                .all(|node| state(node).contains("cluster_state:ok"))
        },
        || state(other),
    );
    write_counters(&source, 4);
    wait_identical(&source, &cluster, Duration::from_secs(90), || sync.log());
    let log = sync.stop();
    assert!(
        log.contains("CLUSTERDOWN"),
        "the outage was not seen: {log}"
    );
}

/// A new epoch's sweep on a cluster: `sync` stopped, the source's backlog overrun while keys
/// are deleted and written, `sync` started again: the new snapshot replaces the old one on every
/// primary and the keys it lacks are deleted there (one `UNLINK` per slot: a node refuses one
/// across slots), so the cluster ends identical.
#[test]
fn a_new_epoch_sweeps_a_cluster() {
    let cluster = Cluster::start(3, 0);
    let source = RedisServer::start_with_args(&["--repl-backlog-size", "16kb"]);
    write_data(&source);
    let target = cluster.primaries()[0].url();
    let mut cmd = live_sync(&source, &target);
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    sync.stop();
    let mut conn = source.conn();
    let doomed: Vec<String> = (0..2000).map(|i| format!("string:{i}")).collect();
    let _: i64 = redis::cmd("DEL").arg(&doomed).query(&mut conn).unwrap();
    // Past the 16 KB backlog: the restart cannot continue and takes a new epoch.
    write_counters(&source, 1);
    let sync = Proc::spawn(&mut cmd, "sync");
    wait_identical(&source, &cluster, Duration::from_secs(60), || sync.log());
    let log = sync.stop();
    assert!(log.contains("full resync, epoch 2"), "no new epoch: {log}");
    assert!(
        log.contains("new epoch: deleted the keys its snapshot did not contain"),
        "no sweep in the log: {log}"
    );
}
