//! Rewriting decoded values as commands: which commands, with which arguments.

use super::*;
use crate::target::parse_info;
use crate::wire::decode;

fn text(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A key from a hand-built RDB object: `object` is what follows the type byte.
fn key(rdb_type: u8, object: Vec<u8>, expire_ms: Option<i64>) -> SnapshotKey {
    SnapshotKey {
        key: b"k".to_vec(),
        rdb_type,
        object,
        rdb_version: 12,
        expire_ms,
        idle_s: None,
        freq: None,
    }
}

fn rdb_string(s: &[u8]) -> Vec<u8> {
    let mut out = vec![s.len() as u8];
    out.extend_from_slice(s);
    out
}

fn rewrite(key: &SnapshotKey, target: &str, on: OnUnsupported) -> Result<Vec<String>, String> {
    let info = parse_info(target);
    let ctx = RewriteContext {
        target: &info,
        now_ms: 1_000,
        extension_ms: 0,
        on_unsupported: on,
    };
    let mut out = Commands::default();
    match write_part(&mut out, &key.key, &Part::whole(key), &ctx) {
        Ok(Rewritten::Commands(n)) => {
            let commands = decode(&mut out);
            assert_eq!(commands.len(), n, "the count matches what was written");
            Ok(commands.iter().map(|c| text(c)).collect())
        }
        Ok(Rewritten::Skipped(why)) => Err(format!("skipped: {why}")),
        Err(err) => Err(err.to_string()),
    }
}

const REDIS_5: &str = "redis_version:5.0.10\r\n";

#[test]
fn a_string_with_a_ttl_is_set_then_expired() {
    let k = key(0, rdb_string(b"hello"), Some(5_000));
    assert_eq!(
        rewrite(&k, REDIS_5, OnUnsupported::Fail).unwrap(),
        ["DEL k", "SET k hello", "PEXPIREAT k 5000"]
    );
}

#[test]
fn a_set_is_added_in_commands_of_bounded_size() {
    let mut object = vec![0x40 | 0x01, 0x2c]; // 300 members, a 14-bit length
    for i in 0..300 {
        object.extend(rdb_string(format!("m{i}").as_bytes()));
    }
    let commands = rewrite(&key(2, object, None), REDIS_5, OnUnsupported::Fail).unwrap();
    assert_eq!(commands.len(), 3);
    assert_eq!(commands[1].split(' ').count(), 2 + ELEMENTS_PER_COMMAND);
    assert_eq!(
        commands[2].split(' ').count(),
        2 + 300 - ELEMENTS_PER_COMMAND
    );
    assert!(commands[2].ends_with("m299"));
}

#[test]
fn zset_scores_keep_their_exact_value() {
    // Type 5: members with binary doubles.
    let mut object = vec![3];
    for (member, score) in [
        (&b"a"[..], 0.1f64),
        (b"b", f64::INFINITY),
        (b"c", -2.5e-300),
    ] {
        object.extend(rdb_string(member));
        object.extend(score.to_le_bytes());
    }
    let commands = rewrite(&key(5, object, None), REDIS_5, OnUnsupported::Fail).unwrap();
    assert_eq!(commands[1], "ZADD k 0.1 a inf b -2.5e-300 c");
    let c = commands[1].rsplit(' ').nth(1).unwrap();
    assert_eq!(c.parse::<f64>().unwrap(), -2.5e-300);
}

/// Hashes with field TTLs are covered end to end, against real servers (tests/versions.rs).
#[test]
fn a_hash_without_field_ttls_goes_to_any_target() {
    let mut object = vec![2];
    for s in [&b"f1"[..], b"v1", b"f2", b"v2"] {
        object.extend(rdb_string(s));
    }
    assert_eq!(
        rewrite(&key(4, object, None), REDIS_5, OnUnsupported::Fail).unwrap(),
        ["DEL k", "HSET k f1 v1 f2 v2"]
    );
}

#[test]
fn module_values_are_refused_with_a_reason() {
    let err = rewrite(&key(7, vec![1, 2, 3], None), REDIS_5, OnUnsupported::Fail).unwrap_err();
    assert!(err.contains("module"), "{err}");
}
