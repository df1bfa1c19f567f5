//! `--snapshot-max-ops` on `sync` (over `--max-ops`): the snapshot's writes keep to the limit
//! (keys per second, each key of a batched `MSET` counted), measured from the target's key
//! count over 10 s. `consume` and
//! `replay` take the same option (tests/kafka_path.rs uses it to slow a snapshot down).
//! `--source-max-bytes`: what is read from the source keeps to the limit, measured the same way
//! with values of known size that do not compress. SIGHUP sets the limits the config file
//! says now, without a restart.

mod common;

use common::dataset::write_small_strings;
use common::follow::{sync_cmd, Proc};
use common::{key_count, RedisServer};
use std::time::{Duration, Instant};

const LIMIT: f64 = 5_000.0;

/// Keys per second reaching `target` over 10 s, once it holds `past` keys.
fn measured_rate(target: &RedisServer, past: u64, sync: &Proc) -> f64 {
    rate_over(target, past, sync, Duration::from_secs(10))
}

/// Keys per second reaching `target` over `span`, once it holds `past` keys.
fn rate_over(target: &RedisServer, past: u64, sync: &Proc, span: Duration) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    while key_count(target) < past {
        assert!(Instant::now() < deadline, "no progress:\n{}", sync.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (from, began) = (key_count(target), Instant::now());
    std::thread::sleep(span);
    let (to, took) = (key_count(target), began.elapsed());
    (to - from) as f64 / took.as_secs_f64()
}

#[test]
fn sync_keeps_the_snapshot_to_its_max_ops() {
    let source = RedisServer::start();
    write_small_strings(&mut source.conn(), 100_000);
    let target = RedisServer::start();
    let mut cmd = sync_cmd(&source, &target);
    // The snapshot's own limit wins over --max-ops (which would leave it at one key a second).
    cmd.args(["--snapshot-only", "--max-ops", "1"])
        .args(["--snapshot-max-ops", &(LIMIT as u32).to_string()]);
    let sync = Proc::spawn(&mut cmd, "sync");
    // Past the first second's burst.
    let rate = measured_rate(&target, 10_000, &sync);
    assert!(
        (LIMIT * 0.9..=LIMIT * 1.1).contains(&rate),
        "{rate:.0} keys/s with --max-ops {LIMIT}:\n{}",
        sync.log()
    );
    sync.stop();
}

/// `--live-max-ops` holds live changes to their limit, measured the same way over a backlog of
/// live writes made at once (the snapshot, empty, unlimited).
#[test]
fn sync_keeps_live_changes_to_their_max_ops() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut cmd = sync_cmd(&source, &target);
    cmd.args(["--live-max-ops", "3000", "--ttl-extension-secs", "600"]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    let log = common::follow::sync_log(&source);
    common::follow::wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    write_small_strings(&mut source.conn(), 60_000);
    // Past the first second's burst.
    let rate = rate_over(&target, 4_000, &sync, Duration::from_secs(10));
    assert!(
        (2_700.0..=3_300.0).contains(&rate),
        "{rate:.0} live writes/s with --live-max-ops 3000:\n{}",
        sync.log()
    );
    common::follow::wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    common::follow::assert_identical_with(&source, &target, 600_000);
    sync.stop();
}

/// Values this long, of bytes that do not compress (the RDB stores them as they are).
const VALUE_BYTES: usize = 10_000;
const READ_LIMIT: f64 = 3_000_000.0;

#[test]
fn sync_reads_the_source_no_faster_than_source_max_bytes() {
    let source = RedisServer::start();
    let mut conn = source.conn();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..4_000 {
        let value = common::dataset::incompressible(&mut seed, VALUE_BYTES);
        let _: () = redis::cmd("SET")
            .arg(format!("big:{i:05}"))
            .arg(value)
            .query(&mut conn)
            .unwrap();
    }
    let target = RedisServer::start();
    let mut cmd = sync_cmd(&source, &target);
    cmd.args([
        "--snapshot-only",
        "--source-max-bytes",
        &(READ_LIMIT as u64).to_string(),
    ]);
    let sync = Proc::spawn(&mut cmd, "sync");
    // Each key is its value and about 20 bytes of name and framing in the RDB.
    let rate = measured_rate(&target, 400, &sync) * (VALUE_BYTES + 20) as f64;
    assert!(
        (READ_LIMIT * 0.9..=READ_LIMIT * 1.1).contains(&rate),
        "{rate:.0} bytes/s read with --source-max-bytes {READ_LIMIT}:\n{}",
        sync.log()
    );
    sync.stop();
}

/// Writes this many commands into one slot: one partition, whose queue holds 4,096 records;
/// the rest wait in the source's replica output buffer while the copy is held back.
const BACKLOG: usize = 24_000;

/// A copy held back (here by `--live-max-ops`) falls behind in the source's replica buffer,
/// where the capture cannot see it. Commands are dated by when the source wrote them, so the
/// warning that the copy applies them later than the TTL extension fires: at 4,000 commands a
/// second the last are about 6 s late. Dated when they were read, they would seem at most the
/// partition queue's 4,096 records late (about 1 s), under the 3 s extension, and a key the
/// source renewed just in time could be lost on the target with nothing said.
#[test]
fn sync_counts_lag_from_when_the_source_wrote_each_command() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut cmd = sync_cmd(&source, &target);
    cmd.args(["--live-max-ops", "4000", "--ttl-extension-secs", "3"]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    let log = common::follow::sync_log(&source);
    common::follow::wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    let mut conn = source.conn();
    for chunk in 0..BACKLOG / 1_000 {
        let mut pipe = redis::pipe();
        for i in chunk * 1_000..(chunk + 1) * 1_000 {
            pipe.cmd("SET").arg(format!("{{late}}:{i}")).arg(i).ignore();
        }
        let _: () = pipe.query(&mut conn).unwrap();
    }
    common::follow::wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    let text = sync.log();
    assert!(
        text.contains("after the source ran them"),
        "no warning that {BACKLOG} commands held back at 4,000/s apply later than the 3 s \
         extension:\n{text}"
    );
    common::follow::assert_identical(&source, &target);
    sync.stop();
}

/// SIGHUP reads the options again, the config file included: a snapshot held to 2,000 keys a
/// second goes on at the file's new 8,000 without a restart, and the new limits are logged.
#[test]
fn sighup_takes_the_config_file_s_new_limits() {
    let source = RedisServer::start();
    write_small_strings(&mut source.conn(), 150_000);
    let target = RedisServer::start();
    let config = std::env::temp_dir().join(format!("slotstream-{}-hup.toml", std::process::id()));
    let limit = |ops: u32| {
        let file = format!("[sync]\nsnapshot-max-ops = {ops}\nsource-max-bytes = 50000000\n");
        std::fs::write(&config, file).unwrap()
    };
    limit(2_000);
    let mut cmd = sync_cmd(&source, &target);
    cmd.args(["--snapshot-only", "--config"]).arg(&config);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    // Past the first second's burst.
    let slow = rate_over(&target, 3_000, &sync, Duration::from_secs(4));
    assert!(
        (1_600.0..=2_400.0).contains(&slow),
        "{slow:.0} keys/s under a limit of 2,000:\n{}",
        sync.log()
    );
    limit(8_000);
    sync.signal("HUP");
    common::follow::wait_logged(
        &sync,
        "limits now: writes to the target snapshot 8000 ops/s, live unlimited; reads from the \
         source 50000000 bytes/s",
        Duration::from_secs(10),
    );
    let fast = rate_over(&target, 0, &sync, Duration::from_secs(5));
    assert!(
        (6_800.0..=9_200.0).contains(&fast),
        "{fast:.0} keys/s after SIGHUP set the limit to 8,000:\n{}",
        sync.log()
    );
    let status = sync.wait_exit(Duration::from_secs(120), "the snapshot-only sync to end");
    assert!(status.success(), "sync failed:\n{}", sync.log());
    common::follow::assert_identical(&source, &target);
    let _ = std::fs::remove_file(&config);
}
