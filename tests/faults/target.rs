//! The destination fails under a live `sync`, with the mixed workload and the ledger running:
//! it runs out of memory (`maxmemory` with `noeviction`), then it crashes (SIGKILL) and comes
//! back from its append-only file. Out of memory, `sync` names the cause and what to do and
//! waits, applying nothing it cannot cover; once memory is raised it goes on. After the crash
//! the checkpoints come back with the data they were written with (one transaction, one AOF
//! entry), so the run continues from there. The destination ends identical, with no ledger
//! write lost or doubled.
//!
//! A second test fails the destination over and back: its replica is promoted and the
//! destination made a replica of it (`READONLY` to `sync`, and its data replaced by the
//! replica's, which may lack the last writes and their checkpoints alike), then the roles are
//! swapped back. `sync` waits, reads the checkpoints afresh and goes on from them.

use crate::chance::{self, Chance};
use crate::check::assert_converged;
use crate::common::audit::Ledger;
use crate::common::dataset;
use crate::common::follow::{sync_cmd, wait_caught_up, Proc};
use crate::common::workload::{self, Workload};
use crate::common::RedisServer;
use crate::kills::workload_config;
use crate::rig::{replica_state, wait_until};
use std::time::{Duration, Instant};

/// What `sync` says about a target out of memory (consumer/src/error.rs, `hint_for`).
const OOM_HINT: &str = "the target is out of memory: raise its maxmemory or free space";
/// What `sync` says about a target that is a replica (`hint_for`).
const READONLY_HINT: &str = "the target is a replica: point --target at its primary";
/// What `sync` logs for each lost link.
const LINK_LOST: &str = "link lost; starting again from the saved position";
/// Small strings in the snapshot, before the live phase.
const SNAPSHOT_KEYS: usize = 5_000;

#[test]
fn sync_survives_a_target_out_of_memory_and_a_crashed_one() {
    let name = "target-sync";
    // Every write on disk before its reply: a crash loses nothing the target acknowledged.
    let mut target = RedisServer::start_with_args(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--maxmemory-policy",
        "noeviction",
    ]);
    let mut live = LiveSync::start(name, &target);
    let (source, sync, chance) = (&live.source, &mut live.sync, &mut live.chance);

    // Out of memory: the limit just above what the target uses, so the workload's next writes
    // are refused.
    std::thread::sleep(chance.ms(300, 1_500));
    let used = used_memory(&target);
    set_maxmemory(&target, used + 64 * 1024);
    wait_until(sync, "the out-of-memory error in the log", |sync| {
        sync.log().contains(OOM_HINT)
    });
    let refusals_at_limit = sync.log().matches(OOM_HINT).count();
    // It keeps waiting for memory rather than giving up.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        sync.child.try_wait().expect("try_wait").is_none(),
        "sync exited with its target out of memory:\n{}",
        sync.log()
    );
    set_maxmemory(&target, 0);
    eprintln!(
        "{name}: target out of memory at {used} bytes used, {refusals_at_limit} refusals logged"
    );

    // A crash of the target: what comes back is what its AOF holds.
    let lost_before = sync.log().matches(LINK_LOST).count();
    wait_until(sync, "the live phase after the memory was raised", |sync| {
        is_live(source) && sync.log().matches(LINK_LOST).count() == lost_before
    });
    std::thread::sleep(chance.ms(300, 1_500));
    target.kill_and_restart();
    eprintln!("{name}: target killed and restarted from its AOF");
    wait_until(sync, "the link to the restarted target lost", |sync| {
        sync.log().matches(LINK_LOST).count() > lost_before
    });
    wait_until(sync, "the live phase after the crash", |_| is_live(source));
    std::thread::sleep(chance.ms(300, 1_500));
    live.finish(&target, "target out of memory once and crashed once");
}

#[test]
fn sync_waits_out_a_target_failed_over_to_its_replica_and_back() {
    let name = "target-readonly";
    let target = RedisServer::start();
    let standby = RedisServer::start();
    replicate(&standby, Some(&target));
    wait_for_link(&standby);
    let mut live = LiveSync::start(name, &target);
    let (source, sync, chance) = (&live.source, &mut live.sync, &mut live.chance);

    // Over: the standby takes over, the target follows it and refuses writes.
    std::thread::sleep(chance.ms(300, 1_500));
    replicate(&standby, None);
    replicate(&target, Some(&standby));
    wait_until(sync, "the READONLY refusal in the log", |sync| {
        sync.log().contains(READONLY_HINT)
    });
    wait_for_link(&target);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        sync.child.try_wait().expect("try_wait").is_none(),
        "sync exited with its target a replica:\n{}",
        sync.log()
    );
    // And back: the target takes over again, the standby follows it.
    replicate(&target, None);
    replicate(&standby, Some(&target));
    eprintln!("{name}: target failed over to its replica and back");
    let refusals = sync.log().matches(READONLY_HINT).count();
    wait_until(sync, "the live phase after the failover", |_| {
        is_live(source)
    });
    std::thread::sleep(chance.ms(300, 1_500));
    live.finish(&target, &format!("{refusals} READONLY refusals logged"));
}

/// A live `sync` from a fresh source (small strings, then the mixed workload and the ledger)
/// into a target, past its snapshot; [`LiveSync::finish`] stops the writes and checks the
/// target.
struct LiveSync {
    name: &'static str,
    seed: u64,
    chance: Chance,
    started: Instant,
    source: RedisServer,
    writer: Workload,
    ledger: Ledger,
    sync: Proc,
}

impl LiveSync {
    fn start(name: &'static str, target: &RedisServer) -> LiveSync {
        let seed = chance::seed(name);
        let started = Instant::now();
        let source = RedisServer::start();
        dataset::write_small_strings(&mut source.conn(), SNAPSHOT_KEYS);
        let writer = workload::spawn(&source.url(), workload_config(seed));
        let ledger = Ledger::spawn(&source.url());
        let mut cmd = sync_cmd(&source, target);
        cmd.args(["--retry-for-secs", "300"]);
        let mut sync = Proc::spawn(&mut cmd, "sync");
        wait_until(&mut sync, "the live phase", |_| is_live(&source));
        LiveSync {
            name,
            seed,
            chance: Chance::new(seed),
            started,
            source,
            writer,
            ledger,
            sync,
        }
    }

    /// Stops the writes, waits for the target, checks it; the summary line says `what` happened.
    fn finish(mut self, target: &RedisServer, what: &str) {
        let counts = self.ledger.stop();
        let report = self.writer.stop_and_wait();
        let log_name = format!("sync:127.0.0.1:{}", self.source.port());
        wait_caught_up(&self.source, target, &log_name, &mut [&mut self.sync]);
        let sync = &self.sync;
        let converged = assert_converged(self.name, &self.source, target, counts, || sync.log());
        eprintln!(
            "{}: seed {}, {what}; {}",
            self.name,
            self.seed,
            converged.summary(report.ops, self.started.elapsed())
        );
    }
}

/// `REPLICAOF` `primary`, or `REPLICAOF NO ONE` with `None`.
fn replicate(server: &RedisServer, primary: Option<&RedisServer>) {
    let mut cmd = redis::cmd("REPLICAOF");
    match primary {
        Some(primary) => cmd.arg("127.0.0.1").arg(primary.port()),
        None => cmd.arg("NO").arg("ONE"),
    };
    let _: () = cmd.query(&mut server.conn()).expect("REPLICAOF");
}

/// Waits until a replica's link to its primary is up (its data loaded).
fn wait_for_link(replica: &RedisServer) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while replica.info_field("replication", "master_link_status") != "up" {
        assert!(
            Instant::now() < deadline,
            "the replica's link never came up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The source's replica (sync) is online: the snapshot is over and commands stream.
fn is_live(source: &RedisServer) -> bool {
    replica_state(source).as_deref() == Some("online")
}

fn used_memory(server: &RedisServer) -> u64 {
    server
        .info_field("memory", "used_memory")
        .parse()
        .expect("used_memory is a number")
}

fn set_maxmemory(server: &RedisServer, bytes: u64) {
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", &bytes.to_string()])
        .query(&mut server.conn())
        .expect("CONFIG SET maxmemory");
}
