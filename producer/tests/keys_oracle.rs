//! `CommandTable::key_indices` against each server's own `COMMAND GETKEYS`, on every server
//! version at hand: a corpus of write commands (each checked only where the version has it),
//! keyless commands, Redis Stack module commands, and a no-panic sweep over the whole table.
//!
//! Debian's `redis-server` (7.0.15, from `PATH`) always runs. The other versions come from
//! `scripts/install-servers.sh $SERVERS_DIR` (see `slotstream_test_support::versions`); a
//! version whose binary is missing fails the test in CI and is skipped with a note elsewhere.

#[path = "keys_corpus.rs"]
mod corpus;

use corpus::{CORPUS, KEYLESS, LIBRARY, MODULES, SCRIPT};
use slotstream_producer::keys::CommandTable;
use slotstream_test_support::{server, versions, RedisServer};
use std::path::Path;

/// Errors with which `COMMAND GETKEYS` says "no keys" (the wording differs by version; 7.0
/// refuses a command with no arguments at all).
const NO_KEYS: &[&str] = &[
    "The command has no key arguments",
    "Invalid arguments specified for command",
    "wrong number of arguments for 'command|getkeys'",
];

/// Arguments of a corpus line, placeholders filled in.
fn args(line: &str, dump: &[u8]) -> Vec<Vec<u8>> {
    line.split_whitespace()
        .map(|word| match word {
            "''" => Vec::new(),
            "<dump>" => dump.to_vec(),
            "<script>" => SCRIPT.as_bytes().to_vec(),
            "<lib>" => LIBRARY.as_bytes().to_vec(),
            _ => word.as_bytes().to_vec(),
        })
        .collect()
}

/// The server's keys for `args`, by name; `None` if it says the command has no keys.
fn server_keys(conn: &mut redis::Connection, args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    match redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg(args)
        .query::<Vec<Vec<u8>>>(conn)
    {
        Ok(keys) => Ok(keys),
        Err(e) if NO_KEYS.iter().any(|m| e.to_string().contains(m)) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether the server has this command in this form: it lists the name (`COMMAND INFO` gives
/// nil otherwise) and the argument count fits its arity (`LPOP key count` is 6.2+).
fn supported(conn: &mut redis::Connection, args: &[Vec<u8>]) -> bool {
    let info: Vec<redis::Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(&args[0])
        .query(conn)
        .expect("COMMAND INFO");
    let arity = match info.first() {
        Some(redis::Value::Array(entry)) => match entry.get(1) {
            Some(redis::Value::Int(arity)) => *arity,
            _ => panic!(
                "COMMAND INFO {:?}: no arity",
                String::from_utf8_lossy(&args[0])
            ),
        },
        _ => return false,
    };
    let argc = i64::try_from(args.len()).unwrap_or(i64::MAX);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Checks `corpus` and [`KEYLESS`] on one server; panics listing every disagreement.
fn check(label: &str, binary: &Path, extra: &[&str], corpus: &[&str]) {
    let server = RedisServer::start_binary(binary, extra);
    let mut conn = server.conn();
    let table = CommandTable::load(&mut conn).unwrap_or_else(|e| panic!("{label}: {e}"));
    let _: () = redis::cmd("SET")
        .arg("dumped")
        .arg("value")
        .query(&mut conn)
        .expect("SET");
    let dump: Vec<u8> = redis::cmd("DUMP")
        .arg("dumped")
        .query(&mut conn)
        .expect("DUMP");
    let (mut agreed, mut in_order, mut skipped, mut failures) = (0, 0, Vec::new(), Vec::new());
    for (line, keyless) in corpus
        .iter()
        .map(|l| (l, false))
        .chain(KEYLESS.iter().map(|l| (l, true)))
    {
        let args = args(line, &dump);
        if !supported(&mut conn, &args) {
            skipped.push(*line);
            continue;
        }
        let ours = match table.key_indices(&args) {
            Ok(found) => found.iter().map(|&i| args[i].clone()).collect::<Vec<_>>(),
            Err(e) => {
                failures.push(format!("{line}: {e}"));
                continue;
            }
        };
        let theirs = match server_keys(&mut conn, &args) {
            Ok(keys) => keys,
            Err(e) => {
                failures.push(format!("{line}: COMMAND GETKEYS failed: {e}"));
                continue;
            }
        };
        // GETKEYS lists some destinations after their sources; compare as multisets.
        let (mut a, mut b) = (ours.clone(), theirs.clone());
        a.sort();
        b.sort();
        if a != b || (keyless && !ours.is_empty()) {
            let show = |k: &[Vec<u8>]| {
                k.iter()
                    .map(|k| String::from_utf8_lossy(k).into_owned())
                    .collect::<Vec<_>>()
            };
            failures.push(format!(
                "{line}: ours {:?}, server {:?}",
                show(&ours),
                show(&theirs)
            ));
        } else {
            agreed += 1;
            in_order += usize::from(ours == theirs);
        }
    }
    sweep(label, &table);
    eprintln!(
        "{label}: {agreed} commands agree with COMMAND GETKEYS ({in_order} in the same order); \
         not in this version: {skipped:?}"
    );
    assert!(
        failures.is_empty(),
        "{label}: {} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every command and subcommand of the real table with junk arguments: no panic, and any
/// indices found are in range and ascending.
fn sweep(label: &str, table: &CommandTable) {
    const JUNK: &[&str] = &[
        "0",
        "2",
        "-1",
        "99999999999999999999",
        "",
        "STORE",
        "KEYS",
        "STREAMS",
        "k",
    ];
    for info in table.iter() {
        let subs: Vec<String> = info
            .subcommands()
            .map(|s| s.name.replace('|', " "))
            .collect();
        for name in std::iter::once(info.name.clone()).chain(subs) {
            for len in 0..10 {
                for shift in 0..JUNK.len() {
                    let mut args: Vec<Vec<u8>> =
                        name.split(' ').map(|p| p.as_bytes().to_vec()).collect();
                    args.extend(
                        (0..len).map(|i| JUNK[(i * 7 + shift) % JUNK.len()].as_bytes().to_vec()),
                    );
                    if let Ok(found) = table.key_indices(&args) {
                        let fine = found.windows(2).all(|w| w[0] < w[1])
                            && found.iter().all(|&i| i < args.len());
                        assert!(fine, "{label}: {args:?} gave {found:?}");
                    }
                }
            }
        }
    }
}

/// Runs the check on an installed version (a missing one: see `versions::binary`).
fn versioned(name: &str, extra: &[&str], corpus: &[&str]) {
    if let Some(binary) = versions::binary(name) {
        check(name, &binary, extra, corpus);
    }
}

#[test]
fn debian_redis_7_0_15() {
    if let Some(binary) = server::default_binary() {
        check("redis-7.0.15 (Debian)", &binary, &[], CORPUS);
    }
}

#[test]
fn redis_5_0_10() {
    versioned("redis-5.0.10", &[], CORPUS);
}

#[test]
fn redis_6_0_9() {
    versioned("redis-6.0.9", &[], CORPUS);
}

#[test]
fn redis_6_2_14() {
    versioned("redis-6.2.14", &[], CORPUS);
}

#[test]
fn redis_7_4_1() {
    versioned("redis-7.4.1", &[], CORPUS);
}

#[test]
fn valkey_8_1_8() {
    versioned("valkey-8.1.8", &[], CORPUS);
}

#[test]
fn valkey_9_1_2() {
    versioned("valkey-9.1.2", &[], CORPUS);
}

#[test]
fn redis_7_4_1_with_stack_modules() {
    let Some(binary) = versions::binary(versions::MODULES_VERSION) else {
        return;
    };
    let mut extra = Vec::new();
    for name in [
        "rejson.so",
        "redisbloom.so",
        "redistimeseries.so",
        "redisearch.so",
    ] {
        let Some(module) = versions::stack_module(name) else {
            return;
        };
        extra.push("--loadmodule".to_string());
        extra.push(module.to_string_lossy().into_owned());
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    check("redis-7.4.1 + Stack modules", &binary, &extra, MODULES);
}
