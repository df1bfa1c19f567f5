//! The version matrix: a snapshot and a short live workload from each source version into each
//! target version through `slotstream sync`, checked with `slotstream verify`. Newer → older
//! pairs take the values the target cannot `RESTORE` as plain commands.
//!
//! `.ci/run` runs the subset: every version into Redis 7.0.15 and 7.0.15 into every version.
//! The whole 7 × 7 matrix: `cargo nextest run --test versions --run-ignored all`.

mod common;

#[cfg(feature = "kafka")]
use common::broker::{
    consume_cmd, create_topic, produce_cmd, produce_raw_with_headers, read_all, unique_topic,
    Broker,
};
use common::follow::{assert_nothing_refused, sync_cmd, sync_log, wait_caught_up, Proc};
use common::verify_identical;
use common::versions::{self, Features, HUB, VERSIONS};
use common::workload::{self, WorkloadConfig};

/// Copies `from` into `to` and checks the copy; `false` when a server is not installed.
fn sync_pair(from: &str, to: &str) -> bool {
    sync_pair_with(from, to, &[])
}

/// [`sync_pair`] with extra arguments for `slotstream sync`.
fn sync_pair_with(from: &str, to: &str, extra: &[&str]) -> bool {
    let (Some(source), Some(target)) = (versions::start(from), versions::start(to)) else {
        return false;
    };
    let mut features = Features::both(Features::of(from), Features::of(to));
    // A stream in parts loses the pending entries of deleted messages (COMPATIBILITY.md).
    features.pending_of_deleted = !extra.contains(&"--chunk-bytes");
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

/// How a snapshot travels in these tests.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// `slotstream sync --snapshot-only`.
    Sync,
    /// `slotstream produce --snapshot-only` into a broker, then `consume --snapshot-only`.
    #[cfg(feature = "kafka")]
    Kafka,
}

/// Every way a snapshot travels in this build.
const EVERY_VIA: &[Via] = &[
    Via::Sync,
    #[cfg(feature = "kafka")]
    Via::Kafka,
];

/// Copies a snapshot with `extra` arguments for the applying side; returns whether that side
/// succeeded, and its log.
fn snapshot_copy(
    via: Via,
    source: &common::RedisServer,
    target: &common::RedisServer,
    extra: &[&str],
) -> (bool, String) {
    let output = match via {
        Via::Sync => sync_cmd(source, target)
            .arg("--snapshot-only")
            .args(extra)
            .output()
            .unwrap(),
        #[cfg(feature = "kafka")]
        Via::Kafka => {
            let topic = unique_topic("versions");
            let broker = Broker::start(common::SLOTSTREAM, &[(&topic, 4)]);
            let produced = produce_cmd(source, &broker, &topic, 4)
                .arg("--snapshot-only")
                .output()
                .unwrap();
            assert!(
                produced.status.success(),
                "{}",
                String::from_utf8_lossy(&produced.stderr)
            );
            consume_cmd(target, &broker, &topic)
                .arg("--snapshot-only")
                .args(extra)
                .output()
                .unwrap()
        }
    };
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), log)
}

/// Writes a plain key and a hash with one field TTL on a `from` source (Redis 7.4 or Valkey 9);
/// copies a snapshot into Redis 7.0 (no field TTLs) with `extra` arguments; returns (exit ok,
/// log, target).
fn field_ttls_into_7_0(
    from: &str,
    via: Via,
    extra: &[&str],
) -> Option<(bool, String, common::RedisServer)> {
    let source = versions::start(from)?;
    let target = versions::start(HUB)?;
    let mut conn = source.conn();
    let _: () = redis::cmd("SET")
        .arg("plain")
        .arg("v")
        .query(&mut conn)
        .unwrap();
    versions::write_field_ttl_hash(&mut conn, "h:ttl", 4000);
    let (ok, log) = snapshot_copy(via, &source, &target, extra);
    Some((ok, log, target))
}

/// Redis 7.4 and Valkey 9 (which count such hashes under different names in `INFO keyspace`).
fn field_ttls_fail_by_default_naming_the_key(via: Via) {
    for from in ["redis-7.4.1", "valkey-9.1.2"] {
        let Some((ok, log, target)) = field_ttls_into_7_0(from, via, &[]) else {
            return;
        };
        assert!(!ok, "{from} {via:?}: the copy succeeded:\n{log}");
        assert!(
            log.contains("1 hashes with field TTLs (db 0: 1), e.g. \"h:ttl\"")
                && log.contains("--on-unsupported=skip-with-warning"),
            "{from} {via:?}: the error does not count and name the keys, or the way out:\n{log}"
        );
        let keys: i64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
        assert_eq!(
            keys, 0,
            "{from} {via:?}: something was written before the error"
        );
    }
}

#[test]
fn hash_field_ttls_on_a_target_without_them_fail_by_default_naming_the_key() {
    field_ttls_fail_by_default_naming_the_key(Via::Sync);
}

#[test]
#[cfg(feature = "kafka")]
fn hash_field_ttls_through_kafka_on_a_target_without_them_fail_before_any_write() {
    field_ttls_fail_by_default_naming_the_key(Via::Kafka);
}

#[test]
fn hash_field_ttls_on_a_target_without_them_can_be_left_out_with_a_warning() {
    for &via in EVERY_VIA {
        let extra = ["--on-unsupported", "skip-with-warning"];
        let Some((ok, log, target)) = field_ttls_into_7_0("redis-7.4.1", via, &extra) else {
            return;
        };
        assert!(ok, "{via:?}: the copy failed:\n{log}");
        assert!(
            log.contains("key left out") && log.contains("h:ttl"),
            "{via:?}: {log}"
        );
        let mut conn = target.conn();
        let exists: i64 = redis::cmd("EXISTS").arg("h:ttl").query(&mut conn).unwrap();
        let plain: String = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
        assert_eq!((exists, plain.as_str()), (0, "v"), "{via:?}");
    }
}

fn module_values_fail_before_any_write(via: Via) {
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
    let (ok, log) = snapshot_copy(via, &source, &target, &[]);
    assert!(!ok, "{via:?}: the copy succeeded:\n{log}");
    assert!(
        log.contains("ReJSON (1 keys)")
            && log.contains("bf (2 keys)")
            && log.contains("timeseries (1 keys)"),
        "{via:?}: the error does not name the modules and key counts:\n{log}"
    );
    let keys: i64 = redis::cmd("DBSIZE").query(&mut target.conn()).unwrap();
    assert_eq!(keys, 0, "{via:?}: something was written");
}

#[test]
fn module_values_into_a_target_without_the_modules_fail_before_any_write() {
    module_values_fail_before_any_write(Via::Sync);
}

#[test]
#[cfg(feature = "kafka")]
fn module_values_through_kafka_into_a_target_without_the_modules_fail_before_any_write() {
    module_values_fail_before_any_write(Via::Kafka);
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
    let (ok, log) = snapshot_copy(Via::Sync, &source, &target, extra);
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
/// The mixed workload (every command family, `MULTI`, Lua, `FLUSHDB`, `SWAPDB`, three dbs) on
/// a live `sync` between versions: an older source into 7.0, and newer sources into older
/// targets, where live commands take their older forms.
#[test]
fn the_mixed_workload_across_versions() {
    let mut skipped = Vec::new();
    // Into 6.2 the workload's `FUNCTION LOAD` cannot go (no functions there): left out as
    // asked; its `FCALL`s reach the stream as the commands they ran, so the data is whole.
    let skip = ["--on-unsupported", "skip-with-warning"];
    for (from, to, extra) in [
        ("redis-5.0.10", HUB, &[][..]),
        ("redis-7.4.1", "redis-6.2.14", &skip[..]),
        ("valkey-9.1.2", HUB, &[][..]),
    ] {
        eprintln!("pair {from} -> {to}, the mixed workload");
        let (Some(source), Some(target)) = (versions::start(from), versions::start(to)) else {
            skipped.push(format!("{from} -> {to}"));
            continue;
        };
        let log = sync_log(&source);
        let mut sync = Proc::spawn(sync_cmd(&source, &target).args(extra), "sync");
        wait_caught_up(&source, &target, &log, &mut [&mut sync]);
        // Paced: a 5.0 or 6.x source sends relative expiries, which count from when the
        // producer read them, so a producer far behind a full-speed burst would shift them.
        let config = WorkloadConfig {
            max_ops_per_sec: Some(4_000),
            ..WorkloadConfig::quick()
        };
        let report = workload::run_blocking(&source.url(), &config);
        eprintln!("{from} -> {to}: {}", report.summary());
        // Past the workload's longest short TTL, so no key is about to expire while compared.
        std::thread::sleep(std::time::Duration::from_millis(1200));
        wait_caught_up(&source, &target, &log, &mut [&mut sync]);
        verify_identical(&source, &target);
        let sync_log = sync.stop();
        assert!(
            !sync_log.contains("cannot apply the live command"),
            "{from} -> {to}: a live command was not applied:\n{sync_log}"
        );
    }
    if !skipped.is_empty() {
        eprintln!("note: skipped (server missing): {}", skipped.join(", "));
    }
}

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

/// Writes `plain` and a 1,000-field hash `big` (50 KB, past the listpack limits) whose every
/// field has a TTL of an hour.
#[cfg(feature = "kafka")]
fn write_big_hash_with_field_ttls(conn: &mut redis::Connection) {
    let _: () = redis::cmd("SET").arg("plain").arg("v").query(conn).unwrap();
    let fields: Vec<String> = (0..1000).map(|i| format!("field:{i:03}")).collect();
    let mut hset = redis::cmd("HSET");
    hset.arg("big");
    for field in &fields {
        hset.arg(field).arg("x".repeat(50));
    }
    let _: () = hset.query(conn).unwrap();
    let _: Vec<i64> = redis::cmd("HPEXPIRE")
        .arg("big")
        .arg(3_600_000)
        .arg("FIELDS")
        .arg(fields.len())
        .arg(&fields)
        .query(conn)
        .unwrap();
}

/// Snapshot-only `produce` of `source` into `topic` in chunks of 2 KB; returns its stdout.
#[cfg(feature = "kafka")]
fn produce_in_chunks(source: &common::RedisServer, broker: &Broker, topic: &str) -> String {
    let output = produce_cmd(source, broker, topic, 1)
        .args(["--snapshot-only", "--chunk-bytes", "2048"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Keys the consumer builds big values under, left in the target.
#[cfg(feature = "kafka")]
fn building_keys(target: &common::RedisServer) -> Vec<String> {
    redis::cmd("KEYS")
        .arg("__slotstream:build:*")
        .query(&mut target.conn())
        .unwrap()
}

/// A big hash with field TTLs, left out on a target without them as asked: a consumer that
/// stops in the middle of its chunks and starts again passes over the rest of them too (the
/// temporary key says the value is being left out), so no partial hash appears.
#[test]
#[cfg(feature = "kafka")]
fn a_big_value_left_out_stays_out_across_a_restart_in_its_middle_kafka() {
    let (Some(source), Some(target)) = (versions::start("redis-7.4.1"), versions::start(HUB))
    else {
        return;
    };
    write_big_hash_with_field_ttls(&mut source.conn());
    let topic = unique_topic("left-out");
    let copy = unique_topic("left-out-copy");
    let broker = Broker::start(common::SLOTSTREAM, &[(&topic, 1), (&copy, 1)]);
    if broker.is_external() {
        create_topic(broker.bootstrap(), &copy, 1);
    }
    produce_in_chunks(&source, &broker, &topic);
    let messages = read_all(broker.bootstrap(), &topic);
    assert!(messages.len() > 10, "{} messages", messages.len());
    let (first, rest) = messages.split_at(messages.len() / 2);
    let copy_over = |messages: &[common::broker::RawMessage]| {
        for (partition, _, key, value, headers) in messages {
            let headers: Vec<(&str, &[u8])> = headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_slice()))
                .collect();
            produce_raw_with_headers(
                broker.bootstrap(),
                &copy,
                *partition,
                key.as_deref(),
                value,
                &headers,
            );
        }
    };
    let skip = ["--on-unsupported", "skip-with-warning"];

    // The first half: the consumer takes the first chunks, leaves the value out, and stops.
    copy_over(first);
    let mut consumer = Proc::spawn(consume_cmd(&target, &broker, &copy).args(skip), "consume");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while building_keys(&target).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no value was marked left out:\n{}",
            consumer.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    consumer.kill();

    // The rest, to a new consumer.
    copy_over(rest);
    let output = consume_cmd(&target, &broker, &copy)
        .args(skip)
        .arg("--snapshot-only")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    let mut conn = target.conn();
    let big: i64 = redis::cmd("EXISTS").arg("big").query(&mut conn).unwrap();
    let plain: String = redis::cmd("GET").arg("plain").query(&mut conn).unwrap();
    assert_eq!(
        (big, plain.as_str()),
        (0, "v"),
        "a partial hash was written"
    );
    assert_eq!(building_keys(&target), Vec::<String>::new());
    let part_marks: Vec<String> = redis::cmd("KEYS")
        .arg("__slotstream:part:*")
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        part_marks,
        Vec::<String>::new(),
        "the part mark outlived the value"
    );
    assert!(
        log.contains("restarted in a big value") && log.contains("left_out=true"),
        "the restart did not land inside the value:\n{log}"
    );
}
