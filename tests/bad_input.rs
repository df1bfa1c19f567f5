//! Bad input end to end: each case must fail with a clear message naming what failed and where,
//! exit non-zero, and never panic.
//!
//! Snapshots with a bad checksum, an unknown type byte or a cut-off transfer are served by a
//! small stand-in master that speaks the replication handshake; the RDB it serves is a real one,
//! saved by a real `redis-server` and then damaged on purpose.

mod common;

use common::{slotstream, RedisServer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;

/// Runs `slotstream sync --snapshot-only` and returns its output.
fn sync(source: &str, target: &str) -> Output {
    slotstream()
        .args([
            "sync",
            "--snapshot-only",
            "--source",
            source,
            "--target",
            target,
        ])
        .output()
        .expect("run slotstream")
}

/// Asserts a failed run: non-zero exit, no panic, and every `needle` in stderr.
fn assert_fails_with(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "expected failure, got success:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "slotstream panicked:\n{stderr}"
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
}

/// A real RDB: a few keys saved by a real server, one of them named so tests can find it.
fn real_rdb() -> Vec<u8> {
    let server = RedisServer::start();
    let mut conn = server.conn();
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("value-before")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("victim")
        .arg("checksum-protected-value")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("RPUSH")
        .arg("after")
        .arg("x")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut conn).unwrap();
    let dir: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query(&mut conn)
        .unwrap();
    std::fs::read(std::path::Path::new(&dir[1]).join("dump.rdb")).unwrap()
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("pattern in RDB")
}

/// How the stand-in master serves the snapshot.
#[derive(Clone)]
enum Serve {
    /// `$<len>` and all of it.
    Whole(Vec<u8>),
    /// `$<len>` of the whole, then only the first `cut` bytes, then close.
    CutAt(Vec<u8>, usize),
}

/// Starts a stand-in master on a free port; returns its URL. Every connection gets `+OK` to
/// anything but `PING` and `PSYNC` (so plain clients, like the module check, get nothing
/// useful), and a replica that sends `PSYNC` gets `serve`.
fn stand_in_master(serve: Serve) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else {
                return;
            };
            let serve = serve.clone();
            std::thread::spawn(move || serve_replica(stream, serve));
        }
    });
    format!("redis://127.0.0.1:{port}")
}

fn serve_replica(stream: TcpStream, serve: Serve) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let command = read_command(&mut reader)?;
        let name = command
            .first()
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default();
        match name.as_slice() {
            b"PING" => writer.write_all(b"+PONG\r\n")?,
            b"PSYNC" => break,
            _ => writer.write_all(b"+OK\r\n")?,
        }
    }
    writer.write_all(b"+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n\n\n")?;
    match serve {
        Serve::Whole(rdb) => {
            writer.write_all(format!("${}\r\n", rdb.len()).as_bytes())?;
            writer.write_all(&rdb)?;
            // Keep the link open as a real master would, until the replica hangs up.
            let mut sink = [0u8; 1024];
            while reader.read(&mut sink)? > 0 {}
        }
        Serve::CutAt(rdb, cut) => {
            writer.write_all(format!("${}\r\n", rdb.len()).as_bytes())?;
            writer.write_all(&rdb[..cut])?;
        }
    }
    Ok(())
}

fn read_command(reader: &mut impl BufRead) -> std::io::Result<Vec<Vec<u8>>> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let count: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        line.clear();
        reader.read_line(&mut line)?;
        let len: usize = line.trim_start_matches('$').trim().parse().unwrap_or(0);
        let mut arg = vec![0; len + 2];
        reader.read_exact(&mut arg)?;
        arg.truncate(len);
        args.push(arg);
    }
    Ok(args)
}

#[test]
fn wrong_password_is_named() {
    let source = RedisServer::start_with_args(&["--requirepass", "right-password"]);
    let target = RedisServer::start();
    let url = format!("redis://:wrong-password@127.0.0.1:{}", source.port());
    let output = sync(&url, &target.url());
    assert_fails_with(
        &output,
        &["refused the credentials", "check the user and password"],
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("wrong-password"));

    let output = sync(&source.url(), &target.url());
    assert_fails_with(&output, &["needs a password"]);
}

#[test]
fn unreachable_source_and_target_are_named() {
    let target = RedisServer::start();
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nowhere = format!("redis://127.0.0.1:{closed_port}");
    let output = sync(&nowhere, &target.url());
    assert_fails_with(
        &output,
        &[
            "cannot connect to source",
            &format!("127.0.0.1:{closed_port}"),
        ],
    );

    let source = RedisServer::start();
    let output = sync(&source.url(), &nowhere);
    assert_fails_with(
        &output,
        &[
            "cannot connect to target",
            &format!("127.0.0.1:{closed_port}"),
        ],
    );

    let output = sync("http://127.0.0.1:1", &target.url());
    assert_fails_with(&output, &["bad source URL"]);
}

#[test]
fn bad_checksum_is_reported() {
    let mut rdb = real_rdb();
    let at = find(&rdb, b"checksum-protected-value");
    rdb[at] ^= 0x20;
    let target = RedisServer::start();
    let output = sync(&stand_in_master(Serve::Whole(rdb)), &target.url());
    assert_fails_with(&output, &["checksum", "corrupt"]);
}

#[test]
fn truncated_transfer_is_retried_then_reported_with_its_offset() {
    let rdb = real_rdb();
    let cut = find(&rdb, b"checksum-protected-value") + 5;
    let target = RedisServer::start();
    // A transfer cut short is a dropped link: retried like one, and reported when retrying
    // does not help within the window.
    let output = slotstream()
        .args(["sync", "--snapshot-only", "--retry-for-secs", "2"])
        .args(["--source", &stand_in_master(Serve::CutAt(rdb, cut))])
        .args(["--target", &target.url()])
        .output()
        .expect("run slotstream");
    assert_fails_with(&output, &["offset", "gave up after retrying", "link lost"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ended early") || stderr.contains("truncated"),
        "no mention of the cut: {stderr}"
    );
}

#[test]
fn unknown_type_byte_names_offset_and_type() {
    let mut rdb = real_rdb();
    // A string key is saved as: type 0, length byte, key bytes.
    let key_at = find(&rdb, b"\x06victim");
    let type_at = key_at - 1;
    assert_eq!(
        rdb[type_at], 0,
        "expected the string type byte before the key"
    );
    rdb[type_at] = 30;
    let target = RedisServer::start();
    let output = sync(&stand_in_master(Serve::Whole(rdb)), &target.url());
    assert_fails_with(&output, &["unknown", "30", &format!("offset {type_at}")]);
}
