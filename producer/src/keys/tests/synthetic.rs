//! Hand-built `COMMAND` replies: spec shapes no shipped server uses for a replicated command
//! (backward keyword search, `lastkey` -2, overlapping specs), RESP3 maps, module-style names,
//! and tables that are wrong.

use super::{args, keys};
use crate::keys::{CommandTable, KeysError};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

fn flags(names: &[&str]) -> Value {
    arr(names
        .iter()
        .map(|f| Value::SimpleString((*f).into()))
        .collect())
}

/// `[type, T, spec, [k, v, …]]`
fn typed(kind: &str, spec: &[(&str, Value)]) -> Value {
    let inner = spec
        .iter()
        .flat_map(|(k, v)| [bulk(k), v.clone()])
        .collect();
    arr(vec![bulk("type"), bulk(kind), bulk("spec"), arr(inner)])
}

fn spec(spec_flags: &[&str], begin: Value, find: Value) -> Value {
    let (f, b, k) = (bulk("flags"), bulk("begin_search"), bulk("find_keys"));
    arr(vec![f, flags(spec_flags), b, begin, k, find])
}

fn index(at: i64) -> Value {
    typed("index", &[("index", Value::Int(at))])
}

fn keyword(word: &str, startfrom: i64) -> Value {
    typed(
        "keyword",
        &[
            ("keyword", bulk(word)),
            ("startfrom", Value::Int(startfrom)),
        ],
    )
}

fn range(lastkey: i64, keystep: i64, limit: i64) -> Value {
    let fields = [("lastkey", lastkey), ("keystep", keystep), ("limit", limit)];
    typed("range", &fields.map(|(k, v)| (k, Value::Int(v))))
}

fn keynum(keynumidx: i64, firstkey: i64, keystep: i64) -> Value {
    let fields = [
        ("keynumidx", keynumidx),
        ("firstkey", firstkey),
        ("keystep", keystep),
    ];
    typed("keynum", &fields.map(|(k, v)| (k, Value::Int(v))))
}

/// A 7.0-shaped entry (ten elements).
fn entry(name: &str, command_flags: &[&str], specs: Vec<Value>) -> Value {
    let int = Value::Int;
    let empty = || arr(Vec::new());
    let head = vec![
        bulk(name),
        int(-2),
        flags(command_flags),
        int(0),
        int(0),
        int(0),
    ];
    arr([head, vec![empty(), empty(), arr(specs), empty()]].concat())
}

/// A 5.0-shaped entry (six elements).
fn old_entry(name: &str, command_flags: &[&str], first: i64, last: i64, step: i64) -> Value {
    let head = vec![bulk(name), Value::Int(-2), flags(command_flags)];
    arr([
        head,
        vec![Value::Int(first), Value::Int(last), Value::Int(step)],
    ]
    .concat())
}

fn table(entries: Vec<Value>) -> CommandTable {
    CommandTable::from_command_reply(&arr(entries)).expect("table loads")
}

#[test]
fn spec_shapes() {
    let t = table(vec![
        entry(
            "back",
            &[],
            vec![spec(&[], keyword("KEYS", -2), range(-1, 1, 0))],
        ),
        entry(
            "fwd",
            &[],
            vec![spec(&[], keyword("STORE", 1), range(0, 1, 0))],
        ),
        entry(
            "half",
            &[],
            vec![spec(&[], keyword("STREAMS", 1), range(-1, 1, 2))],
        ),
        entry("minus2", &[], vec![spec(&[], index(1), range(-2, 1, 0))]),
        entry("pairs", &[], vec![spec(&[], index(1), range(-1, 2, 0))]),
        entry("num2", &[], vec![spec(&[], index(1), keynum(0, 1, 2))]),
        entry(
            "overlap",
            &[],
            vec![
                spec(&[], index(2), range(0, 1, 0)),
                spec(&[], index(1), range(1, 1, 0)),
            ],
        ),
        entry(
            "shard",
            &[],
            vec![spec(&["not_key"], index(1), range(0, 1, 0))],
        ),
        entry("far", &[], vec![spec(&[], index(1 << 62), range(0, 1, 0))]),
    ]);
    // Backwards from the end: the last KEYS wins; none at all is no keys.
    assert_eq!(keys(&t, "back a KEYS x KEYS k1 k2"), [5, 6]);
    assert_eq!(keys(&t, "back a b c"), [] as [usize; 0]);
    // A keyword in the last place has no key after it and is not searched.
    assert_eq!(keys(&t, "fwd x STORE"), [] as [usize; 0]);
    assert_eq!(keys(&t, "fwd x store d"), [3]);
    assert_eq!(keys(&t, "half COUNT 1 STREAMS a b c 1 2 3"), [4, 5, 6]);
    assert_eq!(keys(&t, "minus2 a b c d"), [1, 2, 3]);
    assert_eq!(keys(&t, "minus2 a"), [] as [usize; 0]);
    assert_eq!(keys(&t, "pairs k1 v1 k2 v2"), [1, 3]);
    assert_eq!(keys(&t, "num2 3 a 1 b 2 c 3 EX 10"), [2, 4, 6]);
    assert!(t.key_indices(&args("num2 4 a 1 b 2 c")).is_err());
    assert_eq!(keys(&t, "overlap a b"), [1, 2]);
    assert_eq!(keys(&t, "shard ch msg"), [] as [usize; 0]);
    assert!(t.info(b"shard").expect("shard").no_keys);
    assert!(matches!(
        t.key_indices(&args("far a")),
        Err(KeysError::Malformed { .. })
    ));
}

#[test]
fn specs_that_cannot_be_followed() {
    let unknown = || typed("unknown", &[]);
    let t = table(vec![
        entry(
            "vague",
            &["movablekeys"],
            vec![spec(&[], unknown(), unknown())],
        ),
        entry(
            "partial",
            &[],
            vec![spec(&["incomplete"], index(1), range(0, 1, 0))],
        ),
        entry("module", &["movablekeys"], vec![]),
        entry("stuck", &[], vec![spec(&[], index(1), range(-1, 0, 0))]),
        entry(
            "future",
            &[],
            vec![spec(&[], typed("regex", &[]), range(0, 1, 0))],
        ),
        // Known names fall back to their explicit rule.
        entry(
            "SORT",
            &["movablekeys"],
            vec![spec(&[], unknown(), unknown())],
        ),
        entry(
            "migrate",
            &[],
            vec![spec(&["incomplete"], keyword("KEYS", -2), range(-1, 1, 0))],
        ),
    ]);
    for name in ["vague", "partial", "module", "stuck", "future"] {
        let e = t
            .key_indices(&args(&format!("{name} a b")))
            .expect_err(name);
        assert!(matches!(e, KeysError::Unsupported { .. }), "{name}: {e}");
        assert!(e.to_string().contains(name), "{e}");
    }
    assert_eq!(keys(&t, "sort k STORE d"), [1, 3]);
    // The password of AUTH2 is spelled KEYS: skipped, not taken for the option.
    assert_eq!(keys(&t, "MIGRATE h 1 '' 0 10 AUTH2 u KEYS KEYS a"), [10]);
}

#[test]
fn module_names_any_case() {
    let t = table(vec![
        entry(
            "FT.SEARCH",
            &["readonly", "module"],
            vec![spec(&[], index(1), range(0, 1, 0))],
        ),
        entry("timeseries.CLUSTERSET", &["module"], vec![]),
    ]);
    assert_eq!(keys(&t, "ft.search idx *"), [1]);
    assert_eq!(keys(&t, "Ft.Search idx *"), [1]);
    assert!(t.info(b"FT.SEARCH").expect("ft").is_readonly);
    assert!(t.info(b"TIMESERIES.clusterset").expect("ts").no_keys);
}

#[test]
fn resp3_shapes() {
    let map = |pairs: Vec<(&str, Value)>| {
        Value::Map(pairs.into_iter().map(|(k, v)| (bulk(k), v)).collect())
    };
    let spec3 = map(vec![
        ("flags", Value::Set(vec![Value::SimpleString("RW".into())])),
        (
            "begin_search",
            map(vec![
                ("type", bulk("index")),
                ("spec", map(vec![("index", Value::Int(1))])),
            ]),
        ),
        (
            "find_keys",
            map(vec![
                ("type", bulk("range")),
                (
                    "spec",
                    map(vec![
                        ("lastkey", Value::Int(-1)),
                        ("keystep", Value::Int(1)),
                        ("limit", Value::Int(0)),
                    ]),
                ),
            ]),
        ),
    ]);
    let flags3 = Value::Set(vec![Value::SimpleString("write".into())]);
    let head = vec![
        bulk("del"),
        Value::Int(-2),
        flags3,
        Value::Int(1),
        Value::Int(-1),
        Value::Int(1),
    ];
    let tail = vec![
        Value::Set(vec![]),
        arr(vec![]),
        arr(vec![spec3]),
        arr(vec![]),
    ];
    let t = table(vec![arr([head, tail].concat())]);
    assert_eq!(keys(&t, "DEL a b c"), [1, 2, 3]);
    assert!(t.info(b"del").expect("del").is_write);
}

#[test]
fn first_last_step_before_7() {
    let t = table(vec![
        old_entry("mset", &["write"], 1, -1, 2),
        old_entry("bitop", &["write"], 2, -1, 1),
        old_entry("rename", &["write"], 1, 2, 1),
        old_entry("ping", &[], 0, 0, 0),
        old_entry("weird", &["write"], 3, 1, 1),
        old_entry("memory", &["readonly", "movablekeys"], 0, 0, 0),
        old_entry("zunionstore", &["write", "movablekeys"], 0, 0, 0),
    ]);
    assert_eq!(keys(&t, "MSET a 1 b 2"), [1, 3]);
    assert_eq!(keys(&t, "BITOP OR d a b"), [2, 3, 4]);
    assert_eq!(keys(&t, "RENAME a a"), [1, 2]);
    assert_eq!(keys(&t, "PING"), [] as [usize; 0]);
    assert!(matches!(
        t.key_indices(&args("RENAME a")),
        Err(KeysError::Malformed { .. })
    ));
    assert!(matches!(
        t.key_indices(&args("weird a b c")),
        Err(KeysError::Unsupported { .. })
    ));
    assert!(matches!(
        t.key_indices(&args("memory usage k")),
        Err(KeysError::Unsupported { .. })
    ));
    assert_eq!(keys(&t, "ZUNIONSTORE d 2 a b AGGREGATE SUM"), [1, 3, 4]);
}

#[test]
fn tables_that_are_wrong() {
    let bad = |reply: Value| CommandTable::from_command_reply(&reply).expect_err("refused");
    assert!(matches!(bad(bulk("OK")), KeysError::BadTable { .. }));
    assert!(matches!(bad(arr(vec![])), KeysError::BadTable { .. }));
    let no_arity = arr(vec![arr(vec![bulk("set")])]);
    let e = bad(no_arity);
    assert!(
        e.to_string().contains("'set'") && e.to_string().contains("arity"),
        "{e}"
    );
    let specs_not_array = entry("set", &[], vec![]);
    let Value::Array(mut items) = specs_not_array else {
        unreachable!()
    };
    items[8] = Value::Int(3);
    assert!(matches!(
        bad(arr(vec![arr(items)])),
        KeysError::BadTable { .. }
    ));
}
