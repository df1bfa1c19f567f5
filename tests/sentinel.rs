//! Sentinel: `sync` given `redis+sentinel://` URLs for both sides follows a failover of the
//! source (its replication goes on from the promoted replica, found through the sentinels) and
//! of the target (reconnecting to the promoted replica and resuming from its checkpoints), and
//! the target ends identical to the source.
//!
//! The capture continues from the promoted source (`+CONTINUE`, no full sync), although the
//! old primary went on streaming after the promotion (pings, the sentinels' hello
//! `PUBLISH`es): what it read past the fork changed nothing, so the checkpoints are lowered to
//! the fork (producer/src/fork.rs): by `sync` in the target before it continues, by `produce`
//! through a `Fork` record in every partition, which the consumer applies.

mod common;

use common::dataset::write_full;
use common::follow::{assert_identical, wait_caught_up, write_counters, Proc, PARTITIONS};
use common::{slotstream, RedisServer};
use slotstream_test_support::Sentinels;

/// A primary and its replica.
fn primary_with_replica() -> Vec<RedisServer> {
    let primary = RedisServer::start();
    let replica = RedisServer::start();
    let _: () = redis::cmd("REPLICAOF")
        .arg("127.0.0.1")
        .arg(primary.port())
        .query(&mut replica.conn())
        .unwrap();
    vec![primary, replica]
}

/// The server of `pair` on `port`.
fn on(pair: &[RedisServer], port: u16) -> &RedisServer {
    pair.iter()
        .find(|s| s.port() == port)
        .expect("a server of the pair")
}

#[test]
fn sync_follows_failovers_of_the_source_and_of_the_target() {
    let source = primary_with_replica();
    let target = primary_with_replica();
    let sentinels = Sentinels::start(&[("src", source[0].port()), ("tgt", target[0].port())]);
    write_full(&mut source[0].conn());
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", &sentinels.url("src")])
        .args(["--target", &sentinels.url("tgt")])
        .args(["--partitions", &PARTITIONS.to_string()]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    // Checkpoints are named after the master name, so they stay the same across failovers.
    let log = "sync:sentinel/src";
    write_counters(&source[0], 1);
    wait_caught_up(&source[0], &target[0], log, &mut [&mut sync]);

    let promoted = sentinels.failover("src");
    let src = on(&source, promoted);
    write_counters(src, 2);
    wait_caught_up(src, &target[0], log, &mut [&mut sync]);
    assert_identical(src, &target[0]);
    assert_only_partial_syncs(src);

    let promoted = sentinels.failover("tgt");
    let tgt = on(&target, promoted);
    write_counters(src, 3);
    wait_caught_up(src, tgt, log, &mut [&mut sync]);
    assert_identical(src, tgt);
    let log = sync.stop();
    assert!(
        log.contains("continuing"),
        "no partial resync logged:\n{log}"
    );
}

/// Every sync that slotstream (a replica without a port of its own) asked of `server` was
/// partial: the server's own log says so (its `sync_full` also counts the old primary's).
fn assert_only_partial_syncs(server: &RedisServer) {
    let log = server.log();
    let name = "127.0.0.1:<unknown-replica-port>";
    let asked = log
        .matches(&format!("Replica {name} asks for synchronization"))
        .count();
    let partial = log
        .matches(&format!(
            "Partial resynchronization request from {name} accepted"
        ))
        .count();
    assert!(
        asked >= 1 && partial == asked,
        "{asked} syncs asked, {partial} partial:\n{log}"
    );
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use common::broker::{consume_cmd_to, produce_cmd_from, unique_topic};
    use common::follow::broker_with_topic;

    /// `produce` and `consume` given sentinel URLs follow a failover of the source and of the
    /// target, through the suite's broker.
    #[test]
    fn produce_and_consume_follow_failovers_through_sentinels() {
        let source = primary_with_replica();
        let target = primary_with_replica();
        let sentinels = Sentinels::start(&[("src", source[0].port()), ("tgt", target[0].port())]);
        write_full(&mut source[0].conn());
        let topic = unique_topic("sentinel");
        let broker = broker_with_topic(&topic);
        let mut produce = produce_cmd_from(&sentinels.url("src"), &broker, &topic, PARTITIONS);
        let mut producer = Proc::spawn(&mut produce, "produce");
        let mut consume = consume_cmd_to(&sentinels.url("tgt"), &broker, &topic);
        let mut consumer = Proc::spawn(&mut consume, "consume");
        write_counters(&source[0], 1);
        wait_caught_up(
            &source[0],
            &target[0],
            &topic,
            &mut [&mut producer, &mut consumer],
        );

        let src = on(&source, sentinels.failover("src"));
        write_counters(src, 2);
        let tgt = on(&target, sentinels.failover("tgt"));
        write_counters(src, 3);
        wait_caught_up(src, tgt, &topic, &mut [&mut producer, &mut consumer]);
        assert_identical(src, tgt);
        assert_only_partial_syncs(src);
        consumer.stop();
        let log = producer.stop();
        let primary = format!("source=127.0.0.1:{}", src.port());
        assert!(
            log.contains(&primary),
            "the promoted source was not read:\n{log}"
        );
    }
}
