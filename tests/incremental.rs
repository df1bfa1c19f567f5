//! Live changes end to end: a mixed write workload on the source while slotstream follows it,
//! through the in-process `sync` and through Kafka, with and without kills; the destination must
//! end identical, with no lost and no doubled `INCR` or `LPUSH`.

mod common;

use common::broker::{consume_cmd, create_topic, produce_cmd, unique_topic, Broker};
use common::workload::{self, WorkloadConfig};
use common::{assert_same_contents, dataset, slotstream, verify_identical, RedisServer};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PARTITIONS: u32 = 8;

/// A slotstream process whose stderr goes to a file, shown when it fails.
struct Proc {
    child: Child,
    log: std::path::PathBuf,
}

impl Proc {
    fn spawn(cmd: &mut Command, name: &str) -> Proc {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log =
            std::env::temp_dir().join(format!("slotstream-{}-{name}-{n}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then reap; returns the log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let log = self.log();
        let _ = std::fs::remove_file(&self.log);
        log
    }
}

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
fn applied_offset(target: &RedisServer, log: &str) -> Option<u64> {
    let mut conn = target.conn();
    (0..PARTITIONS)
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

/// Makes the source delete (and replicate the deletion of) every key whose time has passed:
/// `SCAN` expires what it meets. Until then such keys linger on the source, logically gone.
fn expire_due_keys(source: &RedisServer) {
    let mut conn = source.conn();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut conn).unwrap();
        let mut cursor: u64 = 0;
        loop {
            let (next, _): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
                .unwrap();
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

/// Waits until every partition's checkpoint has reached the source's current offset (the
/// heartbeats move idle partitions along), or panics after a generous liveness bound.
fn wait_caught_up(source: &RedisServer, target: &RedisServer, log: &str, procs: &mut [&mut Proc]) {
    // Short TTLs set by the workload: let them end on the source first.
    std::thread::sleep(Duration::from_millis(1100));
    expire_due_keys(source);
    let wanted = source_offset(source);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if applied_offset(target, log).is_some_and(|o| o >= wanted) {
            return;
        }
        for proc in procs.iter_mut() {
            if proc.child.try_wait().unwrap().is_some() {
                panic!("a slotstream process exited early:\n{}", proc.log());
            }
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = procs.iter().map(|p| p.log()).collect();
            panic!(
                "the target did not catch up with offset {wanted} (at {:?}):\n{}",
                applied_offset(target, log),
                logs.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sync_cmd(source: &RedisServer, target: &RedisServer) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", &source.url(), "--target", &target.url()])
        .args(["--partitions", &PARTITIONS.to_string()]);
    cmd
}

/// A broker with the data topic in place before producer and consumer start together (on an
/// external broker the producer would create it, possibly after the consumer looked).
fn broker_with_topic(topic: &str) -> Broker {
    let broker = Broker::start(&[(topic, PARTITIONS)]);
    if broker.is_external() {
        create_topic(broker.bootstrap(), topic, PARTITIONS);
    }
    broker
}

fn sync_log(source: &RedisServer) -> String {
    format!("sync:127.0.0.1:{}", source.port())
}

/// Both checkers agree the copy is exact.
fn assert_identical(source: &RedisServer, target: &RedisServer) {
    assert_same_contents(&source.url(), &target.url());
    verify_identical(source, target);
}

#[test]
fn incremental_sync_follows_a_mixed_workload() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::acceptance());
    assert!(report.ops >= 200_000, "{report:?}");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
    assert_nothing_refused(&sync.stop());
}

/// Every replicated command of the workload succeeded on the source, so on an identical target
/// each must succeed too: a refusal means the copies had already drifted apart.
fn assert_nothing_refused(log: &str) {
    let last = log
        .lines()
        .rev()
        .find_map(|line| line.split("refused=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(last, Some(0), "refused commands, or no live line:\n{log}");
}

#[test]
fn incremental_kafka_follows_a_mixed_workload() {
    let topic = unique_topic("incremental");
    let broker = broker_with_topic(&topic);
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut producer = Proc::spawn(
        &mut produce_cmd(&source, &broker, &topic, PARTITIONS),
        "produce",
    );
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::acceptance());
    assert!(report.ops >= 200_000, "{report:?}");
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    assert_identical(&source, &target);
    assert_nothing_refused(&consumer.stop());
    producer.stop();
}

/// A test that fails (panics) must not leave its processes running.
impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
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
    let broker = broker_with_topic(&topic);
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut producer = Proc::spawn(
        &mut produce_cmd(&source, &broker, &topic, PARTITIONS),
        "produce",
    );
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
    let writer = workload::spawn(&source.url(), WorkloadConfig::acceptance());

    let mut moments = Moments(0x9e37_79b9_7f4a_7c15);
    let (mut consumer_kills, mut producer_kills) = (0, 0);
    while consumer_kills < 5 || producer_kills < 3 {
        std::thread::sleep(Duration::from_millis(moments.next_ms(1_500, 4_000)));
        if producer_kills < 3 && (consumer_kills >= 5 || moments.next_ms(0, 2) == 0) {
            producer.kill();
            producer = Proc::spawn(
                &mut produce_cmd(&source, &broker, &topic, PARTITIONS),
                "produce",
            );
            producer_kills += 1;
        } else {
            consumer.kill();
            consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
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
    assert_identical(&source, &target);
    consumer.stop();
    producer.stop();
}

#[test]
fn incremental_sync_survives_kills() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    let writer = workload::spawn(&source.url(), WorkloadConfig::acceptance());
    let mut moments = Moments(0x2545_f491_4f6c_dd1d);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(moments.next_ms(1_500, 4_000)));
        sync.kill();
        sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    }
    let report = writer.stop_and_wait();
    assert!(report.ops > 0, "{report:?}");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
    sync.stop();
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
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    sync.kill();

    // While it is away: delete keys, and write far more than the backlog holds.
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

    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
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
    let log = sync.stop();
    assert!(
        log.contains("could not continue"),
        "the log does not say why: {log}"
    );
}

#[test]
fn incremental_sync_follows_a_short_single_connection_workload() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    // Let the snapshot land first, so this exercises live commands alone.
    std::thread::sleep(Duration::from_millis(500));
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::quick());
    assert!(report.ops >= 20_000, "{report:?}");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    let run = common::run_verify(&source.url(), &target.url(), &["--max-report", "30"]);
    assert_eq!(
        run.code,
        Some(0),
        "{}\n{}",
        run.text(),
        sync.log()
            .lines()
            .filter(|l| l.contains("failed on the target"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_identical(&source, &target);
    sync.stop();
}

/// A `SELECT` inside a `MULTI` block moves the connection that applies it: the commands and
/// checkpoints that follow must still land in the db their records name.
#[test]
fn incremental_sync_follows_select_inside_a_block() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    let mut conn = source.conn();
    for round in 0..3 {
        let send = |conn: &mut redis::Connection, args: &[&str]| -> redis::Value {
            redis::cmd(args[0]).arg(&args[1..]).query(conn).unwrap()
        };
        // Two keys in different partitions: the block is a barrier, applied by one of them.
        send(&mut conn, &["MULTI"]);
        send(&mut conn, &["SET", &format!("{{1}}:a:{round}"), "in db 0"]);
        send(&mut conn, &["SELECT", "1"]);
        send(&mut conn, &["SET", &format!("{{2}}:b:{round}"), "in db 1"]);
        send(&mut conn, &["EXEC"]);
        send(&mut conn, &["SELECT", "0"]);
        for i in 0..100 {
            send(&mut conn, &["SET", &format!("after:{round}:{i}"), "db 0"]);
            send(&mut conn, &["LPUSH", &format!("{{{i}}}:pushes"), "db 0"]);
        }
    }
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
    sync.stop();
}

/// `SWAPDB 0 n` swaps the destination's db 0, where the checkpoints live, with db n: the
/// checkpoints stay in db 0 and none is left among db n's keys.
#[test]
fn incremental_sync_swapdb_of_db0_keeps_the_checkpoints_in_db0() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    write_counters(&source, 0);
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    let _: () = redis::cmd("SWAPDB")
        .arg(0)
        .arg(3)
        .query(&mut source.conn())
        .unwrap();
    write_counters(&source, 1);
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
    let mut conn = target.conn();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut conn).unwrap();
    let stale: Vec<String> = redis::cmd("KEYS")
        .arg("__slotstream:*")
        .query(&mut conn)
        .unwrap();
    assert!(stale.is_empty(), "checkpoints left in db 3: {stale:?}");
    sync.stop();
}

/// Drops every replica link of the source and every client link of the target (slotstream's).
fn drop_links(source: &RedisServer, target: &RedisServer) {
    let _: redis::Value = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "replica"])
        .query(&mut source.conn())
        .unwrap();
    let _: redis::Value = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query(&mut target.conn())
        .unwrap();
}

/// SIGTERM while `sync` waits to reconnect to a source that went away: it stops, rather than
/// waiting for the link to come back.
#[test]
fn incremental_sync_stops_on_sigterm_while_reconnecting() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    write_counters(&source, 0);
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    drop(source);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        sync.child.try_wait().unwrap().is_none(),
        "sync gave up at once:\n{}",
        sync.log()
    );
    let _ = Command::new("kill")
        .arg(sync.child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sync.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "sync ignored SIGTERM:\n{}",
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        sync.log().contains("link lost"),
        "no retry was logged:\n{}",
        sync.log()
    );
}

/// A few counters and list pushes, so a lost or doubled command shows.
fn write_counters(source: &RedisServer, round: u32) {
    let mut conn = source.conn();
    for i in 0..200 {
        let _: i64 = redis::cmd("INCR")
            .arg(format!("counter:{}", i % 20))
            .query(&mut conn)
            .unwrap();
        let _: i64 = redis::cmd("LPUSH")
            .arg(format!("pushes:{}", i % 7))
            .arg(format!("{round}-{i}"))
            .query(&mut conn)
            .unwrap();
    }
}

#[test]
fn incremental_sync_reconnects_after_dropped_links() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    for round in 0..3 {
        write_counters(&source, round);
        wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
        drop_links(&source, &target);
    }
    write_counters(&source, 3);
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
    let log = sync.stop();
    assert!(log.contains("link lost"), "no reconnection logged: {log}");
}

#[test]
fn incremental_kafka_reconnects_after_dropped_links() {
    let topic = unique_topic("reconnect");
    let broker = broker_with_topic(&topic);
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut producer = Proc::spawn(
        &mut produce_cmd(&source, &broker, &topic, PARTITIONS),
        "produce",
    );
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
    for round in 0..3 {
        write_counters(&source, round);
        wait_caught_up(
            &source,
            &target,
            &topic,
            &mut [&mut producer, &mut consumer],
        );
        drop_links(&source, &target);
    }
    write_counters(&source, 3);
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    assert_identical(&source, &target);
    let logs = consumer.stop() + &producer.stop();
    assert!(logs.contains("link lost"), "no reconnection logged: {logs}");
}

/// The broker stops answering for a while (SIGSTOP, as in a network partition or a stalled
/// broker) while the source keeps taking writes: producer and consumer wait, neither exits, and
/// once it answers again the destination converges with no INCR or LPUSH lost or doubled.
#[test]
fn incremental_kafka_survives_a_broker_outage() {
    let topic = unique_topic("outage");
    let broker = broker_with_topic(&topic);
    if broker.is_external() {
        eprintln!(
            "note: the outage is tested on the dev-broker only (an external broker is shared)"
        );
        return;
    }
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut producer = Proc::spawn(
        &mut produce_cmd(&source, &broker, &topic, PARTITIONS),
        "produce",
    );
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
    write_counters(&source, 0);
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );

    broker.pause();
    for round in 1..4 {
        write_counters(&source, round);
        std::thread::sleep(Duration::from_secs(3));
    }
    for proc in [&mut producer, &mut consumer] {
        assert!(
            proc.child.try_wait().unwrap().is_none(),
            "a process exited during the outage:\n{}",
            proc.log()
        );
    }
    broker.resume();
    write_counters(&source, 4);
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    assert_identical(&source, &target);
    consumer.stop();
    producer.stop();
}

/// Sources before Redis 7.0 replicate `EXPIRE`, `SETEX`, `SET … EX` as given, relative to when
/// they ran. Applied seconds later (the consumer was away), the destination's TTLs must still
/// count from the source's moment, not from the apply.
#[test]
fn incremental_kafka_relative_ttls_from_redis_6_count_from_the_source() {
    let binary = std::env::var_os("SERVERS_DIR")
        .map_or_else(|| "/work/.cache/servers".into(), std::path::PathBuf::from)
        .join("bin/redis-6.2.14");
    if !binary.exists() {
        eprintln!(
            "note: {} is missing (scripts/install-servers.sh); skipped",
            binary.display()
        );
        return;
    }
    let topic = unique_topic("relttl");
    let broker = broker_with_topic(&topic);
    let source = RedisServer::start_binary(&binary, &[]);
    let target = RedisServer::start();
    let mut producer = Proc::spawn(
        &mut produce_cmd(&source, &broker, &topic, PARTITIONS),
        "produce",
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut conn = source.conn();
    for args in [
        &["SET", "a", "v", "EX", "100"][..],
        &["SETEX", "b", "100", "v"],
        &["PSETEX", "c", "100000", "v"],
        &["SET", "d", "v"],
        &["EXPIRE", "d", "100"],
        &["SET", "e", "v"],
        &["PEXPIRE", "e", "100000"],
    ] {
        let _: redis::Value = redis::cmd(args[0])
            .arg(&args[1..])
            .query(&mut conn)
            .unwrap();
    }
    // Applied 4 s after the source ran them: TTLs counted from the apply would be 4 s long.
    std::thread::sleep(Duration::from_secs(4));
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    let mut target_conn = target.conn();
    for key in ["a", "b", "c", "d", "e"] {
        let on_source: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).unwrap();
        let on_target: i64 = redis::cmd("PTTL").arg(key).query(&mut target_conn).unwrap();
        assert!(
            on_source > 0 && (on_source - on_target).abs() < 1_500,
            "{key}: PTTL {on_source} on the source, {on_target} on the target"
        );
    }
    assert_identical(&source, &target);
    consumer.stop();
    producer.stop();
}
