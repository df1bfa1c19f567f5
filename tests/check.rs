//! `slotstream check` against real servers: each item's pass and its warning or failure, the
//! exit code (0 all pass, 1 a failure, 2 warnings only), and that nothing is written to either
//! side; `sync` stopping on a failed item before its first write.

mod common;

use common::{slotstream, RedisServer};
use std::process::Output;
use std::time::{Duration, Instant};

/// Runs `check` with `args`; its printed report and exit code.
fn check(args: &[&str]) -> (String, Option<i32>) {
    let output: Output = slotstream()
        .args(["check", "--sample-secs", "1"])
        .args(args)
        .output()
        .expect("run slotstream check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (text, output.status.code())
}

/// The verdict printed for item `name` (`pass`, `WARN`, `FAIL`).
fn verdict<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|line| {
            line.split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" ")
                .starts_with(name)
        })
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no item {name:?} in:\n{text}"))
}

fn set(server: &RedisServer, key: &str, value: &str) {
    let _: () = redis::cmd("SET")
        .arg(key)
        .arg(value)
        .query(&mut server.conn())
        .unwrap();
}

fn dbsize(server: &RedisServer) -> u64 {
    redis::cmd("DBSIZE").query(&mut server.conn()).unwrap()
}

#[test]
fn a_source_and_an_empty_target_pass_every_item() {
    let source = RedisServer::start();
    set(&source, "k", "v");
    let target = RedisServer::start();
    let (text, code) = check(&["--source", &source.url(), "--target", &target.url()]);
    for item in [
        "reachable",
        "replication",
        "backlog",
        "replica buffer",
        "repl-timeout",
        "version",
        "maxmemory-policy",
        "memory",
        "proto-max-bulk-len",
        "modules",
        "functions",
        "field TTLs",
        "keys of its own",
    ] {
        assert_eq!(verdict(&text, item), "pass", "{item}:\n{text}");
    }
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(dbsize(&target), 0, "check wrote to the target");
    assert_eq!(dbsize(&source), 1);
}

#[test]
fn an_evicting_target_warns_and_exits_2() {
    let target = RedisServer::start_with_args(&["--maxmemory-policy", "allkeys-lru"]);
    let (text, code) = check(&["--target", &target.url()]);
    assert_eq!(verdict(&text, "maxmemory-policy"), "WARN", "{text}");
    assert!(
        text.contains("allkeys-lru") && text.contains("noeviction"),
        "{text}"
    );
    assert_eq!(code, Some(2), "{text}");
}

#[test]
fn keys_of_the_target_s_own_fail_unless_overwrite_is_chosen() {
    let target = RedisServer::start();
    set(&target, "mine", "1");
    let (text, code) = check(&["--target", &target.url()]);
    assert_eq!(verdict(&text, "keys of its own"), "FAIL", "{text}");
    assert!(
        text.contains("\"mine\"") && text.contains("--on-existing overwrite"),
        "{text}"
    );
    assert_eq!(code, Some(1), "{text}");
    let (text, code) = check(&["--target", &target.url(), "--on-existing", "overwrite"]);
    assert_eq!(verdict(&text, "keys of its own"), "WARN", "{text}");
    assert_eq!(code, Some(2), "{text}");
    assert_eq!(dbsize(&target), 1, "check changed the target");
}

#[test]
fn a_target_smaller_than_the_source_fails_on_memory() {
    let source = RedisServer::start();
    let value = "x".repeat(100_000);
    for i in 0..60 {
        set(&source, &format!("big:{i}"), &value);
    }
    let target = RedisServer::start_with_args(&["--maxmemory", "3mb"]);
    let (text, code) = check(&["--source", &source.url(), "--target", &target.url()]);
    assert_eq!(verdict(&text, "memory"), "FAIL", "{text}");
    assert!(text.contains("raise maxmemory"), "{text}");
    assert_eq!(code, Some(1), "{text}");
}

/// `sync` takes the same checks before its first write: a target too small for the source is
/// refused with nothing written, and `--skip-check memory` goes on (into the target's OOM
/// replies, which it waits on).
#[test]
fn sync_refuses_a_target_too_small_before_any_write_unless_the_check_is_skipped() {
    let source = RedisServer::start();
    let value = "x".repeat(100_000);
    for i in 0..60 {
        set(&source, &format!("big:{i}"), &value);
    }
    let target =
        RedisServer::start_with_args(&["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]);
    let sync = |extra: &[&str]| {
        let output = common::follow::sync_cmd(&source, &target)
            .args(["--snapshot-only", "--retry-other-for-secs", "2"])
            .args(extra)
            .output()
            .expect("run slotstream sync");
        let text = String::from_utf8_lossy(&output.stderr).to_string();
        (text, output.status.success())
    };
    let (text, ok) = sync(&[]);
    assert!(!ok, "sync went on into a target too small:\n{text}");
    assert!(
        text.contains("the checks before the first write failed; nothing was written")
            && text.contains("target memory:")
            && text.contains("--skip-check memory"),
        "{text}"
    );
    assert_eq!(dbsize(&target), 0, "sync wrote before its checks failed");
    let (text, ok) = sync(&["--skip-check", "memory"]);
    assert!(!ok, "6 MB fitted into 3 MB:\n{text}");
    assert!(
        !text.contains("checks before the first write failed"),
        "{text}"
    );
    assert!(text.contains("out of memory"), "{text}");
}

/// Function libraries into a target without functions (6.2) and hashes with field TTLs into one
/// without them (7.0) fail, naming what and how many; with `--on-unsupported skip-with-warning`
/// they warn that the copy leaves them out.
#[test]
fn functions_and_field_ttls_a_target_lacks_fail_unless_left_out() {
    let (Some(functions), Some(no_functions)) = (
        common::versions::start(common::versions::HUB),
        common::versions::start("redis-6.2.14"),
    ) else {
        return;
    };
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(common::versions::LIBRARY)
        .query(&mut functions.conn())
        .unwrap();
    let (Some(field_ttls), Some(no_field_ttls)) = (
        common::versions::start("redis-7.4.1"),
        common::versions::start(common::versions::HUB),
    ) else {
        return;
    };
    common::versions::write_field_ttl_hash(&mut field_ttls.conn(), "h:ttl", 4000);
    for (source, target, item, said) in [
        (
            &functions,
            &no_functions,
            "functions",
            "1 library on the source (matrixlib)",
        ),
        (
            &field_ttls,
            &no_field_ttls,
            "field TTLs",
            "1 hash with field TTLs on the source",
        ),
    ] {
        let sides = ["--source", &source.url(), "--target", &target.url()];
        let (text, code) = check(&sides);
        assert_eq!(verdict(&text, item), "FAIL", "{text}");
        assert!(text.contains(said), "{text}");
        assert_eq!(code, Some(1), "{text}");
        let mut skipping = sides.to_vec();
        skipping.extend(["--on-unsupported", "skip-with-warning"]);
        let (text, _) = check(&skipping);
        assert_eq!(verdict(&text, item), "WARN", "{text}");
        assert!(text.contains("leaves"), "{text}");
    }
}

#[test]
fn a_backlog_that_holds_little_of_the_write_rate_warns() {
    let source = RedisServer::start_with_args(&["--repl-backlog-size", "16kb"]);
    let url = source.url();
    let writer = std::thread::spawn(move || {
        let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
        let until = Instant::now() + Duration::from_secs(4);
        let value = "v".repeat(1_000);
        let mut i = 0u64;
        while Instant::now() < until {
            let _: () = redis::cmd("SET")
                .arg(format!("w:{}", i % 1_000))
                .arg(&value)
                .query(&mut conn)
                .unwrap();
            i += 1;
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let (text, code) = check(&["--source", &source.url()]);
    writer.join().unwrap();
    assert_eq!(verdict(&text, "backlog"), "WARN", "{text}");
    assert!(text.contains("raise repl-backlog-size"), "{text}");
    assert_eq!(code, Some(2), "{text}");
}

#[test]
fn a_source_user_without_replication_rights_fails_and_a_closed_port_is_unreachable() {
    let source = RedisServer::start();
    let _: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                "reader",
                "on",
                ">secret",
                "~*",
                "&*",
                "+@all",
                "-replconf",
            ][..],
        )
        .query(&mut source.conn())
        .unwrap();
    let url = format!("redis://reader:secret@127.0.0.1:{}", source.port());
    let (text, code) = check(&["--source", &url]);
    assert_eq!(verdict(&text, "replication"), "FAIL", "{text}");
    assert!(text.contains("+replconf"), "{text}");
    assert!(
        !text.contains("secret"),
        "the password was printed:\n{text}"
    );
    assert_eq!(code, Some(1), "{text}");

    let closed = slotstream_test_support::server::free_port();
    let (text, code) = check(&["--source", &format!("redis://127.0.0.1:{closed}")]);
    assert_eq!(verdict(&text, "reachable"), "FAIL", "{text}");
    assert_eq!(code, Some(1), "{text}");
}
