//! Interrupting a snapshot in the tests: a source big enough that its transfer takes a while,
//! waiting until the target holds part of it, and counting what the target holds.

use super::follow::Proc;
use super::RedisServer;
use std::time::{Duration, Instant};

/// A source with `DEBUG` allowed (for `DEBUG POPULATE`).
pub fn big_source() -> RedisServer {
    RedisServer::start_with_args(&["--enable-debug-command", "yes"])
}

/// Makes the snapshots `source` starts from now on slow, so a test can interrupt one for sure:
/// each key written waits about 50 µs (`rdb-key-save-delay`, a knob Redis keeps for its own
/// tests), so 500 000 keys take half a minute. The forked child that writes a snapshot keeps the
/// setting it was forked with: [`fast_snapshots`] before an interruption makes the retry fast
/// while the snapshot being interrupted stays slow.
pub fn slow_snapshots(source: &RedisServer) {
    set_snapshot_delay(source, 1);
}

/// Undoes [`slow_snapshots`] for the snapshots started from now on.
pub fn fast_snapshots(source: &RedisServer) {
    set_snapshot_delay(source, 0);
}

fn set_snapshot_delay(source: &RedisServer, micros: i64) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdb-key-save-delay")
        .arg(micros)
        .query(&mut source.conn())
        .expect("CONFIG SET rdb-key-save-delay");
}

/// Writes `keys` small string keys (`key:0`…) on the source, in one command.
pub fn populate(source: &RedisServer, keys: u64) {
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(keys)
        .query(&mut source.conn())
        .expect("DEBUG POPULATE (the source needs --enable-debug-command yes)");
    assert_eq!(data_keys(source), keys);
}

/// Keys in db 0 other than slotstream's own (`__slotstream:…`).
pub fn data_keys(server: &RedisServer) -> u64 {
    let mut conn = server.conn();
    let all: u64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
    let own: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("__slotstream:*")
        .query(&mut conn)
        .unwrap();
    all - own.len() as u64
}

/// Waits until the target holds at least `keys` data keys; panics if one of `procs` exits
/// first or after a liveness bound.
pub fn wait_for_keys(target: &RedisServer, keys: u64, procs: &mut [&mut Proc]) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        // DBSIZE alone: cheap enough to poll often, and checkpoints are a handful of keys.
        let size: u64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
        if size >= keys {
            return;
        }
        for proc in procs.iter_mut() {
            if proc.child.try_wait().unwrap().is_some() {
                panic!("a slotstream process exited early:\n{}", proc.log());
            }
        }
        assert!(
            Instant::now() < deadline,
            "the target did not reach {keys} keys (at {size})"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Deletes every `step`-th key of `key:0`…`key:<keys-1>` on the source; returns how many.
pub fn delete_every(source: &RedisServer, keys: u64, step: u64) -> u64 {
    let mut conn = source.conn();
    let mut pipe = redis::pipe();
    let mut deleted = 0;
    for i in (0..keys).step_by(step as usize) {
        pipe.cmd("DEL").arg(format!("key:{i}")).ignore();
        deleted += 1;
    }
    pipe.exec(&mut conn).unwrap();
    deleted
}
