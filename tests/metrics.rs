//! `--metrics-addr` on a running `sync`: `/healthz` answers while it runs, `/readyz` only once
//! every partition is past its snapshot, `/metrics` counts what the target really received
//! (the snapshot's keys, the live commands) and gives a lag per partition; a taken address
//! stops the command before it writes, naming the option.

mod common;

use common::dataset::write_small_strings;
use common::follow::{
    assert_identical, fails, sync_cmd, sync_log, wait_caught_up, Proc, PARTITIONS,
};
use common::{key_count, RedisServer};
use slotstream_test_support::server::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SNAPSHOT_KEYS: usize = 5_000;
const LIVE_COMMANDS: usize = 300;

/// `GET path` from `addr`: the status and the body (`None`: nothing listens there yet).
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

/// `GET path` until it answers `status`, for at most `limit`.
fn wait_for_status(addr: &str, path: &str, status: u16, limit: Duration, sync: &Proc) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let answer = get(addr, path);
        if let Some((got, body)) = &answer {
            if *got == status {
                return body.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not answer {status} within {limit:?} (last: {answer:?}):\n{}",
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

#[test]
fn sync_serves_health_readiness_and_counters_of_what_it_copied() {
    let source = RedisServer::start();
    write_small_strings(&mut source.conn(), SNAPSHOT_KEYS);
    let target = RedisServer::start();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = sync_cmd(&source, &target);
    cmd.args(["--metrics-addr", &addr, "--ready-lag-secs", "60"]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    wait_for_status(&addr, "/healthz", 200, Duration::from_secs(30), &sync);
    let log = sync_log(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    wait_for_status(&addr, "/readyz", 200, Duration::from_secs(30), &sync);

    let mut conn = source.conn();
    for i in 0..LIVE_COMMANDS {
        let _: () = redis::cmd("SET")
            .arg(format!("live:{i}"))
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_identical(&source, &target);
    let (status, text) = get(&addr, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200, "{text}");
    let applied = sample(&text, "slotstream_snapshot_keys_applied_total");
    assert_eq!(applied as usize, SNAPSHOT_KEYS, "{text}");
    // Live commands are counted once applied; the progress counters are read, not reset.
    let commands = sample(&text, "slotstream_commands_applied_total") as usize;
    assert!(
        commands >= LIVE_COMMANDS,
        "{commands} commands counted, {LIVE_COMMANDS} written and applied:\n{text}"
    );
    assert_eq!(sample(&text, "slotstream_partitions"), PARTITIONS as f64);
    assert_eq!(
        sample(&text, "slotstream_partitions_live"),
        PARTITIONS as f64
    );
    assert_eq!(sample(&text, "slotstream_ready"), 1.0, "{text}");
    let lags = text
        .lines()
        .filter(|l| l.starts_with("slotstream_lag_seconds{"))
        .count();
    assert_eq!(lags, PARTITIONS as usize, "one lag per partition:\n{text}");
    assert_eq!(get(&addr, "/nothing").map(|(s, _)| s), Some(404));

    // The address is taken: a second sync stops at once, naming the option.
    let other = RedisServer::start();
    let mut second = sync_cmd(&source, &other);
    second.args(["--metrics-addr", &addr]);
    let out = fails(&mut second, "a second sync on the same address");
    assert!(
        out.contains(&format!("cannot serve metrics on --metrics-addr {addr}")),
        "{out}"
    );
    assert_eq!(key_count(&other), 0, "the second sync wrote:\n{out}");
    sync.stop();
}
