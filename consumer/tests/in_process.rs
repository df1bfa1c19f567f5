//! The apply side on a real destination with records fed by hand: what it applies, what it
//! skips, and that a restart (a new run reading its checkpoints) applies nothing twice.

mod harness;

use harness::{
    barrier, command, epoch_begin, list_chunk, record, snapshot_end, string_key, Harness,
};
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

#[tokio::test(flavor = "multi_thread")]
async fn a_replay_across_epochs_deletes_what_a_later_snapshot_lacks() {
    // `replay` keeps no checkpoints; an epoch boundary must still sweep.
    let h = Harness::new(1);
    let records = vec![
        (0, record(1, 100, 0, epoch_begin(1, 9))),
        (0, record(1, 100, 1, string_key("kept", "1", None))),
        (0, record(1, 100, 2, string_key("gone", "2", None))),
        (0, record(1, 100, 3, snapshot_end(2))),
        (0, record(2, 500, 0, epoch_begin(1, 9))),
        (0, record(2, 500, 1, string_key("kept", "3", None))),
        (0, record(2, 500, 2, snapshot_end(1))),
    ];
    h.replay(&records).await.summary();
    let mut conn = h.conn();
    let kept: String = conn.get("kept").unwrap();
    assert_eq!(kept, "3");
    assert!(
        !conn.exists::<_, bool>("gone").unwrap(),
        "a key the newer snapshot lacks survived the replay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_right_after_a_snapshot_batch_leaves_it_to_be_applied_again_harmlessly() {
    let h = Harness::new(1);
    let key = "big";
    let records = vec![
        (0, record(1, 100, 0, epoch_begin(1, 9))),
        (
            0,
            record(1, 100, 1, list_chunk(key, 0, true, false, &items(0..3))),
        ),
        (0, record(1, 100, 2, string_key("plain", "p", None))),
        (
            0,
            record(1, 100, 3, list_chunk(key, 1, false, false, &items(3..6))),
        ),
        (
            0,
            record(1, 100, 4, list_chunk(key, 2, false, true, &items(6..9))),
        ),
        (0, record(1, 100, 5, snapshot_end(2))),
        (0, record(1, 110, 0, command(&["INCR", "n"]))),
    ];
    // The first run stops at the first chunk: the checkpoint is there.
    h.run(&records[..2]).await.summary();
    assert_eq!(h.checkpoint(0), Some((1, 100, 1)));

    // The second applies the rest of the snapshot and dies right after its EXEC.
    fail::cfg("commit-after-exec", "return").unwrap();
    let stopped = h.run(&records[..6]).await;
    fail::remove("commit-after-exec");
    let err = stopped.outcome.expect_err("the failpoint stops the run");
    assert!(err.to_string().contains("failpoint"), "{err}");
    let mut conn = h.conn();
    let list: Vec<String> = conn.lrange(key, 0, -1).unwrap();
    assert_eq!(list, items(0..9), "the batch ran");
    assert_eq!(
        h.checkpoint(0),
        Some((1, 100, 1)),
        "the checkpoint covers only what was checked"
    );

    // The restart applies that batch again: nothing doubles.
    h.run(&records).await.summary();
    let list: Vec<String> = conn.lrange(key, 0, -1).unwrap();
    assert_eq!(list, items(0..9), "every element once");
    let plain: String = conn.get("plain").unwrap();
    assert_eq!(plain, "p");
    let n: i64 = conn.get("n").unwrap();
    assert_eq!(n, 1);
    let bookkeeping: Vec<String> = conn.keys("__slotstream:*").unwrap();
    assert_eq!(
        bookkeeping,
        ["__slotstream:checkpoint:in-process:0"],
        "the temporary key and the part mark are gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_a_snapshot_batch_and_its_checkpoint_loses_nothing() {
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
    h.run(&records[..2]).await.summary();
    fail::cfg("commit-between-batch-and-checkpoint", "return").unwrap();
    let err = h
        .run(&records)
        .await
        .outcome
        .expect_err("the failpoint stops the run");
    assert!(err.to_string().contains("failpoint"), "{err}");
    fail::remove("commit-between-batch-and-checkpoint");
    let mut conn = h.conn();
    let part: Option<String> = conn.get(format!("__slotstream:part:{{{key}}}")).unwrap();
    assert_eq!(
        part.as_deref(),
        Some("2"),
        "the part mark says how far the value got"
    );

    h.run(&records).await.summary();
    let list: Vec<String> = conn.lrange(key, 0, -1).unwrap();
    assert_eq!(
        list,
        items(0..9),
        "the parts an earlier run applied are passed over"
    );
    let part: Option<String> = conn.get(format!("__slotstream:part:{{{key}}}")).unwrap();
    assert_eq!(part, None, "the part mark goes with the checkpoint");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_snapshot_write_leaves_the_checkpoint_before_its_batch() {
    let h = Harness::new(1);
    let mut corrupt = string_key("corrupt", "v", None);
    if let slotstream_schemas::Body::SnapshotKey(key) = &mut corrupt {
        // A TTL takes it off the MSET path; a bad length makes its RESTORE fail inside EXEC.
        key.expire_ms = Some(slotstream_schemas::now_ms() + 3_600_000);
        key.object = vec![0x3f, b'x'];
    }
    let records = vec![
        (0, record(1, 100, 0, epoch_begin(1, 9))),
        (0, record(1, 100, 1, snapshot_end(0))),
        (0, record(1, 200, 0, epoch_begin(1, 9))),
        (0, record(1, 200, 1, string_key("before", "1", None))),
        (0, record(1, 200, 2, corrupt)),
        (0, record(1, 200, 3, string_key("after", "2", None))),
        (0, record(1, 200, 4, snapshot_end(3))),
    ];
    h.run(&records[..2]).await.summary();
    let stored = h.checkpoint(0);
    let failed = h.run(&records).await;
    let err = failed
        .outcome
        .expect_err("the target refuses the corrupt payload");
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert_eq!(
        h.checkpoint(0),
        stored,
        "the checkpoint does not pass a write the target refused"
    );
}

/// Two epochs: the second one's snapshot lacks `gone`, which the source deleted in between.
fn two_epochs() -> Vec<(u32, Record)> {
    vec![
        (0, record(1, 100, 0, epoch_begin(1, 9))),
        (0, record(1, 100, 1, string_key("kept", "1", None))),
        (0, record(1, 100, 2, string_key("gone", "2", None))),
        (0, record(1, 100, 3, snapshot_end(2))),
        (0, record(2, 500, 0, epoch_begin(1, 9))),
        (0, record(2, 500, 1, string_key("kept", "3", None))),
        (0, record(2, 500, 2, snapshot_end(1))),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_with_keys_of_its_own_is_refused_before_any_write() {
    let h = Harness::new(1);
    let mut conn = h.conn();
    let _: () = conn.set("mine", "own data").unwrap();
    let run = h.run(&two_epochs()).await;
    let err = run.outcome.expect_err("a non-empty target is refused");
    let text = err.to_string();
    for needle in ["1 keys", "mine", "--on-existing overwrite"] {
        assert!(text.contains(needle), "{needle} missing in: {text}");
    }
    let keys: Vec<String> = conn.keys("*").unwrap();
    assert_eq!(keys, ["mine"], "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_overwrite_the_keys_of_its_own_survive_every_sweep() {
    let mut h = Harness::new(1);
    h.on_existing = slotstream_consumer::OnExisting::Overwrite;
    let mut conn = h.conn();
    let _: () = conn.set("mine", "own data").unwrap();
    let _: () = conn.set("gone", "overwritten by the copy").unwrap();
    let records = two_epochs();
    h.run(&records[..4]).await.summary();
    h.run(&records).await.summary();
    let mine: String = conn.get("mine").unwrap();
    assert_eq!(
        mine, "own data",
        "the target's own key survived the second epoch's sweep"
    );
    let kept: String = conn.get("kept").unwrap();
    assert_eq!(kept, "3");
    assert!(
        !conn.exists::<_, bool>("gone").unwrap(),
        "a key of its own the copy wrote over is the source's: the source deleted it, so did the sweep"
    );
}
