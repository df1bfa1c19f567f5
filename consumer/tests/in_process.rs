//! The apply side on a real destination with records fed by hand: what it applies, what it
//! skips, and that a restart (a new run reading its checkpoints) applies nothing twice.

mod harness;

use harness::{barrier, command, epoch_begin, list_chunk, record, snapshot_end, Harness};
use redis::Commands;
use slotstream_schemas::Record;

/// An opened epoch 1 in `partition` (snapshot at offset 100, empty).
fn empty_snapshot(partitions: u32, partition: u32) -> Vec<(u32, Record)> {
    vec![
        (partition, record(1, 100, 0, epoch_begin(partitions, 9))),
        (partition, record(1, 100, 1, snapshot_end(0))),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_skips_what_the_checkpoint_covers_and_applies_the_rest_once() {
    let h = Harness::new(1);
    let mut records = empty_snapshot(1, 0);
    for offset in [110, 120, 130] {
        records.push((0, record(1, offset, 0, command(&["INCR", "n"]))));
    }
    let first = h.run(&records[..4]).await;
    assert_eq!(first.summary().skipped, 0);
    let n: i64 = h.conn().get("n").unwrap();
    assert_eq!(n, 2, "two INCRs applied");

    // The producer sends everything again (a restart of its own), and one more.
    records.push((0, record(1, 140, 0, command(&["INCR", "n"]))));
    let second = h.run(&records).await;
    let n: i64 = h.conn().get("n").unwrap();
    assert_eq!(n, 4, "each INCR applied exactly once");
    assert_eq!(
        second.summary().skipped,
        4,
        "EpochBegin, SnapshotEnd and two INCRs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_within_one_run_are_skipped() {
    let h = Harness::new(1);
    let mut records = empty_snapshot(1, 0);
    let incr = (0, record(1, 110, 0, command(&["INCR", "n"])));
    records.extend([incr.clone(), incr.clone(), incr]);
    records.push((0, record(1, 105, 0, command(&["INCR", "n"]))));
    let run = h.run(&records).await;
    let n: i64 = h.conn().get("n").unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        run.summary().skipped,
        3,
        "two copies and one older position"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_command_keeps_the_batch_applied_exactly_once() {
    // WRONGTYPE on the target is the command's own outcome (the source may have seen it too):
    // counted, and the rest of the batch stands with its checkpoint.
    let h = Harness::new(1);
    let mut records = empty_snapshot(1, 0);
    records.push((0, record(1, 110, 0, command(&["INCR", "c"]))));
    records.push((0, record(1, 115, 0, command(&["LPUSH", "c", "x"]))));
    records.push((0, record(1, 120, 0, command(&["INCR", "c"]))));
    let first = h.run(&records).await;
    first.summary();
    assert_eq!(first.stats.refused(), 1);
    let c: i64 = h.conn().get("c").unwrap();
    assert_eq!(c, 2);

    // A restart reads the same records again: nothing is applied twice.
    records.push((0, record(1, 130, 0, command(&["INCR", "c"]))));
    h.run(&records).await.summary();
    let c: i64 = h.conn().get("c").unwrap();
    assert_eq!(
        c, 3,
        "the INCRs of the batch with the refused command were applied again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_barrier_applies_once_after_every_partition_reached_it() {
    let h = Harness::new(2);
    let (a, b) = (h.key_in("a", 0), h.key_in("b", 1));
    let mut records = empty_snapshot(2, 0);
    records.extend(empty_snapshot(2, 1));
    records.push((0, record(1, 110, 0, command(&["SET", &a, "1"]))));
    records.push((1, record(1, 120, 0, command(&["SET", &b, "2"]))));
    let rename = barrier(&[0, 1], &[&["RENAME", &a, &b]]);
    records.push((0, record(1, 130, 0, rename.clone())));
    records.push((1, record(1, 130, 0, rename)));
    records.push((1, record(1, 140, 0, command(&["APPEND", &b, "+"]))));
    let run = h.run(&records).await;
    run.summary();
    let mut conn = h.conn();
    assert!(!conn.exists::<_, bool>(&a).unwrap(), "renamed away");
    let value: String = conn.get(&b).unwrap();
    assert_eq!(
        value, "1+",
        "RENAME after both SETs, APPEND after the RENAME"
    );
    assert_eq!(run.stats.refused(), 0, "a second RENAME would have failed");

    // Again from the start: everything is covered by the checkpoints.
    let again = h.run(&records).await;
    assert_eq!(again.summary().skipped as usize, records.len());
    let value: String = h.conn().get(&b).unwrap();
    assert_eq!(value, "1+");
}

fn items(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("item-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_value_appears_whole_and_survives_a_restart_in_its_middle() {
    let h = Harness::new(1);
    let key = "big";
    let records = vec![
        (0, record(1, 100, 0, epoch_begin(1, 9))),
        (
            0,
            record(1, 100, 1, list_chunk(key, 0, true, false, &items(0..3))),
        ),
        (
            0,
            record(1, 100, 2, list_chunk(key, 1, false, false, &items(3..6))),
        ),
        (
            0,
            record(1, 100, 3, list_chunk(key, 2, false, true, &items(6..9))),
        ),
        (0, record(1, 100, 4, snapshot_end(1))),
    ];
    // Stopped after two of the three parts: the key does not exist yet.
    h.run(&records[..3]).await.summary();
    let mut conn = h.conn();
    assert!(
        !conn.exists::<_, bool>(key).unwrap(),
        "no half-built value is visible"
    );
    let building: Vec<Vec<u8>> = conn.keys("__slotstream:build:*").unwrap();
    assert_eq!(
        building.len(),
        1,
        "the value is built under one temporary key"
    );

    // The restart reads from the start and adds only the last part.
    h.run(&records).await.summary();
    let list: Vec<String> = conn.lrange(key, 0, -1).unwrap();
    assert_eq!(list, items(0..9), "every element once, in order");
    let building: Vec<Vec<u8>> = conn.keys("__slotstream:build:*").unwrap();
    assert!(
        building.is_empty(),
        "the temporary key was renamed into place"
    );
}
