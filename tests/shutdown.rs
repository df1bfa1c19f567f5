//! Stopping on a signal: SIGTERM in the middle of a big `sync` snapshot ends the run promptly
//! and cleanly (a restart then copies everything), a second signal exits at once, and a drain
//! that cannot finish ends at its deadline.

mod common;

use common::assert_same_contents;
use common::follow::{sync_cmd, sync_log, wait_caught_up, write_counters, Proc};
use common::interrupt::{
    big_source, data_keys, fast_snapshots, populate, slow_snapshots, wait_for_keys,
};
use common::RedisServer;
use std::time::{Duration, Instant};

const KEYS: u64 = 1_000_000;

/// The acceptance bound for signal → exit. The goal is 2 s; the bound is generous because this
/// machine's two cores are shared, and the measured time is printed.
const PROMPT: Duration = Duration::from_secs(10);

#[test]
fn sigterm_in_the_middle_of_a_sync_snapshot_stops_promptly_and_a_rerun_completes() {
    let source = big_source();
    let target = RedisServer::start();
    populate(&source, KEYS);
    slow_snapshots(&source);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_for_keys(&target, 20_000, &mut [&mut sync]);
    fast_snapshots(&source);

    sync.signal("TERM");
    let signalled = Instant::now();
    while sync.child.try_wait().unwrap().is_none() {
        assert!(
            signalled.elapsed() < PROMPT * 3,
            "sync did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = signalled.elapsed();
    let status = sync.wait_exit(PROMPT, "sync exited");
    println!("sync exited {took:?} after SIGTERM in the middle of a {KEYS}-key snapshot");
    let log = sync.log();
    assert!(
        status.success(),
        "sync failed on SIGTERM ({status}):\n{log}"
    );
    assert!(took < PROMPT, "sync took {took:?} to stop:\n{log}");
    assert!(
        log.contains("stopped in the middle of the snapshot"),
        "no log line says where it stopped:\n{log}"
    );
    let partial = data_keys(&target);
    assert!(
        partial > 0 && partial < KEYS,
        "the target should hold part of the snapshot, holds {partial} of {KEYS} keys"
    );

    let mut again = Proc::spawn(sync_cmd(&source, &target).arg("--snapshot-only"), "sync");
    let status = again.wait_exit(Duration::from_secs(300), "the second sync did not finish");
    let log = again.log();
    assert!(status.success(), "the second sync failed:\n{log}");
    assert!(
        log.contains("next_epoch=2"),
        "no new epoch was taken:\n{log}"
    );
    assert_eq!(
        assert_same_contents(&source.url(), &target.url()),
        KEYS as usize
    );
}

/// A sync following a source into a target that stopped answering: its drain cannot finish.
fn sync_stuck_on_a_paused_target() -> (RedisServer, RedisServer, Proc) {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    write_counters(&source, 0);
    wait_caught_up(&source, &target, &sync_log(&source), &mut [&mut sync]);
    target.pause();
    // Commands for every partition to write to the frozen target.
    write_counters(&source, 1);
    std::thread::sleep(Duration::from_millis(500));
    (source, target, sync)
}

#[test]
fn a_second_signal_exits_at_once() {
    let (_source, target, mut sync) = sync_stuck_on_a_paused_target();
    sync.signal("TERM");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        sync.child.try_wait().unwrap().is_none(),
        "the drain should be waiting on the paused target:\n{}",
        sync.log()
    );
    sync.signal("INT");
    let signalled = Instant::now();
    let status = sync.wait_exit(PROMPT, "sync ignored the second signal");
    println!(
        "sync exited {:?} after the second signal",
        signalled.elapsed()
    );
    target.resume();
    let log = sync.log();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("second signal: exiting at once"), "{log}");
}

#[test]
fn a_drain_that_cannot_finish_ends_at_its_deadline() {
    let (_source, target, mut sync) = sync_stuck_on_a_paused_target();
    sync.signal("TERM");
    let signalled = Instant::now();
    let status = sync.wait_exit(Duration::from_secs(60), "sync outlived its drain deadline");
    let took = signalled.elapsed();
    println!("sync exited {took:?} after SIGTERM with its drain stuck");
    target.resume();
    let log = sync.log();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        took >= Duration::from_secs(19),
        "exited before the deadline: {took:?}"
    );
    assert!(log.contains("the drain did not finish in time"), "{log}");
}
