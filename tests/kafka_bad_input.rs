//! Bad input on the Kafka path: records on a topic that do not belong to the history the
//! consumer applies. Another source's records (two producers started at once into one topic, or
//! one whose resume point was lost), and an older epoch after a newer one (a producer that
//! started its epochs over). The producer refuses a second source by its resume point; the
//! consumer refuses what gets onto the topic anyway, naming topic, partition and offset, and
//! applies nothing from it on.

mod common;

use common::broker::{consume_cmd, produce_cmd, produce_raw, read_all, unique_topic, Broker};
use common::follow::Proc;
use common::{dataset, run_ok, RedisServer};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const PARTITIONS: u32 = 4;

/// The target's keys in db 0, slotstream's own left out.
fn user_keys(target: &RedisServer) -> BTreeSet<String> {
    let mut conn = target.conn();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.iter()
        .filter(|k| !k.starts_with(b"__slotstream:"))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect()
}

/// Runs `consume` of `topic` into `target` until it exits by itself, which it must: bad input
/// stops it. Returns whether it succeeded and its log.
fn consume_until_it_stops(target: &RedisServer, broker: &Broker, topic: &str) -> (bool, String) {
    let mut consume = consume_cmd(target, broker, topic);
    let mut consumer = Proc::spawn(&mut consume, "consume");
    let status = consumer.wait_exit(
        Duration::from_secs(60),
        "the consumer went on past records that do not belong to its topic",
    );
    let log = consumer.log();
    assert!(!log.contains("panicked"), "{log}");
    (status.success(), log)
}

/// The epoch `produce --snapshot-only` says it wrote: `… (epoch N)`.
fn epoch_printed(output: &std::process::Output) -> u64 {
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .rsplit_once("(epoch ")
        .and_then(|(_, rest)| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no epoch in: {stdout}"))
}

/// Stores a resume point for `topic` as the producer would, claiming `epoch` with its snapshot
/// unfinished: the next producer takes a full sync as the epoch after it.
fn claim_epoch(broker: &Broker, topic: &str, source: &RedisServer, epoch: u64) {
    let point = format!(
        r#"{{"source":"127.0.0.1:{}","replid":"{}","offset":0,"epoch":{epoch},"partitions":{PARTITIONS},"db":0,"snapshot_complete":false}}"#,
        source.port(),
        "0".repeat(40)
    );
    produce_raw(
        broker.bootstrap(),
        &format!("{topic}.resume"),
        0,
        b"resume",
        point.as_bytes(),
    );
}

/// Waits until every partition's checkpoint of `topic` has applied the snapshot of `epoch`.
fn wait_for_epoch(target: &RedisServer, topic: &str, epoch: u64, consumer: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = target.conn();
    loop {
        let reached = (0..PARTITIONS).all(|p| {
            let (at, done): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
                .arg(format!("__slotstream:checkpoint:{topic}:{p}"))
                .arg("epoch")
                .arg("snapshot_done")
                .query(&mut conn)
                .unwrap();
            at == Some(epoch) && done == Some(1)
        });
        if reached {
            return;
        }
        assert!(
            consumer.child.try_wait().unwrap().is_none(),
            "the consumer exited:\n{}",
            consumer.log()
        );
        assert!(
            Instant::now() < deadline,
            "epoch {epoch} was not applied:\n{}",
            consumer.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first offset of each partition at or after `from` (per partition), as `topic[p] offset o`.
fn first_offsets_after(
    broker: &Broker,
    topic: &str,
    from: &[i64; PARTITIONS as usize],
) -> Vec<String> {
    let mut firsts = Vec::new();
    for (partition, offset, ..) in read_all(broker.bootstrap(), topic) {
        let p = partition as usize;
        if offset >= from[p] && !firsts.iter().any(|(q, _)| *q == p) {
            firsts.push((p, offset));
        }
    }
    firsts
        .into_iter()
        .map(|(p, o)| format!("{topic}[{p}] offset {o}"))
        .collect()
}

/// Where each partition of `topic` ends now.
fn ends(broker: &Broker, topic: &str) -> [i64; PARTITIONS as usize] {
    let mut end = [0; PARTITIONS as usize];
    for (partition, offset, ..) in read_all(broker.bootstrap(), topic) {
        end[partition as usize] = end[partition as usize].max(offset + 1);
    }
    end
}

#[test]
fn kafka_records_of_another_source_are_refused_by_producer_and_consumer() {
    let topic = unique_topic("foreign");
    let beside = unique_topic("beside");
    let broker = Broker::start(
        common::SLOTSTREAM,
        &[(&topic, PARTITIONS), (&beside, PARTITIONS)],
    );
    let first = RedisServer::start();
    let second = RedisServer::start();
    dataset::write_small_strings(&mut first.conn(), 300);
    let mut conn = second.conn();
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("second:{i}"))
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    let target = RedisServer::start();
    run_ok(produce_cmd(&first, &broker, &topic, PARTITIONS).arg("--snapshot-only"));
    run_ok(consume_cmd(&target, &broker, &topic).arg("--snapshot-only"));
    let before = user_keys(&target);
    assert_eq!(before.len(), 300);
    let first_id = format!("127.0.0.1:{}", first.port());
    let second_id = format!("127.0.0.1:{}", second.port());

    // The producer of another source is refused by the topic's resume point, before it writes.
    let end = ends(&broker, &topic);
    let refused = produce_cmd(&second, &broker, &topic, PARTITIONS)
        .arg("--snapshot-only")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    for needle in [
        format!("topic {topic} is fed by source {first_id:?}, not {second_id:?}"),
        "use another topic".to_string(),
        format!("--source-id {first_id:?}"),
    ] {
        assert!(
            stderr.contains(&needle),
            "stderr lacks {needle:?}: {stderr}"
        );
    }
    assert_eq!(ends(&broker, &topic), end, "the refused producer wrote");

    // What two producers started at once would leave (neither saw the other's resume point):
    // the second source's records on the topic, copied from a topic of their own.
    run_ok(produce_cmd(&second, &broker, &beside, PARTITIONS).arg("--snapshot-only"));
    for (partition, _, key, value, _) in read_all(broker.bootstrap(), &beside) {
        produce_raw(
            broker.bootstrap(),
            &topic,
            partition,
            key.as_deref().unwrap_or_default(),
            &value,
        );
    }
    let (succeeded, log) = consume_until_it_stops(&target, &broker, &topic);
    assert!(!succeeded, "{log}");
    for needle in [
        format!("comes from source {second_id:?}"),
        format!("applies source {first_id:?}"),
        "Another producer writes into this topic".to_string(),
        "give each source a topic of its own".to_string(),
    ] {
        assert!(log.contains(&needle), "log lacks {needle:?}: {log}");
    }
    let named = first_offsets_after(&broker, &topic, &end);
    assert!(
        named.iter().any(|at| log.contains(at.as_str())),
        "none of {named:?} named: {log}"
    );
    assert_eq!(
        user_keys(&target),
        before,
        "the other source's keys were applied"
    );
}

#[test]
fn kafka_an_older_epoch_after_a_newer_one_stops_the_consumer() {
    let topic = unique_topic("olderepoch");
    let broker = Broker::start(common::SLOTSTREAM, &[(&topic, PARTITIONS)]);
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_small_strings(&mut source.conn(), 300);
    let first = run_ok(produce_cmd(&source, &broker, &topic, PARTITIONS).arg("--snapshot-only"));
    let first = epoch_printed(&first);
    let second = first + 1;
    // The next epoch: a producer that finds the first unfinished takes a new full sync.
    claim_epoch(&broker, &topic, &source, first);
    let _: () = redis::cmd("SET")
        .arg("in-epoch-2")
        .arg("x")
        .query(&mut source.conn())
        .unwrap();
    run_ok(produce_cmd(&source, &broker, &topic, PARTITIONS).arg("--snapshot-only"));
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");
    wait_for_epoch(&target, &topic, second, &mut consumer);
    consumer.terminate_within(Duration::from_secs(30), "the consumer did not stop");
    let before = user_keys(&target);
    assert!(before.contains("in-epoch-2"));

    // The producer starts its epochs over (its resume point lost): epoch 1 again, with a key
    // the target must not get.
    let end = ends(&broker, &topic);
    claim_epoch(&broker, &topic, &source, 0);
    let _: () = redis::cmd("SET")
        .arg("in-epoch-1-again")
        .arg("x")
        .query(&mut source.conn())
        .unwrap();
    let produced = run_ok(produce_cmd(&source, &broker, &topic, PARTITIONS).arg("--snapshot-only"));
    assert_eq!(epoch_printed(&produced), 1);

    let (succeeded, log) = consume_until_it_stops(&target, &broker, &topic);
    assert!(!succeeded, "{log}");
    for needle in [
        &format!("is of epoch 1, older than epoch {second} this partition has already reached"),
        &format!("{topic}.resume"),
        "produce into a new topic",
    ] {
        assert!(log.contains(needle), "log lacks {needle:?}: {log}");
    }
    let named = first_offsets_after(&broker, &topic, &end);
    assert!(
        named.iter().any(|at| log.contains(at.as_str())),
        "none of {named:?} named: {log}"
    );
    assert_eq!(user_keys(&target), before, "the older epoch was applied");
}
