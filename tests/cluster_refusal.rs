//! A cluster node as the source is refused before anything is written: a node of a cluster holds
//! only its own slots, so copying it would silently copy part of the data. (Cluster sources come
//! later; these tests then change with them. Cluster targets are supported: tests/cluster_target.rs.)

mod common;

use common::{slotstream, RedisServer};
use slotstream_test_support::Cluster;
use std::process::Output;

fn data_keys(server: &RedisServer) -> u64 {
    redis::cmd("DBSIZE").query(&mut server.conn()).unwrap()
}

/// A 3-primary cluster holding `keys` keys spread over its primaries.
fn cluster_with_keys(keys: usize) -> Cluster {
    let cluster = Cluster::start(3, 0);
    for i in 0..keys {
        cluster.set(&format!("key:{i}"), "value");
    }
    cluster
}

fn fails_with(output: Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it should fail:\n{stderr}");
    assert!(stderr.contains(needle), "no {needle:?} in:\n{stderr}");
}

fn sync(source: &str, target: &str) -> Output {
    slotstream()
        .args([
            "sync",
            "--snapshot-only",
            "--source",
            source,
            "--target",
            target,
        ])
        .args(["--retry-for-secs", "0"])
        .output()
        .unwrap()
}

#[test]
fn sync_refuses_a_cluster_node_as_source_before_writing() {
    let cluster = cluster_with_keys(300);
    let node = cluster.primaries()[0];
    assert!(data_keys(node) > 0 && data_keys(node) < 300);
    let target = RedisServer::start();
    fails_with(
        sync(&node.url(), &target.url()),
        "cluster sources are not supported yet",
    );
    assert_eq!(data_keys(&target), 0, "the target was written to");
}

#[cfg(feature = "kafka")]
#[test]
fn kafka_produce_refuses_a_cluster_node_as_source() {
    use common::broker::{produce_cmd, read_all, unique_topic};
    use common::follow::broker_with_topic;

    let cluster = cluster_with_keys(300);
    let topic = unique_topic("cluster");
    let broker = broker_with_topic(&topic);
    let node = cluster.primaries()[0];
    let mut produce = produce_cmd(node, &broker, &topic, common::follow::PARTITIONS);
    let output = produce
        .args(["--snapshot-only", "--retry-for-secs", "0"])
        .output()
        .unwrap();
    fails_with(output, "cluster sources are not supported yet");
    assert!(
        read_all(broker.bootstrap(), &topic).is_empty(),
        "records reached the topic"
    );
}
