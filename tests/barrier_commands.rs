//! Commands without keys that reach every partition (barriers), in a live `sync`: `FLUSHDB` of
//! db 0, where the checkpoints live; `FLUSHALL`, with `sync` killed right after it;
//! `FUNCTION LOAD`, `DELETE` and `FLUSH`; `PUBLISH` dropped by default and forwarded with
//! `--forward-publish`; `SCRIPT FLUSH` between scripts, on three versions. Every step is
//! checked on the target's contents, and counters written after each flush show that nothing
//! was applied twice.

mod common;

use common::follow::{
    assert_nothing_refused, sync_cmd, sync_log, wait_caught_up, write_counters, Proc,
};
use common::{assert_same_contents, verify_identical, RedisServer};
use std::time::Duration;

const LIBRARY: &str = "#!lua name=barrierlib\n\
     redis.register_function('barrier_echo', function(keys, args) return args[1] end)";

fn run(server: &RedisServer, args: &[&str]) -> redis::Value {
    redis::cmd(args[0])
        .arg(&args[1..])
        .query(&mut server.conn())
        .unwrap_or_else(|err| panic!("{args:?}: {err}"))
}

fn assert_identical(source: &RedisServer, target: &RedisServer) {
    assert_same_contents(&source.url(), &target.url());
    verify_identical(source, target);
}

fn counter(server: &RedisServer, key: &str) -> Option<i64> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.conn())
        .expect("GET")
}

fn major_version(server: &RedisServer) -> u32 {
    let version = server.info_field("server", "redis_version");
    version
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or_else(|| panic!("redis_version {version:?} has no major number"))
}

fn libraries(server: &RedisServer) -> Vec<String> {
    let listed: Vec<Vec<redis::Value>> = redis::cmd("FUNCTION")
        .arg("LIST")
        .query(&mut server.conn())
        .expect("FUNCTION LIST");
    listed
        .iter()
        .filter_map(|library| {
            // [library_name, NAME, engine, ENGINE, functions, [...]]
            match library.get(1) {
                Some(redis::Value::BulkString(name)) => {
                    Some(String::from_utf8_lossy(name).into_owned())
                }
                Some(redis::Value::SimpleString(name)) => Some(name.clone()),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn flushes_of_db_0_and_of_everything_keep_the_checkpoints_and_apply_once() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let log = sync_log(&source);
    write_counters(&source, 0);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);

    // FLUSHDB of db 0 takes the checkpoints' database with it; they must be whole after it.
    run(&source, &["SET", "other-db", "kept"]);
    run(&source, &["FLUSHDB"]);
    for _ in 0..3 {
        run(&source, &["INCR", "after-flushdb"]);
    }
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_identical(&source, &target);
    assert_eq!(counter(&target, "after-flushdb"), Some(3));

    // FLUSHALL, then a kill before anything after it can have been checkpointed for long.
    write_counters(&source, 1);
    let mut db2 = source.conn();
    let _: () = redis::pipe()
        .cmd("SELECT")
        .arg(2)
        .cmd("SET")
        .arg("in-db-2")
        .arg("x")
        .query(&mut db2)
        .expect("write db 2");
    run(&source, &["FLUSHALL"]);
    for _ in 0..5 {
        run(&source, &["INCR", "after-flushall"]);
    }
    std::thread::sleep(Duration::from_millis(200));
    sync.kill();
    for _ in 0..2 {
        run(&source, &["INCR", "after-flushall"]);
    }
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_identical(&source, &target);
    assert_eq!(counter(&target, "after-flushall"), Some(7));
    sync.stop();
}

#[test]
fn function_libraries_follow_load_delete_and_flush() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    if major_version(&source) < 7 {
        eprintln!("note: this redis-server has no FUNCTION (before 7.0); nothing to test");
        return;
    }
    let log = sync_log(&source);
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);

    run(&source, &["FUNCTION", "LOAD", LIBRARY]);
    run(&source, &["SET", "marker", "1"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_eq!(libraries(&target), ["barrierlib"]);
    run(&source, &["FUNCTION", "DELETE", "barrierlib"]);
    run(&source, &["SET", "marker", "2"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert!(libraries(&target).is_empty(), "FUNCTION DELETE not applied");
    run(&source, &["FUNCTION", "LOAD", LIBRARY]);
    run(&source, &["FUNCTION", "FLUSH"]);
    run(&source, &["SET", "marker", "3"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert!(libraries(&target).is_empty(), "FUNCTION FLUSH not applied");
    assert_identical(&source, &target);
    sync.stop();
}

#[test]
fn publish_is_dropped_by_default_and_forwarded_when_asked() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let log = sync_log(&source);
    let mut subscriber = target.conn();
    subscriber
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("read timeout");
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("news").expect("SUBSCRIBE");

    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    run(&source, &["PUBLISH", "news", "dropped"]);
    // Applied after the PUBLISH in the stream: once it is there, the PUBLISH was handled.
    run(&source, &["SET", "after-publish", "1"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    let heard = pubsub.get_message().ok().map(|m| m.get_payload::<String>());
    assert!(
        heard.is_none(),
        "a PUBLISH reached the target without --forward-publish: {heard:?}"
    );
    sync.stop();

    let mut cmd = sync_cmd(&source, &target);
    cmd.arg("--forward-publish");
    let mut sync = Proc::spawn(&mut cmd, "sync");
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    run(&source, &["PUBLISH", "news", "forwarded"]);
    run(&source, &["SET", "after-publish", "2"]);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    let heard = pubsub
        .get_message()
        .unwrap_or_else(|err| panic!("no message on the target: {err}\n{}", sync.log()))
        .get_payload::<String>()
        .expect("a text payload");
    assert_eq!(heard, "forwarded");
    assert_identical(&source, &target);
    sync.stop();
}

#[test]
fn script_flush_between_scripts_applies_each_script_once() {
    // Whether `SCRIPT FLUSH` reaches the replication stream depends on the version; the scripts
    // around it reach the target once either way.
    for version in ["redis-5.0.10", "redis-7.0.15", "valkey-9.1.2"] {
        eprintln!("{version}: SCRIPT FLUSH between scripts");
        let (Some(source), Some(target)) = (
            common::versions::start(version),
            common::versions::start(version),
        ) else {
            continue;
        };
        let log = sync_log(&source);
        let mut sync = Proc::spawn(&mut sync_cmd(&source, &target), "sync");
        wait_caught_up(&source, &target, &log, &mut [&mut sync]);

        let incr = "return redis.call('INCR', KEYS[1])";
        let load = |server: &RedisServer| match run(server, &["SCRIPT", "LOAD", incr]) {
            redis::Value::BulkString(sha) => String::from_utf8_lossy(&sha).into_owned(),
            other => panic!("SCRIPT LOAD: {other:?}"),
        };
        let sha = load(&source);
        for _ in 0..3 {
            run(&source, &["EVALSHA", &sha, "1", "scripted"]);
        }
        run(&source, &["SCRIPT", "FLUSH"]);
        let incrby = "return redis.call('INCRBY', KEYS[1], 10)";
        run(&source, &["EVAL", incrby, "1", "scripted"]);
        let sha = load(&source);
        run(&source, &["EVALSHA", &sha, "1", "scripted"]);
        run(&source, &["SCRIPT", "FLUSH"]);
        run(&source, &["SET", "marker", "after"]);
        wait_caught_up(&source, &target, &log, &mut [&mut sync]);

        assert_eq!(counter(&source, "scripted"), Some(14));
        assert_eq!(counter(&target, "scripted"), Some(14), "{version}");
        verify_identical(&source, &target);
        assert_nothing_refused(&sync.stop());
    }
}
