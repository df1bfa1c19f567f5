//! `--retry-other-for-secs`: a target answering `OOM` is waited for within the window, and the
//! copy goes on once its memory is raised; past the window the run ends with a clear error
//! naming the option and a non-zero exit. (`--retry-for-secs`, the window of dropped links, is
//! exercised by the fault suite.)

mod common;

use common::dataset::write_small_strings;
use common::follow::{assert_identical, fails, sync_cmd, Proc};
use common::RedisServer;
use std::time::{Duration, Instant};

/// What `sync` says about a target out of memory.
const OOM_HINT: &str = "the target is out of memory: raise its maxmemory or free space";

/// A target whose memory limit is just above what it uses: the snapshot's writes are refused.
fn full_target() -> RedisServer {
    let target = RedisServer::start_with_args(&["--maxmemory-policy", "noeviction"]);
    let used: u64 = target
        .info_field("memory", "used_memory")
        .parse()
        .expect("used_memory is a number");
    set_maxmemory(&target, used + 64 * 1024);
    target
}

fn set_maxmemory(server: &RedisServer, bytes: u64) {
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", &bytes.to_string()])
        .query(&mut server.conn())
        .expect("CONFIG SET maxmemory");
}

#[test]
fn a_target_out_of_memory_is_waited_for_within_the_window_and_given_up_past_it() {
    let source = RedisServer::start();
    write_small_strings(&mut source.conn(), 20_000);

    let target = full_target();
    let mut sync = sync_cmd(&source, &target);
    sync.args([
        "--snapshot-only",
        "--skip-check",
        "memory",
        "--retry-other-for-secs",
        "3",
    ]);
    let log = fails(&mut sync, "sync");
    assert!(
        log.contains("gave up after retrying for 3 s (--retry-other-for-secs)"),
        "{log}"
    );
    assert!(log.contains(OOM_HINT), "{log}");

    let target = full_target();
    let mut sync = sync_cmd(&source, &target);
    sync.args([
        "--snapshot-only",
        "--skip-check",
        "memory",
        "--retry-other-for-secs",
        "120",
    ]);
    let mut sync = Proc::spawn(&mut sync, "sync");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sync.log().contains(OOM_HINT) {
        assert!(Instant::now() < deadline, "no OOM refusal:\n{}", sync.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    set_maxmemory(&target, 0);
    let status = sync.wait_exit(Duration::from_secs(120), "sync did not finish");
    assert!(status.success(), "{}", sync.log());
    assert_identical(&source, &target);
}
