//! The version matrix: a snapshot and a short live workload from each source version into each
//! target version through `slotstream sync`, checked with `slotstream verify`. Newer → older
//! pairs take the values the target cannot `RESTORE` as plain commands.
//!
//! `.ci/run` runs the subset: every version into Redis 7.0.15 and 7.0.15 into every version.
//! The whole 7 × 7 matrix: `cargo nextest run --test versions --run-ignored all`.

mod common;

use common::follow::{assert_nothing_refused, sync_cmd, sync_log, wait_caught_up, Proc};
use common::verify_identical;
use common::versions::{self, Features, HUB, VERSIONS};

/// Copies `from` into `to` and checks the copy; `false` when a server is not installed.
fn sync_pair(from: &str, to: &str) -> bool {
    sync_pair_with(from, to, &[])
}

/// [`sync_pair`] with extra arguments for `slotstream sync`.
fn sync_pair_with(from: &str, to: &str, extra: &[&str]) -> bool {
    let (Some(source), Some(target)) = (versions::start(from), versions::start(to)) else {
        return false;
    };
    let features = Features::both(Features::of(from), Features::of(to));
    versions::write_dataset(&mut source.conn(), features);
    let mut sync = Proc::spawn(sync_cmd(&source, &target).args(extra), "sync");
    let log = sync_log(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    for round in 0..2 {
        versions::write_live(&mut source.conn(), round);
    }
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    verify_identical(&source, &target);
    if features.functions {
        assert_eq!(versions::libraries(&mut target.conn()), ["matrixlib"]);
    }
    assert_nothing_refused(&sync.stop());
    true
}

fn pairs(pairs: &[(&str, &str)]) {
    let mut skipped = Vec::new();
    for (from, to) in pairs {
        eprintln!("pair {from} -> {to}");
        if !sync_pair(from, to) {
            skipped.push(format!("{from} -> {to}"));
        }
    }
    if !skipped.is_empty() {
        eprintln!("note: skipped (server missing): {}", skipped.join(", "));
    }
}

#[test]
fn every_version_into_redis_7_0() {
    let list: Vec<(&str, &str)> = VERSIONS.iter().map(|v| (*v, HUB)).collect();
    pairs(&list);
}

#[test]
fn redis_7_0_into_every_version() {
    let list: Vec<(&str, &str)> = VERSIONS
        .iter()
        .filter(|v| **v != HUB)
        .map(|v| (HUB, *v))
        .collect();
    pairs(&list);
}

#[test]
#[ignore = "the full 7 × 7 matrix takes several minutes; the CI runs the subset above"]
fn every_version_into_every_version() {
    let list: Vec<(&str, &str)> = VERSIONS
        .iter()
        .flat_map(|from| VERSIONS.iter().map(move |to| (*from, *to)))
        .collect();
    pairs(&list);
}

/// Runs a snapshot-only sync with `extra` arguments; returns whether it succeeded, and its log.
fn snapshot_sync(
    source: &common::RedisServer,
    target: &common::RedisServer,
    extra: &[&str],
) -> (bool, String) {
    let output = sync_cmd(source, target)
        .arg("--snapshot-only")
        .args(extra)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), log)
}

/// Writes a plain key and a hash with one field TTL on a Redis 7.4 source; runs a snapshot-only
/// sync into Redis 7.0 (no field TTLs) with `extra` arguments; returns (exit ok, log, target).
fn field_ttls_into_7_0(extra: &[&str]) -> Option<(bool, String, common::RedisServer)> {
    let source = versions::start("redis-7.4.1")?;
    let target = versions::start(HUB)?;
    let mut conn = source.conn();
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&["h:ttl", "f1", "v1", "f2", "v2"])
        .query(&mut conn)
        .unwrap();
    let _: Vec<i64> = redis::cmd("HEXPIRE")
        .arg(&["h:ttl", "4000", "FIELDS", "1", "f1"])
        .query(&mut conn)
        .unwrap();
    let (ok, log) = snapshot_sync(&source, &target, extra);
    Some((ok, log, target))
}

#[test]
fn hash_field_ttls_on_a_target_without_them_fail_by_default_naming_the_key() {
    let Some((ok, log, target)) = field_ttls_into_7_0(&[]) else {
        return;
    };
    assert!(!ok, "the sync succeeded:\n{log}");
    assert!(
        log.contains("1 hashes with field TTLs (db 0: 1), e.g. \"h:ttl\"")
            && log.contains("--on-unsupported=skip-with-warning"),
        "the error does not count and name the keys, or the way out:\n{log}"
    );
    let keys: i64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
    assert_eq!(keys, 0, "something was written before the error");
}

#[test]
fn hash_field_ttls_on_a_target_without_them_can_be_left_out_with_a_warning() {
    let Some((ok, log, target)) = field_ttls_into_7_0(&["--on-unsupported", "skip-with-warning"])
    else {
        return;
    };
    assert!(ok, "the sync failed:\n{log}");
    assert!(
        log.contains("key left out") && log.contains("h:ttl"),
        "{log}"
    );
    let mut conn = target.conn();
    let exists: i64 = redis::cmd("EXISTS").arg("h:ttl").query(&mut conn).unwrap();
    let plain: String = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
    assert_eq!((exists, plain.as_str()), (0, "v"));
}

#[test]
fn module_values_into_a_target_without_the_modules_fail_before_any_write() {
    let (Some(source), Some(target)) = (
        versions::start(versions::MODULES_VERSION),
        versions::start(HUB),
    ) else {
        return;
    };
    let mut conn = source.conn();
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    versions::write_module_values(&mut conn);
    let (ok, log) = snapshot_sync(&source, &target, &[]);
    assert!(!ok, "the sync succeeded:\n{log}");
    assert!(
        log.contains("ReJSON (1 keys")
            && log.contains("bf (2 keys")
            && log.contains("timeseries (1 keys"),
        "the error does not name the modules and key counts:\n{log}"
    );
    let keys: i64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
    assert_eq!(keys, 0, "something was written");
}

/// A snapshot-only sync from Redis 7.0 with a function library into Redis 6.2 (no functions).
fn function_into_6_2(extra: &[&str]) -> Option<(bool, String, common::RedisServer)> {
    let source = versions::start(HUB)?;
    let target = versions::start("redis-6.2.14")?;
    let mut conn = source.conn();
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(versions::LIBRARY)
        .query(&mut conn)
        .unwrap();
    let (ok, log) = snapshot_sync(&source, &target, extra);
    Some((ok, log, target))
}

#[test]
fn functions_into_a_target_without_them_fail_or_are_left_out_as_asked() {
    let Some((ok, log, _)) = function_into_6_2(&[]) else {
        return;
    };
    assert!(!ok, "the sync succeeded:\n{log}");
    assert!(
        log.contains("matrixlib") && log.contains("--on-unsupported"),
        "{log}"
    );
    let Some((ok, log, target)) = function_into_6_2(&["--on-unsupported", "skip-with-warning"])
    else {
        return;
    };
    assert!(ok, "the sync failed:\n{log}");
    assert!(log.contains("function library left out"), "{log}");
    let plain: String = redis::cmd("GET")
        .arg("plain")
        .query(&mut target.conn())
        .unwrap();
    assert_eq!(plain, "v");
}

/// Every collection of the dataset travels in chunks of about 2 KB: built under a temporary key,
/// renamed into place, through RESTORE-less rewriting, between old and new versions both ways.
#[test]
fn big_values_in_chunks_across_versions() {
    for (from, to) in [
        (HUB, HUB),
        ("redis-7.4.1", "redis-5.0.10"),
        ("redis-5.0.10", "valkey-9.1.2"),
        ("valkey-9.1.2", "redis-7.4.1"),
        ("redis-7.4.1", "valkey-9.1.2"),
    ] {
        eprintln!("pair {from} -> {to}, chunks of 2 KB");
        sync_pair_with(from, to, &["--chunk-bytes", "2048"]);
    }
}
