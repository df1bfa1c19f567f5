//! A Redis Cluster as the source of `sync`, and of `produce` and `consume` through one topic:
//! found from any node, one capture per shard, into a standalone server and into another
//! cluster, live changes followed across kills and a failover of a source shard; refusals of
//! what cannot be copied whole.

mod common;

use common::keyspace;
use common::{slotstream, RedisServer, TTL_EXTENSION_MS};
use slotstream_schemas::slot::key_slot;
use slotstream_test_support::{Cluster, Proc};
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

/// Writes to a cluster, each command to the primary that owns its key (the map read once).
struct Writer {
    /// Per slot, the index of its owner in `conns`.
    owner: Vec<usize>,
    conns: Vec<redis::Connection>,
    /// `host:port` of each of `conns`.
    addrs: Vec<String>,
}

impl Writer {
    fn new(cluster: &Cluster) -> Writer {
        let primaries = cluster.primaries();
        let mut ports: Vec<u16> = Vec::new();
        let mut conns = Vec::new();
        let mut owner = vec![usize::MAX; 16384];
        let ranges: Vec<(i64, i64, i64)> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query::<Vec<redis::Value>>(&mut primaries[0].conn())
            .unwrap()
            .into_iter()
            .map(|range| {
                let redis::Value::Array(fields) = range else {
                    panic!("CLUSTER SLOTS: {range:?}")
                };
                let int = |v: &redis::Value| match v {
                    redis::Value::Int(n) => *n,
                    other => panic!("CLUSTER SLOTS: {other:?}"),
                };
                let redis::Value::Array(node) = &fields[2] else {
                    panic!("CLUSTER SLOTS: {fields:?}")
                };
                (int(&fields[0]), int(&fields[1]), int(&node[1]))
            })
            .collect();
        for (first, last, port) in ranges {
            let port = port as u16;
            let index = match ports.iter().position(|&p| p == port) {
                Some(index) => index,
                None => {
                    let node = cluster
                        .nodes()
                        .iter()
                        .find(|n| n.port() == port)
                        .expect("the owner is a node of the cluster");
                    ports.push(port);
                    conns.push(node.conn());
                    ports.len() - 1
                }
            };
            for slot in first..=last {
                owner[slot as usize] = index;
            }
        }
        let addrs = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        Writer {
            owner,
            conns,
            addrs,
        }
    }

    /// Runs `cmd` on the owner of `key`'s slot, following `MOVED` (the map is updated) and
    /// `ASK` (`ASKING` first, on the node it names) while slots move; `TRYAGAIN` waits.
    fn run(&mut self, key: &str, cmd: &redis::Cmd) {
        let slot = usize::from(key_slot(key.as_bytes()));
        for _ in 0..500 {
            let err = match cmd.query::<redis::Value>(&mut self.conns[self.owner[slot]]) {
                Ok(_) => return,
                Err(err) => err,
            };
            match (err.code(), err.redirect_node()) {
                (Some("MOVED"), Some((addr, _))) => self.owner[slot] = self.conn_to(addr),
                (Some("ASK"), Some((addr, _))) => {
                    let index = self.conn_to(addr);
                    let conn = &mut self.conns[index];
                    let asked = redis::pipe()
                        .cmd("ASKING")
                        .ignore()
                        .add_command(cmd.clone())
                        .query::<redis::Value>(conn);
                    match asked {
                        Ok(_) => return,
                        Err(err) if err.code() == Some("TRYAGAIN") => {}
                        Err(err) => panic!("{err}"),
                    }
                }
                (Some("TRYAGAIN"), _) => {}
                _ => panic!("{err}"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("{key}: still redirected after 500 tries");
    }

    /// The index of a connection to `addr` (`host:port`), made when there is none.
    fn conn_to(&mut self, addr: &str) -> usize {
        if let Some(index) = self.addrs.iter().position(|a| a == addr) {
            return index;
        }
        let client = redis::Client::open(format!("redis://{addr}")).unwrap();
        self.conns.push(client.get_connection().unwrap());
        self.addrs.push(addr.to_string());
        self.conns.len() - 1
    }

    /// Every type, TTLs, hash tags, over every shard.
    fn data(&mut self, keys: usize) {
        for i in 0..keys {
            let key = format!("string:{i}");
            self.run(&key, redis::cmd("SET").arg(&key).arg(format!("value-{i}")));
            let key = format!("ttl:{i}");
            self.run(
                &key,
                redis::cmd("SET").arg(&key).arg("v").arg("EX").arg(3600),
            );
            let key = format!("list:{i}");
            self.run(&key, redis::cmd("RPUSH").arg(&key).arg(&["a", "b", "c"]));
            let key = format!("hash:{i}");
            self.run(
                &key,
                redis::cmd("HSET").arg(&key).arg(&[("f", "v"), ("g", "w")]),
            );
            let key = format!("zset:{i}");
            self.run(
                &key,
                redis::cmd("ZADD").arg(&key).arg(&[(1.5, "x"), (2.0, "y")]),
            );
            let key = format!("set:{i}");
            self.run(&key, redis::cmd("SADD").arg(&key).arg(&[1, 2, 3]));
            let key = format!("stream:{i}");
            self.run(
                &key,
                redis::cmd("XADD").arg(&key).arg("*").arg(&[("k", "v")]),
            );
            let key = format!("{{user:{i}}}:name");
            self.run(&key, redis::cmd("SET").arg(&key).arg("n"));
        }
    }

    /// One round of live changes: counters, lists, deletes, expiries, one-slot transactions.
    fn round(&mut self, round: usize, keys: usize) {
        for i in 0..keys {
            let key = format!("counter:{i}");
            self.run(&key, redis::cmd("INCR").arg(&key));
            let key = format!("list:{i}");
            self.run(&key, redis::cmd("LPUSH").arg(&key).arg(round));
            let key = format!("string:{i}");
            if i % 7 == round % 7 {
                self.run(&key, redis::cmd("DEL").arg(&key));
            } else {
                self.run(&key, redis::cmd("APPEND").arg(&key).arg("+"));
            }
            let key = format!("hash:{i}");
            self.run(&key, redis::cmd("HINCRBY").arg(&key).arg("n").arg(1));
            let key = format!("ttl:{i}");
            self.run(&key, redis::cmd("EXPIRE").arg(&key).arg(7200 + round));
        }
        // One slot's transaction; a moving slot refuses it whole (nothing applied): sent again
        // once its owner answers for it.
        let key = format!("{{tx:{round}}}:a");
        let slot = usize::from(key_slot(key.as_bytes()));
        let mut last = String::new();
        for _ in 0..500 {
            let done = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("RPUSH")
                .arg(format!("{{tx:{round}}}:b"))
                .arg(round)
                .query::<()>(&mut self.conns[self.owner[slot]]);
            match done {
                Ok(()) => return,
                Err(err) => match redirect(&err) {
                    Some(("MOVED", addr)) => self.owner[slot] = self.conn_to(&addr),
                    // The slot is moving and the key has left: the transaction goes to the
                    // importing node, asked first (the flag lasts through `MULTI`).
                    Some((_, addr)) => {
                        let index = self.conn_to(&addr);
                        let asked = redis::pipe()
                            .cmd("ASKING")
                            .ignore()
                            .cmd("MULTI")
                            .ignore()
                            .cmd("INCR")
                            .arg(&key)
                            .ignore()
                            .cmd("RPUSH")
                            .arg(format!("{{tx:{round}}}:b"))
                            .arg(round)
                            .ignore()
                            .cmd("EXEC")
                            .query::<redis::Value>(&mut self.conns[index]);
                        if asked.is_ok() {
                            return;
                        }
                    }
                    None => {
                        last = err.to_string();
                        std::thread::sleep(Duration::from_millis(20))
                    }
                },
            }
        }
        panic!("{key}: the transaction was refused 500 times, last: {last}");
    }
}

/// A redirection in `err`, as `("MOVED" | "ASK", host:port)`: from a command's error, or from
/// the first refused command of an aborted transaction.
fn redirect(err: &redis::RedisError) -> Option<(&'static str, String)> {
    if let (Some(code @ ("MOVED" | "ASK")), Some((addr, _))) = (err.code(), err.redirect_node()) {
        let kind = if code == "MOVED" { "MOVED" } else { "ASK" };
        return Some((kind, addr.to_string()));
    }
    let text = err.to_string();
    ["Moved: ", "Ask: "].iter().find_map(|mark| {
        let rest = &text[text.find(mark)? + mark.len()..];
        let addr = rest.split_whitespace().nth(1)?;
        let addr = addr.trim_end_matches([')', ',']);
        Some((
            if *mark == "Moved: " { "MOVED" } else { "ASK" },
            addr.to_string(),
        ))
    })
}

fn sync_cmd(source: &str, target: &str) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", source, "--target", target]);
    cmd
}

fn snapshot_only(source: &str, target: &str) -> Output {
    sync_cmd(source, target)
        .args(["--snapshot-only", "--retry-for-secs", "0"])
        .output()
        .expect("run slotstream")
}

type Keyspace = BTreeMap<Vec<u8>, keyspace::Entry>;

/// Polls until `source()` and `target()` agree (the target's expiries the extension later), for
/// up to two minutes; then panics with the difference and `log()`.
fn wait_same(
    source: impl Fn() -> Keyspace,
    target: impl Fn() -> Keyspace,
    log: impl Fn() -> String,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let Some(why) = keyspace::difference(&source(), &target(), TTL_EXTENSION_MS, 2_000) else {
            return;
        };
        assert!(
            std::time::Instant::now() < deadline,
            "the copy differs: {why}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// [`wait_same`] for a cluster copied into one server.
fn wait_copied(source: &Cluster, target: &RedisServer, log: impl Fn() -> String) {
    wait_same(
        || keyspace::of_cluster(source),
        || keyspace::of_server(target),
        log,
    )
}

/// The one primary of `source` a failover promoted (it keeps the old history's id as
/// `master_replid2`), after checking it served no full sync.
fn promoted_without_a_full_sync(source: &Cluster, log: impl Fn() -> String) -> &RedisServer {
    let promoted: Vec<&RedisServer> = source
        .primaries()
        .into_iter()
        .filter(|p| p.info_field("replication", "master_replid2") != "0".repeat(40))
        .collect();
    assert_eq!(promoted.len(), 1, "one primary was promoted");
    assert_eq!(
        promoted[0].info_field("stats", "sync_full"),
        "0",
        "the promoted primary served a full sync: {}",
        log()
    );
    promoted[0]
}

/// Waits (up to `secs` seconds) until `proc`'s log satisfies `done`; then panics with the log.
fn wait_for_log(proc: &Proc, secs: u64, done: impl Fn(&str) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let log = proc.log();
        if done(&log) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn succeeded(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "sync failed:\n{stderr}");
    stderr
}

/// Given a replica's URL, `sync` finds every shard and copies the whole cluster into one
/// server: the same keys, values and expiries as the three primaries hold together.
#[test]
fn a_cluster_snapshot_arrives_whole_in_a_server_given_any_node() {
    let source = Cluster::start(3, 1);
    Writer::new(&source).data(300);
    let target = RedisServer::start();
    let any_node = source.replicas()[1].url();
    let log = succeeded(&snapshot_only(&any_node, &target.url()));
    assert!(log.contains("one capture per shard"), "{log}");
    let expected = keyspace::of_cluster(&source);
    assert_eq!(expected.len(), 300 * 8);
    let copied = keyspace::of_server(&target);
    assert_eq!(
        keyspace::difference(&expected, &copied, TTL_EXTENSION_MS, 2_000),
        None
    );
}

/// A cluster into another cluster: every shard's keys land on the target's owners.
#[test]
fn a_cluster_snapshot_and_live_changes_reach_another_cluster() {
    let source = Cluster::start(3, 0);
    let target = Cluster::start(3, 0);
    for primary in source.primaries() {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("repl-backlog-size")
            .arg("2mb")
            .query(&mut primary.conn())
            .unwrap();
    }
    let mut writer = Writer::new(&source);
    writer.data(200);
    let sync = Proc::spawn(
        &mut sync_cmd(&source.primaries()[0].url(), &target.primaries()[1].url()),
        "sync",
    );
    for round in 0..3 {
        writer.round(round, 100);
    }
    wait_same(
        || keyspace::of_cluster(&source),
        || keyspace::of_cluster(&target),
        || sync.log(),
    );
    // Each shard's headroom, told once its write rate is sampled.
    wait_for_log(&sync, 30, |log| {
        log.matches("its backlog (2048 KB)").count() >= 3
    });
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
    for slots in ["0-5460", "5461-10922", "10923-16383"] {
        assert!(log.contains(&format!("(slots {slots}): writes")), "{log}");
    }
}

/// Live changes on every shard, `sync` SIGKILLed five times among them: each restart continues
/// every shard from its own checkpoints, and the copy ends identical (counters and lists show
/// any command applied twice or lost).
#[test]
fn live_changes_of_every_shard_arrive_once_across_kills() {
    let source = Cluster::start(3, 1);
    let mut writer = Writer::new(&source);
    writer.data(100);
    let target = RedisServer::start();
    let start = || {
        Proc::spawn(
            &mut sync_cmd(&source.primaries()[2].url(), &target.url()),
            "sync",
        )
    };
    let mut sync = start();
    wait_copied(&source, &target, || sync.log());
    for round in 0..10 {
        writer.round(round, 100);
        if round % 2 == 1 {
            sync.kill();
            sync = start();
        }
    }
    wait_copied(&source, &target, || sync.log());
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
    assert!(
        log.contains("asking the source to continue"),
        "the last restart copied again instead of continuing: {log}"
    );
}

/// A replica of one shard takes over (`CLUSTER FAILOVER`) while `sync` follows: the link to the
/// old primary drops, and the shard's capture continues from the new primary with `PSYNC`
/// (the new primary serves no full sync), the copy identical. Then the old primary takes its
/// place back: the capture continues again, from the replication id the first failover gave.
#[test]
fn a_failover_of_a_source_shard_is_followed_without_a_full_sync() {
    let mut source = Cluster::start(3, 1);
    let mut writer = Writer::new(&source);
    writer.data(100);
    let target = RedisServer::start();
    let sync = Proc::spawn(
        &mut sync_cmd(&source.primaries()[0].url(), &target.url()),
        "sync",
    );
    writer.round(0, 100);
    let same = |source: &Cluster, sync: &Proc| wait_copied(source, &target, || sync.log());
    same(&source, &sync);
    source.failover(0);
    let mut writer = Writer::new(&source);
    for round in 1..4 {
        writer.round(round, 100);
    }
    same(&source, &sync);
    let promoted = promoted_without_a_full_sync(&source, || sync.log());
    // Back: the old primary, now the promoted one's replica, takes over again.
    let port = promoted.port().to_string();
    let demoted = source
        .replicas()
        .iter()
        .position(|r| r.info_field("replication", "master_port") == port)
        .expect("the old primary replicates the promoted one");
    source.failover(demoted);
    let mut writer = Writer::new(&source);
    for round in 4..6 {
        writer.round(round, 100);
    }
    same(&source, &sync);
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
    assert_eq!(log.matches("a failover promoted it").count(), 2, "{log}");
    assert!(!log.contains("could not continue"), "{log}");
}

/// A `FLUSHALL` on one shard, then a `FLUSHDB` on another, flush those shards' keys only: on
/// the target they are applied by their effect (the shard's slots emptied), not as commands
/// that would reach every shard's keys; live changes go on after them.
#[test]
fn a_flush_of_one_source_shard_deletes_its_keys_only() {
    let source = Cluster::start(3, 0);
    let mut writer = Writer::new(&source);
    writer.data(50);
    let target = RedisServer::start();
    let sync = Proc::spawn(
        &mut sync_cmd(&source.primaries()[0].url(), &target.url()),
        "sync",
    );
    wait_copied(&source, &target, || sync.log());
    let keys =
        |server: &RedisServer| -> u64 { redis::cmd("DBSIZE").query(&mut server.conn()).unwrap() };
    let (first, second) = (keys(source.primaries()[1]), keys(source.primaries()[2]));
    assert!(first > 0 && second > 0);
    let _: () = redis::cmd("FLUSHALL")
        .query(&mut source.primaries()[1].conn())
        .unwrap();
    let _: () = redis::cmd("FLUSHDB")
        .query(&mut source.primaries()[2].conn())
        .unwrap();
    writer.round(0, 50);
    wait_copied(&source, &target, || sync.log());
    let log = sync.stop();
    assert_eq!(
        log.matches("a shard of the source flushed its keys")
            .count(),
        2,
        "{log}"
    );
    assert!(log.contains("refused=0"), "{log}");
}

/// A cluster that cannot serve every slot (here slots 100-199 left without a primary, full
/// coverage not required) is refused before anything is written, naming the slots.
#[test]
fn a_cluster_with_slots_no_primary_serves_is_refused_before_any_write() {
    let source = Cluster::start(3, 0);
    Writer::new(&source).data(20);
    for node in source.nodes() {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-require-full-coverage")
            .arg("no")
            .query(&mut node.conn())
            .unwrap();
    }
    let tag = slotstream_schemas::slot::slot_tag(100);
    let owner = source.primary_for(format!("{{{tag}}}").as_bytes());
    let _: () = redis::cmd("CLUSTER")
        .arg("DELSLOTS")
        .arg((100..200).collect::<Vec<u16>>())
        .query(&mut owner.conn())
        .unwrap();
    let target = RedisServer::start();
    let output = snapshot_only(&owner.url(), &target.url());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it should fail:\n{stderr}");
    assert!(
        stderr.contains("slots 100-199 are served by no primary"),
        "{stderr}"
    );
    let written: u64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
    assert_eq!(written, 0, "the target was written to");
}

/// One shard cannot continue after `sync` was away (its backlog, cut to 16 KB, overran) and
/// takes a new epoch; its sweep deletes the keys its new snapshot lacks within its own slots
/// only: the other shards' keys in the same partitions stay, and those shards continue.
#[test]
fn a_new_epoch_of_one_shard_sweeps_its_own_slots_only() {
    use slotstream_schemas::slot::slot_tag;
    let source = Cluster::start(3, 0);
    let mut writer = Writer::new(&source);
    writer.data(200);
    let target = RedisServer::start();
    let start = || {
        Proc::spawn(
            &mut sync_cmd(&source.primaries()[1].url(), &target.url()),
            "sync",
        )
    };
    let mut sync = start();
    wait_copied(&source, &target, || sync.log());
    sync.kill();
    // The shard of slot 0: a small backlog, some of its keys deleted, then far more than the
    // backlog written.
    let shard = source.primary_for(format!("{{{}}}", slot_tag(0)).as_bytes());
    let mut conn = shard.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("repl-backlog-size")
        .arg("16kb")
        .query(&mut conn)
        .unwrap();
    let mut deleted = 0;
    for i in 0..200 {
        let key = format!("string:{i}");
        if std::ptr::eq(source.primary_for(key.as_bytes()), shard) {
            let _: () = redis::cmd("DEL").arg(&key).query(&mut conn).unwrap();
            deleted += 1;
        }
    }
    assert!(deleted > 0);
    for slot in 0..2000 {
        let key = format!("{{{}}}:fresh", slot_tag(slot));
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg("x".repeat(100))
            .query(&mut conn)
            .unwrap();
    }
    let sync = start();
    wait_copied(&source, &target, || sync.log());
    let log = sync.stop();
    assert!(log.contains("full resync, epoch 2"), "{log}");
    assert!(log.contains("asking the source to continue"), "{log}");
    assert!(log.contains("new epoch: deleted the keys"), "{log}");
}

/// Snapshot and live changes from a cluster of `name` (with a replica each) into a server of
/// the same version, `sync` killed once between the rounds.
fn snapshot_and_live_from_a_cluster_of(name: &str) {
    let Some(binary) = common::versions::binary(name) else {
        return;
    };
    let source = Cluster::start_binary(&binary, 3, 1);
    let mut writer = Writer::new(&source);
    writer.data(100);
    let target = RedisServer::start_binary(&binary, &[]);
    let start = || {
        Proc::spawn(
            &mut sync_cmd(&source.replicas()[0].url(), &target.url()),
            "sync",
        )
    };
    let mut sync = start();
    for round in 0..4 {
        writer.round(round, 50);
        if round == 1 {
            sync.kill();
            sync = start();
        }
    }
    wait_copied(&source, &target, || sync.log());
    let log = sync.stop();
    assert!(log.contains("refused=0"), "{log}");
}

#[test]
fn a_redis_6_2_cluster_is_a_source() {
    snapshot_and_live_from_a_cluster_of("redis-6.2.14");
}

#[test]
fn a_valkey_9_cluster_is_a_source() {
    snapshot_and_live_from_a_cluster_of("valkey-9.1.2");
}

/// `--source-prefer replica`: each shard is captured from its replica; the primaries stream to
/// their own replica only.
#[test]
fn with_source_prefer_replica_the_replicas_are_captured() {
    let source = Cluster::start(3, 1);
    let mut writer = Writer::new(&source);
    writer.data(100);
    // Each replica done with its initial sync (else the shard is captured from its primary).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let online = |primary: &&RedisServer| {
        redis::cmd("INFO")
            .arg("replication")
            .query::<String>(&mut primary.conn())
            .unwrap()
            .contains("state=online")
    };
    while !source.primaries().iter().all(online) {
        assert!(
            std::time::Instant::now() < deadline,
            "the replicas never came online"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let target = RedisServer::start();
    let sync = Proc::spawn(
        sync_cmd(&source.primaries()[0].url(), &target.url()).args(["--source-prefer", "replica"]),
        "sync",
    );
    writer.round(0, 50);
    wait_copied(&source, &target, || sync.log());
    for node in source.nodes() {
        // A replica's one replica is slotstream; a primary's is its cluster replica.
        assert_eq!(
            node.info_field("replication", "connected_slaves"),
            "1",
            "{}",
            sync.log()
        );
    }
    let log = sync.stop();
    for replica in source.replicas() {
        let captured = format!("full resync source=127.0.0.1:{}", replica.port());
        assert!(log.contains(&captured), "{log}");
    }
    assert!(log.contains("refused=0"), "{log}");
}

/// A resharding of 1,000 slots (shard 0 to shard 1) while live changes go on: `sync` stops its
/// captures when the slots start moving, waits for the resharding to end and takes a new
/// snapshot of every shard, whose sweeps remove what moved away; the copy ends identical, and
/// live changes after it are followed again.
#[test]
fn a_resharding_of_1000_slots_under_live_writes_is_followed() {
    let source = Cluster::start(3, 0);
    Writer::new(&source).data(200);
    let target = RedisServer::start();
    let node = source.primaries()[2].url();
    let sync = Proc::spawn(&mut sync_cmd(&node, &target.url()), "sync");
    wait_copied(&source, &target, || sync.log());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writes = scope.spawn(|| {
            let mut writer = Writer::new(&source);
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                writer.round(round, 50);
                round += 1;
            }
            round
        });
        source.reshard(0, 1, 1000);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let rounds = writes.join().unwrap();
        assert!(rounds > 1, "the writes did not overlap the resharding");
    });
    wait_copied(&source, &target, || sync.log());
    let mut writer = Writer::new(&source);
    writer.round(1000, 100);
    wait_copied(&source, &target, || sync.log());
    let log = sync.stop();
    assert!(log.contains("are moving between its shards"), "{log}");
    assert!(log.contains("a new snapshot of every shard"), "{log}");
    common::follow::assert_nothing_refused(&log);
}

/// A cluster source through Kafka: `produce` (one process capturing every shard, or one per
/// shard), one topic, `consume`.
#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use common::broker::{produce_cmd_from, Broker};
    use common::follow::{assert_nothing_refused, broker_with_topic, PARTITIONS};

    /// `produce` of the cluster `node` belongs to, the shards `shards` only (every one when
    /// empty), under one source id.
    fn produce(node: &str, broker: &Broker, topic: &str, shards: &[&str]) -> Command {
        let mut cmd = produce_cmd_from(node, broker, topic, PARTITIONS);
        cmd.args(["--source-id", "shop"]);
        if !shards.is_empty() {
            cmd.arg("--shard").arg(shards.join(","));
        }
        cmd
    }

    /// Waits (up to 30 s) for the consumer's first live progress line, which counts refusals.
    fn live_line(consumer: &Proc) {
        wait_for_log(consumer, 30, |log| log.contains("refused="));
    }

    fn consume(target: &str, broker: &Broker, topic: &str) -> Command {
        let mut cmd = slotstream();
        cmd.args(["consume", "--brokers", broker.bootstrap(), "--topic", topic])
            .args(["--target", target]);
        cmd
    }

    /// One producer for the whole cluster, one consumer into a server: the snapshot and live
    /// changes of every shard arrive through one topic; a `CLUSTER FAILOVER` of one shard in
    /// the middle is followed with `PSYNC` (the promoted primary serves no full sync). Then
    /// `replay` rebuilds the same copy from the topic in a fresh server.
    #[test]
    fn kafka_a_cluster_source_reaches_a_server_and_a_failover_is_followed() {
        let mut source = Cluster::start(3, 1);
        let mut writer = Writer::new(&source);
        writer.data(100);
        let target = RedisServer::start();
        let topic = common::broker::unique_topic("cluster-source");
        let broker = broker_with_topic(&topic);
        let producer = Proc::spawn(
            &mut produce(&source.replicas()[0].url(), &broker, &topic, &[]),
            "produce",
        );
        let consumer = Proc::spawn(&mut consume(&target.url(), &broker, &topic), "consume");
        let logs = || format!("{}\n---\n{}", producer.log(), consumer.log());
        writer.round(0, 100);
        wait_copied(&source, &target, logs);
        source.failover(0);
        let mut writer = Writer::new(&source);
        for round in 1..4 {
            writer.round(round, 100);
        }
        wait_copied(&source, &target, logs);
        promoted_without_a_full_sync(&source, logs);
        live_line(&consumer);
        let (produced, consumed) = (producer.stop(), consumer.stop());
        assert_eq!(
            produced.matches("a failover promoted it").count(),
            1,
            "{produced}"
        );
        assert!(!produced.contains("could not continue"), "{produced}");
        for shard in ["slots-0", "slots-5461", "slots-10923"] {
            assert!(
                consumed.contains(&format!("source=shop/{shard}")),
                "{consumed}"
            );
        }
        assert_nothing_refused(&consumed);
        // Lag is told per shard and partition: every shard's heartbeats reach every partition.
        for shard in ["slots-0", "slots-5461", "slots-10923"] {
            let key = format!("{shard}/{}:", PARTITIONS - 1);
            assert!(consumed.contains(&key), "no lag for {key}\n{consumed}");
        }
        // The topic rebuilds the same copy in a fresh server.
        let rebuilt = RedisServer::start();
        let output = slotstream()
            .args(["replay", "--brokers", broker.bootstrap(), "--topic", &topic])
            .args(["--target", &rebuilt.url()])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{log}");
        assert_eq!(
            keyspace::difference(
                &keyspace::of_cluster(&source),
                &keyspace::of_server(&rebuilt),
                TTL_EXTENSION_MS,
                2_000
            ),
            None,
            "{log}"
        );
    }

    /// One producer per shard, each told its shard (by label), into one topic and on to a
    /// cluster target, the third started after the consumer (which then applies it too); that
    /// one SIGKILLed five times among live changes: each restart continues its shard from its
    /// own resume point, and the copy ends identical (counters and lists show a command lost or
    /// applied twice).
    #[test]
    fn kafka_one_producer_per_shard_and_one_killed_five_times() {
        let source = Cluster::start(3, 0);
        let target = Cluster::start(3, 0);
        let mut writer = Writer::new(&source);
        writer.data(100);
        let topic = common::broker::unique_topic("cluster-shards");
        let broker = broker_with_topic(&topic);
        let node = source.primaries()[0].url();
        // Started, and in the live part: its snapshot in the topic, or its shard continued.
        let start = |shard: &str| {
            let proc = Proc::spawn(&mut produce(&node, &broker, &topic, &[shard]), "produce");
            wait_for_log(&proc, 60, |log| {
                ["the snapshot is in the topic", "continuing source="]
                    .iter()
                    .any(|line| log.contains(line))
            });
            proc
        };
        let steady = [start("slots-0"), start("slots-10923")];
        let consumer = Proc::spawn(
            &mut consume(&target.primaries()[2].url(), &broker, &topic),
            "consume",
        );
        // The third shard's producer starts once the consumer applies the other two: its
        // records then stop a run, and the runs start again with it.
        wait_for_log(&consumer, 60, |log| {
            log.matches("applying shard").count() >= 2
        });
        let mut killed = start("slots-5461");
        for round in 0..10 {
            writer.round(round, 100);
            if round % 2 == 1 {
                killed.kill();
                killed = start("slots-5461");
            }
        }
        wait_same(
            || keyspace::of_cluster(&source),
            || keyspace::of_cluster(&target),
            || format!("{}\n---\n{}", killed.log(), consumer.log()),
        );
        live_line(&consumer);
        let last = killed.stop();
        assert!(
            last.contains("continuing source="),
            "the last restart took a new snapshot instead of continuing: {last}"
        );
        for producer in steady {
            let log = producer.stop();
            assert!(!log.contains("could not continue"), "{log}");
        }
        let consumed = consumer.stop();
        assert!(
            consumed.contains("a shard of the source appeared"),
            "{consumed}"
        );
        assert_nothing_refused(&consumed);
    }

    /// A resharding under `produce` stops it, naming the way on: the shards' producers may run
    /// apart, so nothing orders a new snapshot after the moved keys' last writes.
    #[test]
    fn kafka_a_resharding_stops_produce_naming_the_way_on() {
        let source = Cluster::start(3, 0);
        Writer::new(&source).data(100);
        let topic = common::broker::unique_topic("cluster-reshard");
        let broker = broker_with_topic(&topic);
        let mut producer = Proc::spawn(
            &mut produce(&source.primaries()[0].url(), &broker, &topic, &[]),
            "produce",
        );
        wait_for_log(&producer, 60, |log| {
            log.matches("the snapshot is in the topic").count() >= 3
        });
        source.reshard(0, 1, 100);
        let status = producer.wait_exit(Duration::from_secs(60), "produce did not stop");
        assert!(!status.success(), "{}", producer.log());
        let log = producer.log();
        assert!(
            log.contains("produce does not follow slot migrations yet"),
            "{log}"
        );
    }

    /// A shard named by no label or node of the cluster is refused, listing the shards,
    /// before anything reaches the topic.
    #[test]
    fn kafka_an_unknown_shard_is_refused_naming_the_shards() {
        let cluster = Cluster::start(3, 0);
        let topic = common::broker::unique_topic("cluster-unknown");
        let broker = broker_with_topic(&topic);
        let output = produce(&cluster.primaries()[0].url(), &broker, &topic, &["slots-7"])
            .args(["--retry-for-secs", "0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "it should fail:\n{stderr}");
        assert!(stderr.contains("--shard slots-7"), "{stderr}");
        assert!(stderr.contains("slots-5461 (slots 5461-10922"), "{stderr}");
        assert!(
            common::broker::read_all(broker.bootstrap(), &topic).is_empty(),
            "records reached the topic"
        );
    }
}
