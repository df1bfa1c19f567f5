//! A producer whose first snapshot is cut in its middle (its source link, through a proxy,
//! stalled and then cut) after the consumer applied part of it, while the source deletes the
//! keys applied so far. The deletions travel after the snapshot, which that attempt never
//! finished, so only the sweep of a new epoch removes them from the target: the retried
//! snapshot must open one, and the target end identical to the source.

use crate::common::broker::{consume_cmd, produce_cmd_from, unique_topic};
use crate::common::dataset;
use crate::common::follow::PARTITIONS;
use crate::common::follow::{assert_identical, broker_with_topic, wait_caught_up, Proc};
use crate::common::RedisServer;
use slotstream_test_support::proxy::Proxy;
use std::time::{Duration, Instant};

/// About 2.5 MB of snapshot: slowed by the proxy, a couple of seconds.
const KEYS: usize = 100_000;
const SLOW: Duration = Duration::from_millis(15);

#[test]
fn produce_cut_in_its_first_snapshot_leaves_nothing_the_source_deleted() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_small_strings(&mut source.conn(), KEYS);
    let proxy = Proxy::start(&format!("127.0.0.1:{}", source.port()));
    let topic = unique_topic("cut-snapshot");
    let broker = broker_with_topic(&topic);
    proxy.slow(SLOW);
    let mut producer = Proc::spawn(
        &mut produce_cmd_from(&proxy.url(), &broker, &topic, PARTITIONS),
        "produce",
    );
    let mut consumer = Proc::spawn(&mut consume_cmd(&target, &broker, &topic), "consume");

    // A fifth of the snapshot applied: freeze the producer in its middle.
    let deadline = Instant::now() + Duration::from_secs(120);
    while applied_keys(&target).len() < KEYS / 5 {
        for proc in [&mut producer, &mut consumer] {
            if let Some(status) = proc.child.try_wait().expect("try_wait") {
                panic!("exited ({status}):\n{}", proc.log());
            }
        }
        assert!(
            Instant::now() < deadline,
            "no keys applied:\n{}",
            consumer.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    proxy.stall();
    let applied = applied_keys(&target);
    assert!(
        applied.len() < KEYS,
        "the whole snapshot was applied already"
    );
    let mut conn = source.conn();
    for keys in applied.chunks(1000) {
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query(&mut conn)
            .expect("DEL on the source");
    }
    proxy.cut();
    proxy.open();

    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    let log = producer.log();
    assert!(
        log.contains("the transfer ended early"),
        "the cut did not land in the snapshot:\n{log}"
    );
    assert_identical(&source, &target);
    eprintln!(
        "cut-snapshot: {} keys applied before the cut and deleted on the source; none left",
        applied.len()
    );
}

/// The data keys the target holds (bookkeeping aside).
fn applied_keys(target: &RedisServer) -> Vec<String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("small:*")
        .query(&mut target.conn())
        .expect("KEYS");
    keys
}
