//! Kills at named points (consumer/src/failpoints.rs, compiled into test builds only), where a
//! random SIGKILL lands only by luck: `produce` between a snapshot's last record and its
//! `SnapshotEnd`, `produce` with a resume point sent but not acknowledged, `sync` after a
//! barrier committed and before the partitions that waited at it go on. Each process is started
//! with `FAILPOINTS=<point>=return`, ends there as a SIGKILL would, and is started again without
//! it: the destination ends identical, no ledger write lost or doubled.

use crate::check::assert_converged;
use crate::common::audit::Ledger;
use crate::common::dataset;
use crate::common::follow::{sync_cmd, wait_caught_up, Proc};
use crate::common::RedisServer;
use std::process::Command;
use std::time::{Duration, Instant};

/// Small strings in the snapshot.
const SNAPSHOT_KEYS: usize = 3_000;

/// Runs `cmd` with the kill point set as `spec` (`point=return`, or `N*off->return`) until it
/// ends there; returns its log.
fn run_to_kill_point(cmd: &mut Command, name: &str, point: &str, spec: &str) -> String {
    cmd.env("FAILPOINTS", spec);
    let mut victim = Proc::spawn(cmd, name);
    let status = victim.wait_exit(
        Duration::from_secs(120),
        &format!("{name} did not reach the kill point {point}"),
    );
    let log = victim.log();
    assert!(
        !status.success() && log.contains(&format!("failpoint {point}: ending the process")),
        "{name} did not end at {point} ({status}):\n{log}"
    );
    log
}

#[test]
fn sync_killed_after_a_barrier_before_the_partitions_that_waited_go_on() {
    let name = "kill-point-barrier";
    let started = Instant::now();
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_small_strings(&mut source.conn(), SNAPSHOT_KEYS);
    let log_name = format!("sync:127.0.0.1:{}", source.port());
    // The ledger's cross-slot MULTI and Lua script are barriers.
    let ledger = Ledger::spawn(&source.url());
    // Some barriers pass first, so the kill lands in the live phase with checkpoints behind it.
    run_to_kill_point(
        &mut sync_cmd(&source, &target),
        "sync",
        "barrier-applied",
        "barrier-applied=20*off->return",
    );
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    std::thread::sleep(Duration::from_secs(1));
    let counts = ledger.stop();
    wait_caught_up(&source, &target, &log_name, &mut [&mut sync]);
    let converged = assert_converged(name, &source, &target, counts, || sync.log());
    eprintln!(
        "{name}: killed after the 21st barrier; {}",
        converged.summary(0, started.elapsed())
    );
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use crate::common::broker::produce_cmd;
    use crate::common::follow::{KafkaLink, PARTITIONS};

    /// A source holding the snapshot's keys, a target, and a consumer of a fresh topic into it.
    fn consumer_running(name: &str) -> (RedisServer, RedisServer, KafkaLink) {
        let source = RedisServer::start();
        let target = RedisServer::start();
        dataset::write_small_strings(&mut source.conn(), SNAPSHOT_KEYS);
        let mut link = KafkaLink::new(name);
        link.start_consumer(&target);
        (source, target, link)
    }

    /// `produce` into the link's topic, ended at `point` as `spec` says.
    fn produce_to_kill_point(source: &RedisServer, link: &KafkaLink, point: &str, spec: &str) {
        let mut cmd = produce_cmd(source, &link.broker, &link.topic, PARTITIONS);
        run_to_kill_point(&mut cmd, "produce", point, spec);
    }

    /// Starts `produce` again, lets the ledger write a second more, and checks the target;
    /// returns the restarted producer's log.
    fn restart_and_check(
        name: &str,
        started: Instant,
        what: &str,
        source: &RedisServer,
        target: &RedisServer,
        mut link: KafkaLink,
        ledger: Ledger,
    ) -> String {
        link.start_producer(source);
        std::thread::sleep(Duration::from_secs(1));
        let counts = ledger.stop();
        link.wait_caught_up(source, target);
        let (consumer, producer) = link.stop();
        let converged = assert_converged(name, source, target, counts, || consumer);
        eprintln!(
            "{name}: {what}; {}",
            converged.summary(0, started.elapsed())
        );
        producer
    }

    #[test]
    fn produce_killed_between_its_snapshot_and_snapshot_end_takes_a_new_epoch() {
        let name = "kill-point-snapshot-end";
        let started = Instant::now();
        let (source, target, link) = consumer_running(name);
        let point = "snapshot-before-end";
        produce_to_kill_point(&source, &link, point, "snapshot-before-end=return");
        // Keys the cut-short snapshot may have applied go away on the source meanwhile: only
        // the next epoch's sweep removes them from the target.
        let mut conn = source.conn();
        for i in (0..SNAPSHOT_KEYS).step_by(7) {
            let _: () = redis::cmd("DEL")
                .arg(format!("small:{i}"))
                .query(&mut conn)
                .unwrap();
        }
        let ledger = Ledger::spawn(&source.url());
        let what = "killed before SnapshotEnd";
        let producer = restart_and_check(name, started, what, &source, &target, link, ledger);
        assert!(
            producer.contains("stopped in the middle of its snapshot"),
            "the restart did not take a new epoch:\n{producer}"
        );
    }

    #[test]
    fn produce_killed_with_its_resume_point_unacknowledged_goes_on_from_the_one_before() {
        let name = "kill-point-resume";
        let started = Instant::now();
        let (source, target, link) = consumer_running(name);
        let ledger = Ledger::spawn(&source.url());
        // The claim of the epoch, the snapshot complete, then live points: killed at a live one.
        let point = "resume-point-unacknowledged";
        produce_to_kill_point(
            &source,
            &link,
            point,
            "resume-point-unacknowledged=4*off->return",
        );
        let what = "killed with its 5th resume point unacknowledged";
        restart_and_check(name, started, what, &source, &target, link, ledger);
    }
}
