//! Snapshots cut off in the middle: by the source dropping the replica link (its output buffer
//! limit for replicas, a network blip) and by SIGKILL of each process. Every run must end with
//! the target identical to the source, including keys the source deleted while a process was
//! down (the next epoch's sweep removes them).

mod common;

use common::assert_same_contents;
use common::follow::{assert_identical, sync_cmd, sync_log, wait_caught_up, Proc, PARTITIONS};
use common::interrupt::{
    big_source, data_keys, delete_every, fast_snapshots, populate, slow_snapshots, wait_for_keys,
};
use common::RedisServer;
use std::time::{Duration, Instant};

const KEYS: u64 = 500_000;

/// Drops the source's replica links, as a source does when a replica's output buffer overflows.
fn cut_replica_links(source: &RedisServer) -> i64 {
    redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "replica"])
        .query(&mut source.conn())
        .expect("CLIENT KILL TYPE replica")
}

/// Waits until `proc`'s log holds `needle`; panics if it exits first or after a bound.
fn wait_for_log(proc: &mut Proc, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !proc.log().contains(needle) {
        if proc.child.try_wait().unwrap().is_some() {
            panic!("exited before logging {needle:?}:\n{}", proc.log());
        }
        assert!(Instant::now() < deadline, "no {needle:?}:\n{}", proc.log());
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits for `proc` to end by itself and asserts it succeeded; returns its log.
fn finishes(mut proc: Proc, what: &str) -> String {
    let status = proc.wait_exit(Duration::from_secs(300), &format!("{what} did not finish"));
    let log = proc.log();
    assert!(status.success(), "{what} failed ({status}):\n{log}");
    log
}

#[test]
fn sync_retries_a_snapshot_whose_link_the_source_drops() {
    let source = big_source();
    let target = RedisServer::start();
    populate(&source, KEYS);
    slow_snapshots(&source);
    let mut sync = Proc::spawn(sync_cmd(&source, &target).arg("--snapshot-only"), "sync");
    wait_for_keys(&target, 20_000, &mut [&mut sync]);
    fast_snapshots(&source);
    assert_eq!(cut_replica_links(&source), 1, "no replica link to cut");
    let log = finishes(sync, "sync");
    assert!(
        log.contains("link lost"),
        "the dropped link was not retried:\n{log}"
    );
    assert_eq!(
        assert_same_contents(&source.url(), &target.url()),
        KEYS as usize
    );
}

/// Keys the interrupted pass applied and the source then deletes: a restart that does not
/// sweep leaves them on the target.
fn delete_while_down(source: &RedisServer, target: &RedisServer) {
    let on_target = data_keys(target);
    assert!(
        on_target < KEYS,
        "the kill came too late: {on_target} keys applied"
    );
    let deleted = delete_every(source, KEYS, 10);
    assert_eq!(data_keys(source), KEYS - deleted);
}

#[test]
fn sync_killed_in_its_first_snapshot_restarts_as_a_new_epoch_that_sweeps() {
    let source = big_source();
    let target = RedisServer::start();
    populate(&source, KEYS);
    slow_snapshots(&source);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_for_keys(&target, 20_000, &mut [&mut sync]);
    fast_snapshots(&source);
    sync.kill();
    delete_while_down(&source, &target);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    assert_identical(&source, &target);
    let log = sync.stop();
    assert!(log.contains("snapshot started epoch=2"), "{log}");
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use common::broker::{consume_cmd, produce_cmd, unique_topic};
    use common::follow::{broker_with_topic, KafkaLink};

    #[test]
    fn producer_killed_in_its_first_snapshot_restarts_as_a_new_epoch_that_sweeps() {
        let source = big_source();
        let target = RedisServer::start();
        populate(&source, KEYS);
        slow_snapshots(&source);
        let mut link = KafkaLink::start("killfirst", &source, &target);
        wait_for_log(link.producer.as_mut().unwrap(), "snapshot started");
        // Some of the snapshot applied, and the producer still in it.
        let mut consumer = link.consumer.take().unwrap();
        wait_for_keys(&target, 2_000, &mut [&mut consumer]);
        link.consumer = Some(consumer);
        fast_snapshots(&source);
        link.producer.as_mut().unwrap().kill();
        std::thread::sleep(Duration::from_secs(2));
        delete_while_down(&source, &target);
        link.start_producer(&source);
        link.wait_caught_up(&source, &target);
        assert_identical(&source, &target);
        let (_, producer) = link.stop();
        // One past the epoch the killed producer claimed (its first, numbered by the clock).
        let next = producer
            .split("snapshot started epoch=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no new epoch: {producer}"));
        assert!(
            producer.contains(&format!("a new epoch begins epoch={}", next - 1)),
            "{producer}"
        );
    }

    #[test]
    fn consumer_killed_in_a_snapshot_applies_the_deletes_that_follow_it() {
        let source = big_source();
        let target = RedisServer::start();
        populate(&source, KEYS);
        let mut link = KafkaLink::start("killconsumer", &source, &target);
        let mut consumer = link.consumer.take().unwrap();
        wait_for_keys(&target, 20_000, &mut [&mut consumer]);
        consumer.kill();
        delete_while_down(&source, &target);
        link.start_consumer(&target);
        link.wait_caught_up(&source, &target);
        assert_identical(&source, &target);
        link.stop();
    }

    #[test]
    fn produce_retries_a_snapshot_whose_link_the_source_drops() {
        let source = big_source();
        let target = RedisServer::start();
        populate(&source, KEYS);
        slow_snapshots(&source);
        let topic = unique_topic("cutlink");
        let broker = broker_with_topic(&topic);
        let mut produce = produce_cmd(&source, &broker, &topic, PARTITIONS);
        let mut producer = Proc::spawn(produce.arg("--snapshot-only"), "produce");
        wait_for_log(&mut producer, "snapshot started");
        std::thread::sleep(Duration::from_millis(200));
        fast_snapshots(&source);
        assert_eq!(cut_replica_links(&source), 1, "no replica link to cut");
        let log = finishes(producer, "produce");
        assert!(
            log.contains("link lost"),
            "the dropped link was not retried:\n{log}"
        );
        let mut consume = consume_cmd(&target, &broker, &topic);
        let consumer = Proc::spawn(consume.arg("--snapshot-only"), "consume");
        finishes(consumer, "consume");
        assert_eq!(
            assert_same_contents(&source.url(), &target.url()),
            KEYS as usize
        );
    }
}
