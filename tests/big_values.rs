//! Big collections: a 300 MB hash, list, set, sorted set and stream travel in chunks, are built
//! under temporary keys and renamed into place; the copy is identical and `slotstream sync`
//! stays within a fixed memory bound, far below the values' size.

mod common;

use common::{slotstream, verify_identical, RedisServer};

/// Bytes of each big value.
const VALUE_BYTES: usize = 300 << 20;
/// Bytes of each element.
const ELEMENT_BYTES: usize = 1000;
const ELEMENTS: usize = VALUE_BYTES / ELEMENT_BYTES;
/// Peak RSS allowed to `slotstream sync`.
const BOUND_MB: u64 = 256;

/// An element of `ELEMENT_BYTES`, distinct per index and not compressible to nothing.
fn element(kind: &str, i: usize) -> String {
    let mut text = format!("{kind}-{i:09}-");
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while text.len() < ELEMENT_BYTES {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        text.push(char::from(b'a' + (x % 26) as u8));
    }
    text
}

fn write_big_collections(conn: &mut redis::Connection) {
    const PER_PIPELINE: usize = 500;
    for start in (0..ELEMENTS).step_by(PER_PIPELINE) {
        let mut pipe = redis::pipe();
        for i in start..(start + PER_PIPELINE).min(ELEMENTS) {
            pipe.cmd("RPUSH")
                .arg("big:list")
                .arg(element("l", i))
                .ignore();
            pipe.cmd("SADD")
                .arg("big:set")
                .arg(element("s", i))
                .ignore();
            pipe.cmd("HSET")
                .arg("big:hash")
                .arg(format!("field:{i}"))
                .arg(element("h", i))
                .ignore();
            pipe.cmd("ZADD")
                .arg("big:zset")
                .arg(i as f64 / 7.0)
                .arg(element("z", i))
                .ignore();
            pipe.cmd("XADD")
                .arg("big:stream")
                .arg(format!("{}-1", i + 1))
                .arg("payload")
                .arg(element("x", i))
                .ignore();
        }
        pipe.query::<()>(conn).unwrap();
    }
    let mut conn_cmds = |args: &[&str]| {
        let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(conn).unwrap();
    };
    conn_cmds(&["XGROUP", "CREATE", "big:stream", "readers", "0"]);
    conn_cmds(&[
        "XREADGROUP",
        "GROUP",
        "readers",
        "r1",
        "COUNT",
        "50",
        "STREAMS",
        "big:stream",
        ">",
    ]);
    conn_cmds(&["PEXPIRE", "big:hash", "36000000"]);
}

#[test]
fn big_collections_travel_in_chunks_within_bounded_memory() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    write_big_collections(&mut source.conn());
    let output = slotstream()
        .args(["sync", "--snapshot-only", "--source", &source.url()])
        .args(["--target", &target.url()])
        .output()
        .expect("run slotstream");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sync failed:\n{stderr}");
    let mut target_conn = target.conn();
    let renames: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut target_conn)
        .unwrap();
    assert!(
        renames.contains("cmdstat_rename:calls=5,"),
        "the five values were not built under temporary keys and renamed:\n{renames}"
    );
    verify_identical(&source, &target);
    let peak_mb: u64 = stdout
        .split("peak RSS")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stdout:?}"));
    println!("peak RSS of slotstream sync with 5 × 300 MB values: {peak_mb} MB");
    assert!(
        peak_mb < BOUND_MB,
        "peak RSS {peak_mb} MB is over the {BOUND_MB} MB bound"
    );
}
