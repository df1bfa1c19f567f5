//! Bad input end to end: each case must fail with a clear message naming what failed and where,
//! exit non-zero, and never panic.
//!
//! Snapshots with a bad checksum, an unknown type byte, absurd lengths or a cut-off transfer,
//! garbage in reply to `PSYNC` and on the live command stream are served by a small stand-in
//! master that speaks the replication handshake (`common::stand_in`); the RDB it serves is a
//! real one, saved by a real `redis-server` and then damaged on purpose. The target is a real
//! server too, and each case checks it holds nothing from past the bad point.

mod common;

use common::stand_in::{resp_command, stand_in_master, stand_in_master_beside, Serve, FULLRESYNC};
use common::{key_count, slotstream, RedisServer};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

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

/// The keys of every database of `server`, slotstream's own `__slotstream:` keys left out, as
/// `db:key`.
fn user_keys(server: &RedisServer) -> BTreeSet<String> {
    let mut conn = server.conn();
    let mut found = BTreeSet::new();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut conn).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
        for key in keys.iter().filter(|k| !k.starts_with(b"__slotstream:")) {
            found.insert(format!("{db}:{}", String::from_utf8_lossy(key)));
        }
    }
    found
}

/// The keys of [`real_rdb`] whose records lie wholly before byte `at` of it: the keys a run
/// may apply before it meets bad input at `at`.
fn keys_before(rdb: &[u8], at: usize) -> Vec<&'static str> {
    [
        ("before", b"\x06before" as &[u8]),
        ("victim", b"\x06victim"),
        ("after", b"\x05after"),
    ]
    .into_iter()
    .filter(|(_, name)| find(rdb, name) + name.len() < at && !at_key(rdb, name, at))
    .map(|(key, _)| key)
    .collect()
}

/// Whether byte `at` falls inside the record whose key is `name` (its value runs up to the
/// next key's type byte, at most).
fn at_key(rdb: &[u8], name: &[u8], at: usize) -> bool {
    let start = find(rdb, name) - 1;
    let next = [b"\x06before" as &[u8], b"\x06victim", b"\x05after"]
        .iter()
        .map(|other| find(rdb, other) - 1)
        .filter(|&other| other > start)
        .min()
        .unwrap_or(rdb.len());
    (start..next).contains(&at)
}

/// Asserts the target holds no key of its own but those in `allowed` (db 0): nothing from past
/// the bad point.
fn assert_only_keys_before(target: &RedisServer, allowed: &[&str]) {
    let allowed: BTreeSet<String> = allowed.iter().map(|k| format!("0:{k}")).collect();
    let held = user_keys(target);
    assert!(
        held.is_subset(&allowed),
        "the target holds keys from past the bad point: {held:?} (allowed: {allowed:?})"
    );
}

/// `slotstream sync` from `source` into `target` with short timeouts, so a case that is
/// retried gives up within seconds.
fn sync_briefly(source: &str, target: &RedisServer, extra: &[&str]) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", source, "--target", &target.url()])
        .args(["--retry-for-secs", "3", "--source-timeout-secs", "1"])
        .args(extra);
    cmd
}

/// Runs `cmd` to its end, sampling its peak resident memory (`VmHWM`) while it runs; returns
/// the output and the peak in KiB (the last sample before it exited).
fn run_measured(cmd: &mut Command) -> (Output, u64) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run slotstream");
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    while child.try_wait().unwrap().is_none() {
        let hwm = std::fs::read_to_string(&status)
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("VmHWM:"))
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0);
        peak_kb = peak_kb.max(hwm);
        std::thread::sleep(Duration::from_millis(10));
    }
    (child.wait_with_output().unwrap(), peak_kb)
}

/// A length in the RDB's 64-bit encoding (`0x81` and 8 bytes, big-endian).
fn length_64(len: u64) -> Vec<u8> {
    let mut out = vec![0x81];
    out.extend_from_slice(&len.to_be_bytes());
    out
}

/// Bytes of a fixed pseudo-random sequence, none of them a line end.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x5107_fa17_0000_0014;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match (state >> 24) as u8 {
                b'\r' | b'\n' => b'?',
                byte => byte,
            }
        })
        .collect()
}

#[test]
fn garbage_in_reply_to_psync_is_named_and_nothing_is_written() {
    let mut random_line = noise(64);
    random_line.extend_from_slice(b"\r\n");
    let mut unterminated = noise(64);
    unterminated.extend_from_slice(b"\n");
    let with_header = |header: &[u8]| [FULLRESYNC, header].concat();
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "random bytes as a line",
            random_line,
            vec!["unexpected reply to PSYNC", "check that --source"],
        ),
        (
            "random bytes ending in a bare newline",
            unterminated,
            vec!["unterminated reply line", "check that --source"],
        ),
        (
            "a +FULLRESYNC without a replication id",
            b"+FULLRESYNC not-an-id 0\r\n".to_vec(),
            vec![
                "malformed PSYNC reply",
                "+FULLRESYNC not-an-id 0",
                "check that --source",
            ],
        ),
        (
            "a +FULLRESYNC with an offset that is not a number",
            b"+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 12x\r\n".to_vec(),
            vec!["malformed PSYNC reply", "12x", "check that --source"],
        ),
        (
            "a bulk header that is not a number",
            with_header(b"$abc\r\n"),
            vec!["bad snapshot length", "$abc", "check that --source"],
        ),
        (
            "a negative bulk header",
            with_header(b"$-5\r\n"),
            vec!["bad snapshot length", "$-5", "check that --source"],
        ),
        (
            "an end mark of the wrong length",
            with_header(b"$EOF:short\r\n"),
            vec!["EOF mark of 5 bytes, expected 40", "check that --source"],
        ),
    ];
    let target = RedisServer::start();
    for (what, reply, needles) in cases {
        let source = stand_in_master(Serve::Raw(reply));
        let output = sync_briefly(&source, &target, &["--snapshot-only"])
            .output()
            .expect("run slotstream");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{what}: success:\n{stderr}");
        assert_fails_with(&output, &needles);
        assert!(
            !stderr.contains("gave up after retrying"),
            "{what}: bad input was retried as a lost link:\n{stderr}"
        );
        assert!(
            stderr.contains(source.trim_start_matches("redis://")),
            "{what}: the source is not named:\n{stderr}"
        );
        assert_eq!(key_count(&target), 0, "{what}: the target was written");
    }
}

#[test]
fn absurd_lengths_in_the_snapshot_cost_no_memory_and_name_offset_and_key() {
    let rdb = real_rdb();
    let victim = find(&rdb, b"\x06victim");
    let value_len_at = victim + 7;
    assert_eq!(rdb[value_len_at], 24, "the victim's value length byte");
    let list = find(&rdb, b"\x05after");
    assert!(
        matches!(rdb[list - 1], 14 | 18),
        "expected a quicklist before the list key, got type {}",
        rdb[list - 1]
    );
    let nodes_at = list + 6;
    assert_eq!(rdb[nodes_at], 1, "one quicklist node");
    let splice =
        |at: usize, skip: usize, with: &[u8]| [&rdb[..at], with, &rdb[at + skip..]].concat();
    let terabyte = 1u64 << 40;
    // (what, RDB, needles in stderr, where the bad input starts)
    let cases: Vec<(&str, Vec<u8>, Vec<String>, usize)> = vec![
        (
            "a string value of 2^40 bytes",
            splice(value_len_at, 1, &length_64(terabyte)),
            vec![
                "bytes or more is larger than the limit of 1073741824 bytes".into(),
                // Where the value begins: its length is part of its bytes.
                format!("at byte offset {value_len_at}"),
                "(key \"victim\")".into(),
                "start a new full sync".into(),
            ],
            value_len_at,
        ),
        (
            "a key name of 2^62 bytes",
            splice(victim, 1, &length_64(1 << 62)),
            vec![
                "bytes or more is larger than the limit of 1073741824 bytes".into(),
                // Where the key's bytes would begin, just past its length.
                format!("at byte offset {}", victim + 9),
                "start a new full sync".into(),
            ],
            victim,
        ),
        (
            "a quicklist of 2^40 nodes",
            splice(nodes_at, 1, &length_64(terabyte)),
            vec![
                "corrupt".into(),
                "(key \"after\")".into(),
                "byte offset".into(),
                "start a new full sync".into(),
            ],
            nodes_at,
        ),
        (
            "a set of 2^40 members",
            // Type 2 (set) with two real members, then whatever follows read as members.
            [
                &rdb[..victim - 1],
                &[2u8][..],
                b"\x06victim",
                &length_64(terabyte),
                b"\x01a\x01b",
                &rdb[value_len_at + 25..],
            ]
            .concat(),
            vec![
                "(key \"victim\")".into(),
                "byte offset".into(),
                "corrupt".into(),
            ],
            victim,
        ),
    ];
    for (what, bomb, needles, bad_at) in cases {
        let target = RedisServer::start();
        let source = stand_in_master(Serve::Whole(bomb));
        let (output, peak_kb) =
            run_measured(&mut sync_briefly(&source, &target, &["--snapshot-only"]));
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert!(!output.status.success(), "{what}: success");
        assert_fails_with(&output, &needles);
        eprintln!("{what}: peak RSS {} MiB", peak_kb / 1024);
        assert!(
            peak_kb < 200 * 1024,
            "{what}: peak RSS {peak_kb} KiB (a declared length was allocated?)"
        );
        // Keys before the bad one may be applied (a batch is written as the snapshot
        // streams); nothing from the bad key on is.
        assert_only_keys_before(&target, &keys_before(&rdb, bad_at));
    }
}

#[test]
fn a_diskless_transfer_whose_end_mark_never_comes_ends_with_an_error() {
    let rdb = real_rdb();
    let cut = find(&rdb, b"checksum-protected-value") + 5;
    // Part of the snapshot, then silence; and the whole snapshot, then silence where the end
    // mark belongs.
    for (what, stall_at) in [("mid-snapshot", cut), ("before the end mark", rdb.len())] {
        let target = RedisServer::start();
        let source = stand_in_master(Serve::DisklessStall(rdb.clone(), stall_at));
        let output = sync_briefly(&source, &target, &["--snapshot-only"])
            .output()
            .expect("run slotstream");
        assert_fails_with(
            &output,
            &[
                "gave up after retrying",
                "--retry-for-secs",
                "--source-timeout-secs",
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(source.trim_start_matches("redis://")),
            "{what}: the source is not named:\n{stderr}"
        );
        // Without its end mark the snapshot is not known to be whole: keys applied before
        // the stall stand, nothing past it is written, and the run never reports it done.
        assert_only_keys_before(&target, &keys_before(&rdb, stall_at));
    }
}

#[test]
fn a_diskless_transfer_closed_early_is_retried_then_reported_with_its_offset() {
    let rdb = real_rdb();
    let cut = find(&rdb, b"checksum-protected-value") + 5;
    let target = RedisServer::start();
    let source = stand_in_master(Serve::DisklessCut(rdb.clone(), cut));
    let output = sync_briefly(&source, &target, &["--snapshot-only"])
        .output()
        .expect("run slotstream");
    assert_fails_with(
        &output,
        &[
            "gave up after retrying",
            "ended early",
            &format!("at byte offset {cut}"),
            "(key \"victim\")",
        ],
    );
    assert_only_keys_before(&target, &keys_before(&rdb, cut));
}

#[test]
fn garbage_on_the_command_stream_names_the_offset_and_nothing_after_it_is_applied() {
    let rdb = real_rdb();
    let good = resp_command(&[b"SET", b"live-before", b"1"]);
    let garbage = b"*2\r\n$abc\r\n".to_vec();
    let behind = resp_command(&[b"SET", b"live-after", b"1"]);
    let stream = [good.clone(), garbage, behind].concat();
    let target = RedisServer::start();
    // A real server answers the plain commands: following the stream needs its command table.
    let commands = RedisServer::start();
    let source = stand_in_master_beside(
        Serve::ThenStream(rdb, stream),
        &format!("127.0.0.1:{}", commands.port()),
    );
    let output = sync_briefly(&source, &target, &[])
        .output()
        .expect("run slotstream");
    assert_fails_with(
        &output,
        &[
            "malformed command stream",
            &format!("replication offset {}", good.len()),
            "check that --source",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("gave up after retrying"),
        "garbage was retried as a lost link:\n{stderr}"
    );
    assert_only_keys_before(&target, &["before", "victim", "after", "live-before"]);
    let mut conn = target.conn();
    let behind: i64 = redis::cmd("EXISTS")
        .arg("live-after")
        .query(&mut conn)
        .unwrap();
    assert_eq!(behind, 0, "the command behind the garbage was applied");
}
