//! Unit tests on captured replies: each file in `fixtures/` is the raw RESP2 reply of one server
//! version to `COMMAND INFO` + [`FIXTURE_NAMES`]. Hand-built replies for shapes no shipped
//! server has are in `synthetic`.

mod synthetic;

use super::{CommandTable, KeysError};

/// The names asked for in each fixture (`nosuchcommand` checks the nil entry).
const FIXTURE_NAMES: &str = "set del mset sort sort_ro xgroup object eval evalsha fcall migrate \
    georadius georadius_ro zunionstore zunion xread xreadgroup lmpop blmpop bitop pfmerge publish \
    spublish flushall select msetex memory function lmove hset getex nosuchcommand";

const FIXTURES: &[(&str, &[u8])] = &[
    ("redis-5.0.10", include_bytes!("fixtures/redis-5.0.10.resp")),
    ("redis-6.0.9", include_bytes!("fixtures/redis-6.0.9.resp")),
    ("redis-6.2.14", include_bytes!("fixtures/redis-6.2.14.resp")),
    ("redis-7.0.15", include_bytes!("fixtures/redis-7.0.15.resp")),
    ("redis-7.4.1", include_bytes!("fixtures/redis-7.4.1.resp")),
    ("valkey-8.1.8", include_bytes!("fixtures/valkey-8.1.8.resp")),
    ("valkey-9.1.2", include_bytes!("fixtures/valkey-9.1.2.resp")),
];

/// Versions with key specs and subcommands.
const SPEC_VERSIONS: &[&str] = &[
    "redis-7.0.15",
    "redis-7.4.1",
    "valkey-8.1.8",
    "valkey-9.1.2",
];
const OLD_VERSIONS: &[&str] = &["redis-5.0.10", "redis-6.0.9", "redis-6.2.14"];

fn table(version: &str) -> CommandTable {
    let (_, bytes) = FIXTURES
        .iter()
        .find(|(v, _)| *v == version)
        .expect("fixture");
    let reply = redis::parse_redis_value(bytes).expect("fixture is RESP");
    CommandTable::from_command_reply(&reply).expect("fixture loads")
}

fn tables() -> impl Iterator<Item = (&'static str, CommandTable)> {
    FIXTURES.iter().map(|(v, _)| (*v, table(v)))
}

pub(super) fn args(line: &str) -> Vec<Vec<u8>> {
    line.split_whitespace()
        .map(|a| {
            if a == "''" {
                Vec::new()
            } else {
                a.as_bytes().to_vec()
            }
        })
        .collect()
}

pub(super) fn keys(table: &CommandTable, line: &str) -> Vec<usize> {
    table
        .key_indices(&args(line))
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn every_fixture_loads_with_what_the_version_has() {
    let asked = FIXTURE_NAMES.split_whitespace().count();
    for (version, table) in tables() {
        assert!(table.info(b"nosuchcommand").is_none(), "{version}");
        assert!(table.len() < asked, "{version}: the nil entry is skipped");
        let has = |name: &str| table.info(name.as_bytes()).is_some();
        assert_eq!(has("lmpop"), SPEC_VERSIONS.contains(&version), "{version}");
        assert_eq!(
            has("lmove"),
            version != "redis-5.0.10" && version != "redis-6.0.9"
        );
        assert_eq!(has("msetex"), version == "valkey-9.1.2", "{version}");
    }
}

#[test]
fn keys_common_to_every_version() {
    let cases: &[(&str, &[usize])] = &[
        ("SET k v", &[1]),
        ("sEt k v EX 10", &[1]),
        ("DEL a b c d e f", &[1, 2, 3, 4, 5, 6]),
        ("MSET k1 v1 k2 v2 k3 v3 k4 v4 k5 v5", &[1, 3, 5, 7, 9]),
        ("HSET h f1 v1 f2 v2", &[1]),
        ("SORT src BY w_* GET o_* LIMIT 0 10 STORE dst", &[1, 10]),
        ("sort src ALPHA", &[1]),
        ("SORT src BY store GET store STORE dst", &[1, 7]),
        ("GEORADIUS g 15 37 200 km STORE dst", &[1, 7]),
        ("GEORADIUS_RO g 15 37 200 km WITHDIST", &[1]),
        ("ZUNIONSTORE out 3 a b c WEIGHTS 1 2 3", &[1, 3, 4, 5]),
        ("zunionstore out 1 a", &[1, 3]),
        ("XREADGROUP GROUP g c COUNT 10 STREAMS s1 s2 > >", &[7, 8]),
        ("XREAD COUNT 2 STREAMS a b c 0 0 0", &[4, 5, 6]),
        ("EVAL return(1) 0", &[]),
        ("EVAL return(1) 1 k v", &[3]),
        ("eval return(1) 3 a b c x y", &[3, 4, 5]),
        (
            "EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 2 a b x",
            &[3, 4],
        ),
        ("MIGRATE h 6380 k 0 5000", &[3]),
        (
            "MIGRATE h 6380 '' 0 5000 COPY REPLACE KEYS a b c",
            &[9, 10, 11],
        ),
        ("BITOP AND dst a b", &[2, 3, 4]),
        ("PFMERGE dst a b", &[1, 2, 3]),
        // Legal, and it writes dst; 7.0+ COMMAND GETKEYS answers nothing here.
        ("PFMERGE dst", &[1]),
        ("OBJECT ENCODING k", &[2]),
        ("XGROUP CREATE st g $ MKSTREAM", &[2]),
        ("xgroup setid st g 0", &[2]),
        ("FLUSHALL", &[]),
        ("flushall ASYNC", &[]),
        ("SELECT 3", &[]),
        ("PUBLISH ch hello", &[]),
    ];
    for (version, table) in tables() {
        for (line, want) in cases {
            assert_eq!(keys(&table, line), *want, "{version}: {line}");
        }
    }
}

#[test]
fn keys_of_newer_commands() {
    for version in SPEC_VERSIONS {
        let table = table(version);
        assert_eq!(
            keys(&table, "LMPOP 2 a b LEFT COUNT 2"),
            [2, 3],
            "{version}"
        );
        assert_eq!(keys(&table, "BLMPOP 0 2 a b RIGHT"), [3, 4], "{version}");
        assert_eq!(keys(&table, "FCALL f 2 a b x"), [3, 4], "{version}");
        assert_eq!(
            keys(&table, "LMOVE src dst LEFT RIGHT"),
            [1, 2],
            "{version}"
        );
        assert_eq!(
            keys(&table, "SPUBLISH ch hello"),
            [] as [usize; 0],
            "{version}"
        );
        assert_eq!(
            keys(&table, "FUNCTION LOAD code"),
            [] as [usize; 0],
            "{version}"
        );
        assert_eq!(keys(&table, "MEMORY USAGE k"), [2], "{version}");
        assert_eq!(keys(&table, "GETEX k PERSIST"), [1], "{version}");
        // Key specs name each store option, so both destinations count.
        let both = "GEORADIUS g 15 37 200 km STORE a STOREDIST b";
        assert_eq!(keys(&table, both), [1, 7, 9], "{version}");
    }
    let valkey9 = table("valkey-9.1.2");
    assert_eq!(keys(&valkey9, "MSETEX 2 a 1 b 2 EX 100"), [2, 4]);
    for version in OLD_VERSIONS {
        let table = table(version);
        // The server's own rule: the last store option wins.
        let both = "GEORADIUS g 15 37 200 km STORE a STOREDIST b";
        assert_eq!(keys(&table, both), [1, 9], "{version}");
        // 5.0 lists no keys for MEMORY at all; 6.x flags it movablekeys, and it has no rule.
        let memory = table.key_indices(&args("MEMORY USAGE k"));
        if *version == "redis-5.0.10" {
            assert_eq!(memory.expect("5.0 memory"), [] as [usize; 0]);
        } else {
            assert!(
                matches!(memory, Err(KeysError::Unsupported { .. })),
                "{version}"
            );
        }
        let function = table.key_indices(&args("FUNCTION LOAD code"));
        assert!(matches!(function, Err(KeysError::UnknownCommand(n)) if n == "FUNCTION"));
    }
}

#[test]
fn flags_and_subcommands() {
    for (version, table) in tables() {
        let info = |name: &str| table.info(name.as_bytes()).expect(name);
        assert!(info("SET").is_write && !info("set").no_keys, "{version}");
        for keyless in ["flushall", "SELECT", "publish"] {
            assert!(info(keyless).no_keys, "{version}: {keyless}");
        }
        assert!(info("eval").movable_keys, "{version}");
        let create = table
            .info_for(&args("XGROUP CREATE st g $"))
            .expect("xgroup");
        assert!(create.is_write, "{version}");
        let xgroup = info("xgroup");
        if SPEC_VERSIONS.contains(&version) {
            // A container carries no flags; its subcommands do.
            assert!(!xgroup.is_write && !xgroup.no_keys, "{version}");
            assert_eq!(create.name, "xgroup|create");
            assert!(info("XGROUP|CREATECONSUMER").is_write);
            assert!(info("function|load").no_keys);
            assert_eq!(xgroup.subcommands().count(), 6);
        } else {
            assert!(xgroup.is_write && xgroup.has_flag("denyoom"), "{version}");
            assert_eq!(create.name, "xgroup");
        }
    }
}

#[test]
fn errors_name_the_command() {
    for (version, table) in tables() {
        let err = |line: &str| table.key_indices(&args(line)).expect_err(line);
        assert!(matches!(err("NOSUCH k"), KeysError::UnknownCommand(n) if n == "NOSUCH"));
        assert!(matches!(err(""), KeysError::Malformed { .. }), "{version}");
        for bad in [
            "EVAL s 3 a b",
            "EVAL s -1",
            "EVAL s many a",
            "EVAL s",
            "SET",
            "ZUNIONSTORE out 5 a b",
            "SORT",
            "MIGRATE h 6380 k 0 5000 KEYS a",
        ] {
            let e = err(bad);
            assert!(
                matches!(e, KeysError::Malformed { .. }),
                "{version}: {bad}: {e}"
            );
            let name = bad
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(e.to_string().contains(&name), "{version}: {e}");
        }
    }
    let table = table("redis-7.0.15");
    let e = table
        .key_indices(&args("xgroup nope st"))
        .expect_err("no such subcommand");
    assert!(matches!(e, KeysError::UnknownCommand(n) if n == "xgroup nope"));
    // The container alone is keyless, like the server says.
    assert_eq!(keys(&table, "XGROUP"), [] as [usize; 0]);
}

#[test]
fn junk_never_panics_and_indices_stay_in_range() {
    const WORDS: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "-1",
        "18446744073709551616",
        "9223372036854775807",
        "",
        "STORE",
        "storedist",
        "KEYS",
        "STREAMS",
        "LIMIT",
        "BY",
        "GET",
        "AUTH",
        "AUTH2",
        "GROUP",
        "k",
        "$",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (version, table) in tables() {
        let mut names: Vec<String> = Vec::new();
        for info in table.iter() {
            names.push(info.name.clone());
            names.extend(info.subcommands().map(|s| s.name.replace('|', " ")));
        }
        for name in &names {
            for len in 0..12 {
                for _ in 0..8 {
                    let mut line: Vec<Vec<u8>> =
                        name.split(' ').map(|p| p.as_bytes().to_vec()).collect();
                    line.extend(
                        (0..len).map(|_| WORDS[next() as usize % WORDS.len()].as_bytes().to_vec()),
                    );
                    if let Ok(found) = table.key_indices(&line) {
                        assert!(found.windows(2).all(|w| w[0] < w[1]), "{version}: {line:?}");
                        assert!(
                            found.iter().all(|&i| i >= 1 && i < line.len()),
                            "{version}: {line:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn names_longer_than_any_command_are_unknown() {
    let table = table("redis-7.0.15");
    let long = vec![b'S'; 300];
    assert!(table.info(&long).is_none());
    assert!(matches!(
        table.key_indices(&[long]),
        Err(KeysError::UnknownCommand(_))
    ));
    assert!(table.info(b"|").is_none() && table.info(b"xgroup|").is_none());
}
