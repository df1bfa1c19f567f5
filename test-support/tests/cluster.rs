//! The cluster starter itself: every node agrees on the slots, roles are as asked, and keys
//! land on the primary that owns them.

use slotstream_test_support::Cluster;

#[test]
fn a_cluster_with_replicas_is_ready_with_every_slot_owned() {
    let cluster = Cluster::start(3, 1);
    assert_eq!(cluster.nodes().len(), 6);
    assert_eq!(cluster.primaries().len(), 3);
    assert_eq!(cluster.replicas().len(), 3);
    for node in cluster.nodes() {
        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut node.conn())
            .unwrap();
        assert!(info.contains("cluster_state:ok"), "{info}");
        assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    }
    for i in 0..30 {
        cluster.set(&format!("k{i}"), "v");
    }
    let held: u64 = cluster
        .primaries()
        .iter()
        .map(|p| redis::cmd("DBSIZE").query::<u64>(&mut p.conn()).unwrap())
        .sum();
    assert_eq!(held, 30);
    assert!(cluster
        .primaries()
        .iter()
        .all(|p| redis::cmd("DBSIZE").query::<u64>(&mut p.conn()).unwrap() > 0));
}
