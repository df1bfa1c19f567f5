//! Least-privilege accounts: a source account and a target account with exactly the rules
//! README's "Least privilege" documents copy everything, and one rule fewer on either side is
//! named (the command, what it is for, the rule that allows it) before anything is written.

mod common;

use common::dataset::write_full;
use common::follow::{assert_identical, fails, wait_caught_up, write_counters, Proc, PARTITIONS};
use common::{key_count, slotstream, RedisServer};
use std::process::Command;

/// README's rules for the source account (Redis 7.0: no `+hpexpiretime` before 7.4).
const SOURCE_RULES: &str =
    "+psync +replconf +ping +info +command +config|get +module|list +select +scan +hkeys %R~* \
     +acl|dryrun";
/// README's rules for the target account.
const TARGET_RULES: &str =
    "~* &* +@read +@write +@keyspace +@transaction +@connection +@scripting +info +config|get \
     +acl|dryrun";

const PASSWORD: &str = "acl-test-pw";

/// A server with an account `user` holding exactly `rules` (and the default user left as is,
/// for the test's own checks).
fn server_with_account(user: &str, rules: &str) -> RedisServer {
    let server = RedisServer::start();
    let mut cmd = redis::cmd("ACL");
    cmd.arg("SETUSER")
        .arg(user)
        .arg("on")
        .arg(format!(">{PASSWORD}"));
    for rule in rules.split_whitespace() {
        cmd.arg(rule);
    }
    let _: () = cmd.query(&mut server.conn()).expect("ACL SETUSER");
    server
}

fn url_as(server: &RedisServer, user: &str) -> String {
    format!("redis://{user}:{PASSWORD}@127.0.0.1:{}", server.port())
}

fn sync_as(source: &RedisServer, target: &RedisServer) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", &url_as(source, "copier")])
        .args(["--target", &url_as(target, "writer")])
        .args(["--partitions", &PARTITIONS.to_string()]);
    cmd
}

/// `rules` without `rule`.
fn without(rules: &str, rule: &str) -> String {
    let kept: Vec<&str> = rules.split_whitespace().filter(|r| *r != rule).collect();
    assert!(
        kept.len() < rules.split_whitespace().count(),
        "no {rule} in {rules}"
    );
    kept.join(" ")
}

#[test]
fn accounts_with_exactly_the_documented_rules_copy_everything() {
    let source = server_with_account("copier", SOURCE_RULES);
    let target = server_with_account("writer", TARGET_RULES);
    write_full(&mut source.conn());
    let mut sync = Proc::spawn(&mut sync_as(&source, &target), "sync");
    write_counters(&source, 1);
    let log = format!("sync:127.0.0.1:{}", source.port());
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_identical(&source, &target);
    let log = sync.stop();
    assert!(!log.contains("may not run"), "{log}");
    assert!(!log.contains("NOPERM"), "{log}");
    assert!(
        !log.contains("cannot check"),
        "the permissions were not checked:\n{log}"
    );
    assert!(
        !log.contains("cannot be read"),
        "a check before the first write could not read a setting:\n{log}"
    );
}

#[test]
fn a_source_account_one_rule_short_is_named_before_any_write() {
    let source = server_with_account("copier", &without(SOURCE_RULES, "+replconf"));
    let target = server_with_account("writer", TARGET_RULES);
    write_full(&mut source.conn());
    let log = fails(&mut sync_as(&source, &target), "sync");
    assert!(log.contains("REPLCONF (replicating)"), "{log}");
    assert!(log.contains("ACL SETUSER copier +replconf"), "{log}");
    assert_eq!(key_count(&target), 0, "the target was written:\n{log}");
}

#[test]
fn a_target_account_one_rule_short_is_named_before_any_write() {
    let source = server_with_account("copier", SOURCE_RULES);
    let target = server_with_account("writer", &without(TARGET_RULES, "+@transaction"));
    write_full(&mut source.conn());
    let log = fails(&mut sync_as(&source, &target), "sync");
    assert!(
        log.contains("MULTI (applying a batch with its checkpoint)"),
        "{log}"
    );
    assert!(log.contains("ACL SETUSER writer +multi +exec"), "{log}");
    assert_eq!(key_count(&target), 0, "the target was written:\n{log}");
}
