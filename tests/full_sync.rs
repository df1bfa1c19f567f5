//! `slotstream sync --snapshot-only` against real servers: the destination must end identical
//! to the source, key by key, checked by two independent checkers.

mod common;

use common::{assert_same_contents, dataset, slotstream, verify_identical, RedisServer};

/// Runs a snapshot-only sync and returns its stdout (the summary line).
fn sync_snapshot(source: &RedisServer, target: &RedisServer) -> String {
    sync_snapshot_with(source, target, &[])
}

/// [`sync_snapshot`] with extra arguments.
fn sync_snapshot_with(source: &RedisServer, target: &RedisServer, extra: &[&str]) -> String {
    let output = slotstream()
        .args([
            "sync",
            "--snapshot-only",
            "--source",
            &source.url(),
            "--target",
            &target.url(),
        ])
        .args(extra)
        .output()
        .expect("run slotstream");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "sync failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The number after `label` in the summary line, e.g. `peak RSS 85 MB`.
fn number_after(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {text:?}"))
        + label.len();
    text[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {text:?}"))
}

#[test]
fn every_type_and_encoding_arrives_identical() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    let stdout = sync_snapshot(&source, &target);
    assert!(stdout.contains("snapshot applied"), "{stdout}");
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
}

#[test]
fn heavy_big_values_arrive_identical_within_bounded_memory() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    dataset::write_full(&mut source.conn());
    dataset::write_big(&mut source.conn());
    let stdout = sync_snapshot(&source, &target);
    assert_same_contents(&source.url(), &target.url());
    verify_identical(&source, &target);
    let peak_mb = number_after(&stdout, "peak RSS");
    println!("peak RSS of slotstream sync: {peak_mb} MB");
    assert!(
        peak_mb < 256,
        "peak RSS {peak_mb} MB is over the 256 MB bound"
    );
}

#[test]
fn functions_are_copied() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let code = "#!lua name=shipping\nredis.register_function('ship', function(keys, args) return args[1] end)";
    let mut conn = source.conn();
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(code)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    sync_snapshot(&source, &target);
    let reply: String = redis::cmd("FCALL")
        .arg("ship")
        .arg(0)
        .arg("shipped")
        .query(&mut target.conn())
        .unwrap();
    assert_eq!(reply, "shipped");
    assert_same_contents(&source.url(), &target.url());
}

#[test]
fn keys_expired_before_apply_are_skipped() {
    // With active expiry off, an expired key stays in the source's memory and in its snapshot.
    let source = RedisServer::start_with_args(&["--enable-debug-command", "yes"]);
    let target = RedisServer::start();
    let mut conn = source.conn();
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("v")
        .arg("PX")
        .arg(1)
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("kept")
        .arg("v")
        .arg("EX")
        .arg(3600)
        .query(&mut conn)
        .unwrap();
    // Expired longer ago than the TTL extension: the target would only delete it again.
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let stdout = sync_snapshot_with(&source, &target, &["--ttl-extension-secs", "1"]);
    // The summary reads `… N keys (M already expired, skipped) …`.
    let skipped = number_after(&stdout, "keys (");
    assert_eq!(skipped, 1, "{stdout}");
    let mut target_conn = target.conn();
    let exists: i64 = redis::cmd("EXISTS")
        .arg("gone")
        .query(&mut target_conn)
        .unwrap();
    assert_eq!(exists, 0);
    let ttl: i64 = redis::cmd("TTL")
        .arg("kept")
        .query(&mut target_conn)
        .unwrap();
    // The source's TTL and the extension.
    assert!((3590..=3601).contains(&ttl), "ttl {ttl}");
}

/// `sync --snapshot-only` with extra arguments; returns whether it succeeded and its stderr.
fn sync_with(source: &RedisServer, target: &RedisServer, extra: &[&str]) -> (bool, String) {
    let output = slotstream()
        .args(["sync", "--snapshot-only", "--source", &source.url()])
        .args(["--target", &target.url()])
        .args(extra)
        .output()
        .expect("run slotstream");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_target_with_keys_of_its_own_is_refused_and_kept_intact_or_copied_over_and_kept() {
    use redis::Commands;
    let source = RedisServer::start();
    let target = RedisServer::start();
    let mut src = source.conn();
    let mut dst = target.conn();
    for i in 0..50 {
        let _: () = src.set(format!("src:{i}"), i).unwrap();
    }
    let _: () = dst.set("own:config", "theirs").unwrap();
    let _: () = dst.hset("own:profile", "name", "kept").unwrap();

    // Refused by default, before any write.
    let (ok, stderr) = sync_with(&source, &target, &[]);
    assert!(!ok, "a non-empty target was written to:\n{stderr}");
    for needle in ["not empty", "2 keys", "own:", "--on-existing overwrite"] {
        assert!(stderr.contains(needle), "{needle} missing in:\n{stderr}");
    }
    let keys: Vec<String> = dst.keys("*").unwrap();
    assert_eq!(keys.len(), 2, "the refusal wrote something: {keys:?}");

    // Copied over with `overwrite`; then a second full sync (a new epoch, which sweeps) after
    // the source lost a key keeps the target's own keys and deletes the lost one.
    let (ok, stderr) = sync_with(&source, &target, &["--on-existing", "overwrite"]);
    assert!(ok, "{stderr}");
    let _: () = src.del("src:7").unwrap();
    let (ok, stderr) = sync_with(&source, &target, &["--on-existing", "overwrite"]);
    assert!(ok, "{stderr}");
    assert!(
        !dst.exists::<_, bool>("src:7").unwrap(),
        "the sweep kept a key the source deleted"
    );
    let config: String = dst.get("own:config").unwrap();
    let name: String = dst.hget("own:profile", "name").unwrap();
    assert_eq!((config.as_str(), name.as_str()), ("theirs", "kept"));
    for i in (0..50).filter(|&i| i != 7) {
        let value: i64 = dst.get(format!("src:{i}")).unwrap();
        assert_eq!(value, i);
    }
}
