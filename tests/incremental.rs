//! Live changes end to end: a mixed write workload on the source while slotstream follows it,
//! through the in-process `sync` and through Kafka, with and without kills; the destination must
//! end identical, with no lost and no doubled `INCR` or `LPUSH`.

mod common;

#[cfg(feature = "kafka")]
use common::follow::KafkaLink;
use common::follow::{
    assert_identical, assert_identical_with, assert_nothing_refused, drop_links, sync_cmd,
    sync_log, wait_caught_up, wait_logged, write_counters, Moments, Proc,
};
use common::workload::{self, WorkloadConfig};
use common::{dataset, RedisServer};
use std::time::Duration;

#[test]
fn incremental_commands_the_target_refuses_are_counted_and_warned_about_once_per_10_s() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    // The copy diverges: `c` is a list on the target, a counter on the source.
    let _: () = redis::cmd("LPUSH")
        .arg("c")
        .arg("x")
        .query(&mut target.conn())
        .unwrap();
    let mut conn = source.conn();
    for _ in 0..3 {
        let _: i64 = redis::cmd("INCR").arg("c").query(&mut conn).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut conn)
        .unwrap();
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    let message = "a replicated command failed on the target as it may have on the source";
    wait_logged(&sync, message, Duration::from_secs(30));
    let log = sync.log();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(message)).collect();
    assert_eq!(
        warnings.len(),
        1,
        "three refusals within 10 s, one warning:\n{log}"
    );
    assert!(
        warnings[0].contains("WARN")
            && warnings[0].contains("key=\"c\"")
            && warnings[0].contains("WRONGTYPE"),
        "{log}"
    );
    // The command after them was applied; the target keeps its own `c`.
    let after: Option<String> = redis::cmd("GET")
        .arg("after")
        .query(&mut target.conn())
        .unwrap();
    assert_eq!(after.as_deref(), Some("1"));
    let kind: String = redis::cmd("TYPE")
        .arg("c")
        .query(&mut target.conn())
        .unwrap();
    assert_eq!(kind, "list");
    let log = sync.stop();
    let refused = log.lines().rev().find_map(|l| l.split(" refused=").nth(1));
    let refused = refused.and_then(|rest| rest.split_whitespace().next());
    assert_eq!(refused, Some("3"), "{log}");
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

#[test]
#[cfg(feature = "kafka")]
fn incremental_kafka_follows_a_mixed_workload() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut link = KafkaLink::start("incremental", &source, &target);
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::acceptance());
    assert!(report.ops >= 200_000, "{report:?}");
    link.wait_caught_up(&source, &target);
    assert_identical(&source, &target);
    assert_nothing_refused(&link.stop().0);
}

#[test]
#[cfg(feature = "kafka")]
fn incremental_kafka_survives_kills_of_both_sides() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let mut link = KafkaLink::start("faults", &source, &target);
    let writer = workload::spawn(&source.url(), WorkloadConfig::acceptance());

    let mut moments = Moments(0x9e37_79b9_7f4a_7c15);
    let (mut consumer_kills, mut producer_kills) = (0, 0);
    while consumer_kills < 5 || producer_kills < 3 {
        std::thread::sleep(Duration::from_millis(moments.next_ms(1_500, 4_000)));
        if producer_kills < 3 && (consumer_kills >= 5 || moments.next_ms(0, 2) == 0) {
            link.start_producer(&source);
            producer_kills += 1;
        } else {
            link.start_consumer(&target);
            consumer_kills += 1;
        }
    }
    let report = writer.stop_and_wait();
    assert!(report.ops > 0, "{report:?}");
    link.wait_caught_up(&source, &target);
    assert_identical(&source, &target);
    link.stop();
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
    // The workload outruns the copy, and on a loaded machine the copy can fall more than the
    // default 10 s behind: then a key the workload gave a TTL of a second and renewed just in
    // time is gone on the target first (tests/throttle.rs checks that this is warned about).
    // This test is about the commands, so the extension is well above any lag it sees.
    let extension = ["--ttl-extension-secs", "120"];
    let mut sync = Proc::spawn(sync_cmd(&source, &target).args(extension), "sync");
    // Let the snapshot land first, so this exercises live commands alone.
    std::thread::sleep(Duration::from_millis(500));
    let report = workload::run_blocking(&source.url(), &WorkloadConfig::quick());
    assert!(report.ops >= 20_000, "{report:?}");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    let run = common::run_verify(
        &source.url(),
        &target.url(),
        &["--max-report", "30", extension[0], extension[1]],
    );
    assert_eq!(
        run.code,
        Some(0),
        "{}\n{}",
        run.text(),
        sync.log()
            .lines()
            .filter(|l| l.contains("failed on the target") || l.contains("after the source ran"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_identical_with(&source, &target, 120_000);
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
    sync.terminate_within(Duration::from_secs(20), "sync ignored SIGTERM");
    assert!(
        sync.log().contains("link lost"),
        "no retry was logged:\n{}",
        sync.log()
    );
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
#[cfg(feature = "kafka")]
fn incremental_kafka_reconnects_after_dropped_links() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut link = KafkaLink::start("reconnect", &source, &target);
    for round in 0..3 {
        write_counters(&source, round);
        link.wait_caught_up(&source, &target);
        drop_links(&source, &target);
    }
    write_counters(&source, 3);
    link.wait_caught_up(&source, &target);
    assert_identical(&source, &target);
    let (consumer, producer) = link.stop();
    let logs = consumer + &producer;
    assert!(logs.contains("link lost"), "no reconnection logged: {logs}");
}

/// `produce` away twice: while the source's backlog overflows, then while the source restarts
/// (a new replication id). Each time the restart cannot continue, opens a new epoch, and its
/// sweep removes what the source deleted meanwhile.
#[test]
#[cfg(feature = "kafka")]
fn incremental_kafka_producer_away_while_the_backlog_overflows_and_the_source_restarts() {
    let mut source = RedisServer::start_with_args(&[
        "--repl-backlog-size",
        "16kb",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let target = RedisServer::start();
    let mut conn = source.conn();
    let set = |conn: &mut redis::Connection, prefix: &str, n: usize, size: usize| {
        let mut pipe = redis::pipe();
        for i in 0..n {
            pipe.set(format!("{prefix}:{i}"), "x".repeat(size)).ignore();
        }
        pipe.query::<()>(conn).unwrap();
    };
    let del = |conn: &mut redis::Connection, prefix: &str, n: usize| {
        let mut pipe = redis::pipe();
        for i in 0..n {
            pipe.del(format!("{prefix}:{i}")).ignore();
        }
        pipe.query::<()>(conn).unwrap();
    };
    set(&mut conn, "doomed", 1_000, 8);
    let mut link = KafkaLink::start("away", &source, &target);
    link.wait_caught_up(&source, &target);

    // Away while the backlog overflows (16 KB; 500 KB written).
    link.producer.take().unwrap().kill();
    del(&mut conn, "doomed", 500);
    set(&mut conn, "fresh", 5_000, 100);
    link.start_producer(&source);
    link.wait_caught_up(&source, &target);
    assert_identical(&source, &target);
    let producer = link.producer.take().unwrap();
    let log = producer.stop();
    // "could not continue" (the backlog), or, when the kill beat the resume point that marks
    // the snapshot complete, "stopped in the middle of its snapshot": a new epoch either way.
    assert!(log.contains("full resync, a new epoch begins"), "{log}");

    // Away while the source restarts from its AOF: a new replication id.
    del(&mut conn, "doomed", 1_000);
    drop(conn);
    let epoch = common::follow::checkpoint_epoch(&target, &link.topic);
    source.kill_and_restart();
    let mut conn = source.conn();
    set(&mut conn, "after-restart", 100, 8);
    link.start_producer(&source);
    link.wait_epoch_after(&target, epoch);
    link.wait_caught_up(&source, &target);
    assert_identical(&source, &target);
    let (_, log) = link.stop();
    assert!(log.contains("could not continue"), "{log}");
    let leftovers: Vec<String> = redis::cmd("KEYS")
        .arg("doomed:*")
        .query(&mut target.conn())
        .unwrap();
    assert!(
        leftovers.is_empty(),
        "deleted keys left: {}",
        leftovers.len()
    );
}

#[test]
#[cfg(feature = "kafka")]
fn incremental_kafka_survives_a_broker_outage() {
    let mut link = KafkaLink::new("outage");
    if link.broker.is_external() {
        eprintln!(
            "note: the outage is tested on the dev-broker only (an external broker is shared)"
        );
        return;
    }
    let source = RedisServer::start();
    let target = RedisServer::start();
    link.start_producer(&source);
    link.start_consumer(&target);
    write_counters(&source, 0);
    link.wait_caught_up(&source, &target);

    link.broker.pause();
    for round in 1..4 {
        write_counters(&source, round);
        std::thread::sleep(Duration::from_secs(3));
    }
    for proc in link.producer.iter_mut().chain(link.consumer.iter_mut()) {
        assert!(
            proc.child.try_wait().unwrap().is_none(),
            "a process exited during the outage:\n{}",
            proc.log()
        );
    }
    link.broker.resume();
    write_counters(&source, 4);
    link.wait_caught_up(&source, &target);
    assert_identical(&source, &target);
    link.stop();
}

#[test]
#[cfg(feature = "kafka")]
fn incremental_kafka_relative_ttls_from_redis_6_count_from_the_source() {
    let Some(binary) = common::versions::binary("redis-6.2.14") else {
        return;
    };
    let mut link = KafkaLink::new("relttl");
    let source = RedisServer::start_binary(&binary, &[]);
    let target = RedisServer::start();
    link.start_producer(&source);
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
    link.start_consumer(&target);
    link.wait_caught_up(&source, &target);
    let mut target_conn = target.conn();
    for key in ["a", "b", "c", "d", "e"] {
        let on_source: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).unwrap();
        let on_target: i64 = redis::cmd("PTTL").arg(key).query(&mut target_conn).unwrap();
        assert!(
            on_source > 0 && (on_source + common::TTL_EXTENSION_MS - on_target).abs() < 1_500,
            "{key}: PTTL {on_source} on the source, {on_target} on the target (the target's \
             should be the TTL extension longer)"
        );
    }
    assert_identical(&source, &target);
    link.stop();
}

/// A consumer whose next records were deleted by the broker's retention stops with an error
/// naming them, and applies nothing past the hole: it never skips records silently.
#[test]
#[cfg(feature = "kafka")]
fn incremental_kafka_stops_on_records_deleted_before_they_were_applied() {
    let mut link = KafkaLink::new("retention");
    if link.broker.is_external() {
        eprintln!("note: retention is tested on the dev-broker only (its log keeps ~5 MB)");
        return;
    }
    let source = RedisServer::start();
    let target = RedisServer::start();
    link.start_producer(&source);
    link.start_consumer(&target);
    write_counters(&source, 0);
    link.wait_caught_up(&source, &target);
    if let Some(mut consumer) = link.consumer.take() {
        consumer.kill();
    }

    // About 12 MB of incompressible values on one key: more than dev-broker keeps of a partition.
    let mut conn = source.conn();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..80 {
        let mut pipe = redis::pipe();
        for _ in 0..1000 {
            let value = common::dataset::incompressible(&mut seed, 150);
            pipe.cmd("RPUSH").arg("hot").arg(value).ignore();
        }
        pipe.query::<()>(&mut conn).unwrap();
    }
    let trimmed = |link: &KafkaLink| {
        (0..common::follow::PARTITIONS as i32)
            .any(|p| common::broker::low_watermark(link.broker.bootstrap(), &link.topic, p) > 0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !trimmed(&link) {
        assert!(
            std::time::Instant::now() < deadline,
            "the dev-broker never trimmed a partition"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    link.start_consumer(&target);
    let consumer = link.consumer.as_mut().unwrap();
    let status = consumer.wait_exit(
        Duration::from_secs(60),
        "the consumer went on past deleted records",
    );
    let log = consumer.log();
    assert!(!status.success(), "the consumer exited 0:\n{log}");
    assert!(
        log.contains("were deleted from the log before they were applied"),
        "no error names the deleted records:\n{log}"
    );
    // Nothing past the hole: the target's list is a strict prefix of the source's.
    let want: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("hot")
        .arg(0)
        .arg(-1)
        .query(&mut source.conn())
        .unwrap();
    let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("hot")
        .arg(0)
        .arg(-1)
        .query(&mut target.conn())
        .unwrap();
    assert!(got.len() < want.len(), "the target has every item");
    assert_eq!(
        got[..],
        want[..got.len()],
        "the target applied items past the hole"
    );
    link.stop();
}

/// A producer told to stop while its broker does not answer exits anyway (the resume point
/// stays at the last acknowledged record) instead of waiting out Kafka's flush timeout.
#[test]
#[cfg(feature = "kafka")]
fn produce_stops_on_sigterm_while_the_broker_hangs() {
    let mut link = KafkaLink::new("hang");
    if link.broker.is_external() {
        eprintln!("note: tested on the dev-broker only (an external broker is shared)");
        return;
    }
    let source = RedisServer::start();
    link.start_producer(&source);
    write_counters(&source, 0);
    std::thread::sleep(Duration::from_secs(2));
    link.broker.pause();
    write_counters(&source, 1);
    std::thread::sleep(Duration::from_secs(1));
    let producer = link.producer.as_mut().unwrap();
    producer.terminate_within(Duration::from_secs(60), "the producer did not stop");
    link.broker.resume();
}
