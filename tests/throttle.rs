//! `--max-ops` on `sync`: the snapshot's writes keep to the limit (keys per second, each key
//! of a batched `MSET` counted), measured from the target's key count over 10 s. `consume` and
//! `replay` take the same option (tests/kafka_path.rs uses it to slow a snapshot down).

mod common;

use common::dataset::write_small_strings;
use common::follow::{sync_cmd, Proc};
use common::{key_count, RedisServer};
use std::time::{Duration, Instant};

const LIMIT: f64 = 5_000.0;

#[test]
fn sync_keeps_the_snapshot_to_max_ops() {
    let source = RedisServer::start();
    write_small_strings(&mut source.conn(), 100_000);
    let target = RedisServer::start();
    let mut cmd = sync_cmd(&source, &target);
    cmd.args(["--snapshot-only", "--max-ops", &(LIMIT as u32).to_string()]);
    let sync = Proc::spawn(&mut cmd, "sync");
    // Past the first second's burst.
    let deadline = Instant::now() + Duration::from_secs(60);
    while key_count(&target) < 10_000 {
        assert!(Instant::now() < deadline, "no progress:\n{}", sync.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (from, began) = (key_count(&target), Instant::now());
    std::thread::sleep(Duration::from_secs(10));
    let (to, took) = (key_count(&target), began.elapsed());
    let rate = (to - from) as f64 / took.as_secs_f64();
    assert!(
        (LIMIT * 0.9..=LIMIT * 1.1).contains(&rate),
        "{rate:.0} keys/s with --max-ops {LIMIT}:\n{}",
        sync.log()
    );
    sync.stop();
}
