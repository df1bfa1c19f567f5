//! The source link of `sync` through a [`Proxy`]: cut several times in the middle of the
//! snapshot (the link slowed so the snapshot lasts long enough to be cut there) and in the live
//! phase, under the mixed workload and the ledger. Every cut is survived: the destination ends
//! identical, with no ledger write lost or doubled. Then the link stalls for longer than
//! `--retry-for-secs` allows, and the run ends with an error that says it gave up, and on what.

use crate::chance::{self, Chance};
use crate::check::assert_converged;
use crate::common::audit::Ledger;
use crate::common::follow::{sync_cmd_from, wait_caught_up, Proc};
use crate::common::workload;
use crate::common::RedisServer;
use crate::kills::workload_config;
use crate::rig::{
    checkpoints, half_built_values, replica_state, wait_until, write_snapshot_data, KAFKA_BIG_LIST,
};
use slotstream_test_support::proxy::Proxy;
use std::time::{Duration, Instant};

/// Cuts in the snapshot and in the live phase: 3 and 4 for the default 20 kills, more when
/// `SLOTSTREAM_FAULT_KILLS` asks for more.
fn cuts() -> (usize, usize) {
    let kills = chance::kills();
    ((kills / 7).max(3), (kills / 5).max(4))
}
/// Long enough for the cuts of the snapshot, which are one outage (no live progress between
/// them); the live cuts are each an outage of their own.
const RETRY_FOR_SECS: &str = "60";
/// The window of the run that meets a stalled link.
const STALL_RETRY_FOR_SECS: &str = "4";
/// A stalled link shows in seconds (the source pings every second).
const SOURCE_TIMEOUT_SECS: &str = "2";
/// Each read of the snapshot (up to 16 KiB) waits this long in the proxy: about 1.5 MB take
/// a few seconds.
const SLOW: Duration = Duration::from_millis(30);
/// What `sync` logs for each lost link.
const LINK_LOST: &str = "link lost; starting again from the saved position";

#[test]
fn sync_survives_a_cut_source_link_and_gives_up_on_a_stalled_one() {
    let name = "network-sync";
    let seed = chance::seed(name);
    let mut chance = Chance::new(seed);
    let started = Instant::now();
    let (snapshot_cuts, live_cuts) = cuts();
    // Pings every second keep an idle live link from looking dead to a short timeout.
    let source = RedisServer::start_with_args(&["--repl-ping-replica-period", "1"]);
    let target = RedisServer::start();
    // The smaller big list: slowed by the proxy, the snapshot lasts a few seconds.
    write_snapshot_data(&source, KAFKA_BIG_LIST);
    let proxy = Proxy::start(&format!("127.0.0.1:{}", source.port()));
    let log_name = format!("sync:{}", proxy.addr());
    let writer = workload::spawn(&source.url(), workload_config(seed));
    let ledger = Ledger::spawn(&source.url());

    proxy.slow(SLOW);
    let mut cmd = sync_cmd_from(&proxy.url(), &target);
    cmd.args(["--chunk-bytes", KAFKA_BIG_LIST.chunk_bytes])
        .args(["--retry-for-secs", RETRY_FOR_SECS])
        .args(["--source-timeout-secs", SOURCE_TIMEOUT_SECS]);
    let mut sync = Proc::spawn(&mut cmd, "sync");

    // In the snapshot: a newer epoch than at the last cut shows in the checkpoints, not done.
    let mut epoch_at_cut = 0;
    for cut in 0..snapshot_cuts {
        wait_until(&mut sync, "a new snapshot under way", |_| {
            let (done, epoch) = checkpoints(&target, &log_name);
            epoch > epoch_at_cut && done != Some(true)
        });
        std::thread::sleep(chance.ms(100, 1_200));
        let (done, epoch) = checkpoints(&target, &log_name);
        proxy.cut();
        assert_ne!(done, Some(true), "cut {cut} came after the snapshot");
        eprintln!("{name}: cut {cut} in the snapshot of epoch {epoch}");
        epoch_at_cut = epoch;
    }
    proxy.open();

    // Live: every checkpoint done, the replica online on a link made after the last cut.
    for cut in 0..live_cuts {
        let accepted = proxy.accepted();
        wait_until(&mut sync, "the live phase on a new link", |_| {
            proxy.accepted() > accepted
                && checkpoints(&target, &log_name).0 == Some(true)
                && replica_state(&source).as_deref() == Some("online")
        });
        std::thread::sleep(chance.ms(300, 1_500));
        proxy.cut();
        eprintln!("{name}: cut {cut} in the live phase");
    }

    let counts = ledger.stop();
    let report = writer.stop_and_wait();
    wait_caught_up(&source, &target, &log_name, &mut [&mut sync]);
    // Printed before the contents are compared, so a failing run says what it lost too.
    let converged = assert_converged(name, &source, &target, counts, || sync.log());
    let left = half_built_values(&target);
    assert!(
        left.is_empty(),
        "half-built values left on the target: {left:?}"
    );
    let lost_links = sync.log().matches(LINK_LOST).count();
    assert!(
        lost_links >= snapshot_cuts + live_cuts,
        "{} cuts but {lost_links} lost links logged:\n{}",
        snapshot_cuts + live_cuts,
        sync.log()
    );

    // A stall: connections stay open, nothing passes, new ones hang too. A run with a short
    // window meets it.
    sync.stop();
    let mut cmd = sync_cmd_from(&proxy.url(), &target);
    cmd.args(["--retry-for-secs", STALL_RETRY_FOR_SECS])
        .args(["--source-timeout-secs", SOURCE_TIMEOUT_SECS]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    wait_until(&mut sync, "the live phase again", |_| {
        replica_state(&source).as_deref() == Some("online")
    });
    std::thread::sleep(Duration::from_secs(1));
    proxy.stall();
    let stalled = Instant::now();
    let status = sync.wait_exit(
        Duration::from_secs(120),
        "sync went on with its source link stalled past --retry-for-secs",
    );
    let log = sync.log();
    let error = log
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("sync ended ({status}) without an error line:\n{log}"));
    assert!(
        !status.success(),
        "sync ended with {status} on a stalled link:\n{log}"
    );
    for wanted in [
        "gave up after retrying for",
        "(--retry-for-secs)",
        &format!("source {}", proxy.addr()),
    ] {
        assert!(
            error.contains(wanted),
            "the error does not say {wanted:?}: {error}"
        );
    }
    eprintln!("{name}: stalled link: {:.0?} to {error}", stalled.elapsed());
    eprintln!(
        "{name}: seed {seed}, {snapshot_cuts} cuts in the snapshot and {live_cuts} live, \
         {lost_links} lost links survived; {}",
        converged.summary(report.ops, started.elapsed())
    );
}
