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
