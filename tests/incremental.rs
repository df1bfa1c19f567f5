//! Live changes end to end: a mixed write workload on the source while slotstream follows it,
//! through the in-process `sync` and through Kafka, with and without kills; the destination must
//! end identical, with no lost and no doubled `INCR` or `LPUSH`.

mod common;

use common::broker::{unique_topic, Broker};
use common::workload::{self, WorkloadConfig};
use common::{assert_same_contents, dataset, slotstream, verify_identical, RedisServer};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PARTITIONS: u32 = 8;

/// The source's replication offset.
fn source_offset(source: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut source.conn())
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("master_repl_offset")
}

/// The lowest replication offset the target's checkpoints of `log` cover.
fn applied_offset(target: &RedisServer, log: &str, partitions: u32) -> Option<u64> {
    let mut conn = target.conn();
    let _: () = redis::cmd("SELECT").arg(0).query(&mut conn).unwrap();
    (0..partitions)
        .map(|p| {
            redis::cmd("HGET")
                .arg(format!("__slotstream:checkpoint:{log}:{p}"))
                .arg("offset")
                .query::<Option<u64>>(&mut conn)
                .unwrap()
        })
        .collect::<Option<Vec<u64>>>()
        .and_then(|offsets| offsets.into_iter().min())
}

/// Waits until every partition's checkpoint has reached the source's current offset (the
/// heartbeats move idle partitions along), or panics after a generous liveness bound.
fn wait_caught_up(
    source: &RedisServer,
    target: &RedisServer,
    log: &str,
    children: &mut [&mut Child],
) {
    let wanted = source_offset(source);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if applied_offset(target, log, PARTITIONS).is_some_and(|o| o >= wanted) {
            return;
        }
        for child in children.iter_mut() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "a slotstream process exited early"
            );
        }
        assert!(
            Instant::now() < deadline,
            "the target did not catch up with offset {wanted}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sync_cmd(source: &RedisServer, target: &RedisServer) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", &source.url(), "--target", &target.url()])
        .args(["--partitions", &PARTITIONS.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn produce_cmd(source: &RedisServer, broker: &Broker, topic: &str) -> Command {
    let mut cmd = slotstream();
    cmd.args([
        "produce",
        "--source",
        &source.url(),
        "--brokers",
        broker.bootstrap(),
    ])
    .args(["--topic", topic, "--partitions", &PARTITIONS.to_string()])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    cmd
}

fn consume_cmd(target: &RedisServer, broker: &Broker, topic: &str) -> Command {
    let mut cmd = slotstream();
    cmd.args(["consume", "--brokers", broker.bootstrap(), "--topic", topic])
        .args(["--target", &target.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn sync_log(source: &RedisServer) -> String {
    format!("sync:127.0.0.1:{}", source.port())
}

#[test]
fn incremental_sync_follows_a_mixed_workload() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut sync = sync_cmd(&source, &target).spawn().unwrap();
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::acceptance());
    assert!(report.ops >= 200_000, "{report:?}");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
    stop(sync);
}

#[test]
fn incremental_kafka_follows_a_mixed_workload() {
    let topic = unique_topic("incremental");
    let broker = Broker::start(&[(&topic, PARTITIONS)]);
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut producer = produce_cmd(&source, &broker, &topic).spawn().unwrap();
    let mut consumer = consume_cmd(&target, &broker, &topic).spawn().unwrap();
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::acceptance());
    assert!(report.ops >= 200_000, "{report:?}");
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
    stop(consumer);
    stop(producer);
}

/// A small deterministic generator for kill moments.
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

#[test]
fn incremental_kafka_survives_kills_of_both_sides() {
    let topic = unique_topic("faults");
    let broker = Broker::start(&[(&topic, PARTITIONS)]);
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut producer = produce_cmd(&source, &broker, &topic).spawn().unwrap();
    let mut consumer = consume_cmd(&target, &broker, &topic).spawn().unwrap();
    let writer = workload::spawn(&source.url(), WorkloadConfig::acceptance());

    let mut moments = Moments(0x9e37_79b9_7f4a_7c15);
    let (mut consumer_kills, mut producer_kills) = (0, 0);
    while consumer_kills < 5 || producer_kills < 3 {
        std::thread::sleep(Duration::from_millis(moments.next_ms(1_500, 4_000)));
        if producer_kills < 3 && moments.next_ms(0, 2) == 0 {
            producer.kill().unwrap(); // SIGKILL
            producer.wait().unwrap();
            producer = produce_cmd(&source, &broker, &topic).spawn().unwrap();
            producer_kills += 1;
        } else if consumer_kills < 5 {
            consumer.kill().unwrap(); // SIGKILL
            consumer.wait().unwrap();
            consumer = consume_cmd(&target, &broker, &topic).spawn().unwrap();
            consumer_kills += 1;
        }
    }
    let report = writer.stop_and_wait();
    assert!(report.ops > 0, "{report:?}");
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
    stop(consumer);
    stop(producer);
}

#[test]
fn incremental_sync_survives_kills() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut sync = sync_cmd(&source, &target).spawn().unwrap();
    let writer = workload::spawn(&source.url(), WorkloadConfig::acceptance());
    let mut moments = Moments(0x2545_f491_4f6c_dd1d);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(moments.next_ms(1_500, 4_000)));
        sync.kill().unwrap(); // SIGKILL
        sync.wait().unwrap();
        sync = sync_cmd(&source, &target).spawn().unwrap();
    }
    let report = writer.stop_and_wait();
    assert!(report.ops > 0, "{report:?}");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
    stop(sync);
}

#[test]
fn incremental_backlog_overflow_opens_a_new_epoch_and_converges() {
    // A tiny backlog: the source cannot continue after the producer was away for long.
    let source = RedisServer::start_with_args(&["--repl-backlog-size", "16kb"]);
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut conn = source.conn();
    for i in 0..2_000 {
        let _: () = redis::cmd("SET")
            .arg(format!("doomed:{i}"))
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    let mut sync = sync_cmd(&source, &target).spawn().unwrap();
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    sync.kill().unwrap(); // SIGKILL
    sync.wait().unwrap();

    // While it is away: delete keys, write many more than the backlog holds.
    for i in 0..2_000 {
        let _: () = redis::cmd("DEL")
            .arg(format!("doomed:{i}"))
            .query(&mut conn)
            .unwrap();
    }
    for i in 0..5_000 {
        let _: () = redis::cmd("SET")
            .arg(format!("fresh:{i}"))
            .arg("x".repeat(100))
            .query(&mut conn)
            .unwrap();
    }

    let mut sync = sync_cmd(&source, &target)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
    let mut target_conn = target.conn();
    let leftovers: Vec<String> = redis::cmd("KEYS")
        .arg("doomed:*")
        .query(&mut target_conn)
        .unwrap();
    assert!(
        leftovers.is_empty(),
        "deleted keys left behind: {}",
        leftovers.len()
    );
    let epoch: u64 = redis::cmd("HGET")
        .arg(format!("__slotstream:checkpoint:{}:0", sync_log(&source)))
        .arg("epoch")
        .query(&mut target_conn)
        .unwrap();
    assert_eq!(epoch, 2, "a new epoch should have begun");
    let _ = Command::new("kill").arg(sync.id().to_string()).status();
    let output = sync.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not continue"),
        "the log does not say why: {stderr}"
    );
}
