//! A key the source renews just before it would expire, while the copy lags: the target, a
//! primary, expires keys on its own clock, so with the source's own expiry times it would drop
//! the key before the renewal arrives, and later writes would build a new value there (found by
//! the 30-minute soak, RELIABILITY.md). Every expiry is written the TTL extension later, so the
//! key waits for its renewal. This test holds `sync` back (SIGSTOP) across the moment of expiry.

mod common;

use common::follow::{sync_cmd, sync_log, wait_caught_up, Proc};
use common::RedisServer;
use std::time::Duration;

#[test]
fn a_key_renewed_at_its_last_moment_survives_a_lagging_copy() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let log = sync_log(&source);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);

    let mut conn = source.conn();
    let run = |conn: &mut redis::Connection, args: &[&str]| -> redis::Value {
        redis::cmd(args[0]).arg(&args[1..]).query(conn).unwrap()
    };
    run(&mut conn, &["SET", "renewed", "v", "PX", "6000"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    // Sleeps until the key has `left_ms` to live on the source.
    let sleep_until_left = |conn: &mut redis::Connection, left_ms: u64| {
        let ttl: i64 = redis::cmd("PTTL").arg("renewed").query(conn).unwrap();
        let ttl = u64::try_from(ttl).unwrap_or(0);
        assert!(
            ttl > left_ms,
            "the machine is too slow for this test: PTTL {ttl}"
        );
        std::thread::sleep(Duration::from_millis(ttl - left_ms));
    };
    // The copy lags from here on: the renewal reaches the target after the old expiry passed.
    sleep_until_left(&mut conn, 1_100);
    sync.signal("STOP");
    sleep_until_left(&mut conn, 500);
    run(&mut conn, &["PEXPIRE", "renewed", "60000"]);
    run(&mut conn, &["APPEND", "renewed", "+more"]);
    // Past the old expiry.
    std::thread::sleep(Duration::from_millis(1_200));
    sync.signal("CONT");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);

    let on_source: Option<String> = redis::cmd("GET").arg("renewed").query(&mut conn).unwrap();
    let on_target: Option<String> = redis::cmd("GET")
        .arg("renewed")
        .query(&mut target.conn())
        .unwrap();
    assert_eq!(
        on_source.as_deref(),
        Some("v+more"),
        "the source's key expired before its renewal: the machine is too slow for this test"
    );
    assert_eq!(
        on_target, on_source,
        "the target expired the key before its renewal"
    );
    common::assert_same_contents(&source.url(), &target.url());
    sync.stop();
}

/// The sweep after a new epoch's snapshot keeps every key the snapshot wrote. A key whose
/// source expiry time passed while the snapshot was being applied, but not its expiry time on
/// the target (the extension later), is written; it was then left out of the keys the sweep
/// keeps and deleted, so the source's renewal of it, which follows the snapshot, found nothing
/// to renew on the target.
#[test]
fn a_new_epoch_keeps_the_keys_renewed_while_its_snapshot_was_applied() {
    use common::interrupt::{big_source, fast_snapshots, populate, slow_snapshots};
    let source = big_source();
    let target = RedisServer::start();
    populate(&source, 60_000);
    let mut first = Proc::spawn(sync_cmd(&source, &target).arg("--snapshot-only"), "sync");
    let status = first.wait_exit(Duration::from_secs(120), "the first sync did not finish");
    assert!(status.success(), "{}", first.log());

    let mut conn = source.conn();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("renewed:{i}"))
            .arg("v")
            .arg(&["PX", "1500"])
            .query(&mut conn)
            .unwrap();
    }
    // A second snapshot (a new epoch, swept at its end) that takes seconds to arrive: the
    // renewed keys late in it are applied after their source expiry time.
    slow_snapshots(&source);
    let mut second = Proc::spawn(sync_cmd(&source, &target).arg("--snapshot-only"), "sync");
    std::thread::sleep(Duration::from_millis(500));
    for i in 0..200 {
        let _: i64 = redis::cmd("PERSIST")
            .arg(format!("renewed:{i}"))
            .query(&mut conn)
            .unwrap();
    }
    let status = second.wait_exit(Duration::from_secs(120), "the second sync did not finish");
    let log = second.log();
    assert!(status.success(), "{log}");
    assert!(
        log.contains("new epoch: deleted the keys"),
        "no sweep:\n{log}"
    );
    fast_snapshots(&source);

    // The renewals, after the snapshot in the stream.
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    common::follow::assert_identical(&source, &target);
    sync.stop();
}
