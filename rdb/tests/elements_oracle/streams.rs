//! The stream keys each server version is made to hold: several nodes, deleted entries,
//! negative sequence deltas, consumer groups with pending entries and consumers, empty and
//! trimmed streams.

use crate::scenarios::{command, Build};

pub fn streams(b: &mut Build<'_>) {
    let t = if b.v.at_least(7, 2) {
        21
    } else if b.v.listpack() {
        19
    } else {
        15
    };
    // Redis 5.0's OBJECT ENCODING does not know streams.
    let encoding = if b.v.at_least(6, 0) {
        "stream"
    } else {
        "unknown"
    };
    let x = |args: &[&[u8]]| args.iter().map(|a| a.to_vec()).collect::<Vec<_>>();
    // Nodes of 3 entries; master fields (a, b); other fields, numeric field names, an empty
    // value, binary bytes; a negative seq delta (2-0 after master 1-5); deleted entries.
    let basic: Vec<Vec<Vec<u8>>> = vec![
        x(&[b"XADD", b"stream:basic", b"1-5", b"a", b"1", b"b", b"2"]),
        x(&[b"XADD", b"stream:basic", b"1-6", b"a", b"3", b"b", b"4"]),
        x(&[b"XADD", b"stream:basic", b"2-0", b"c", b"5"]),
        x(&[b"XADD", b"stream:basic", b"2-1", b"1", b"x", b"2", b""]),
        x(&[
            b"XADD",
            b"stream:basic",
            b"3-0",
            b"a",
            b"\x00\xff",
            b"b",
            b"bin",
        ]),
        x(&[b"XADD", b"stream:basic", b"3-1", b"a", b"7", b"b", b"8"]),
        x(&[
            b"XADD",
            b"stream:basic",
            b"4-0",
            b"a",
            b"9",
            b"b",
            b"10",
            b"c",
            b"11",
        ]),
        x(&[b"XDEL", b"stream:basic", b"1-6", b"3-0"]),
    ];
    b.with(&[("stream-node-max-entries".into(), "3")], &basic);
    b.add("stream:basic", encoding, t);

    let k = "stream:groups";
    let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
    for (i, f) in ["a", "a", "b", "a", "a", "c"].iter().enumerate() {
        groups.push(command(
            &["XADD", k, &format!("{}-0", i + 1), f, &i.to_string()],
            [],
        ));
    }
    let mut script: Vec<Vec<&str>> = vec![
        vec!["XGROUP", "CREATE", k, "g1", "0"],
        vec!["XGROUP", "CREATE", k, "g2", "$"],
        vec!["XGROUP", "CREATE", k, "g 3", "2-0"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "2",
            "STREAMS",
            k,
            ">",
        ],
        vec![
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "2",
            "STREAMS",
            k,
            ">",
        ],
        vec!["XACK", k, "g1", "2-0"],
        vec!["XCLAIM", k, "g1", "carol", "0", "3-0"],
        vec!["XREADGROUP", "GROUP", "g1", "alice", "STREAMS", k, "0"],
        vec![
            "XREADGROUP",
            "GROUP",
            "g 3",
            "erin",
            "COUNT",
            "1",
            "STREAMS",
            k,
            ">",
        ],
        vec!["XDEL", k, "4-0"],
    ];
    if b.v.at_least(6, 2) {
        script.push(vec!["XGROUP", "CREATECONSUMER", k, "g2", "dave"]);
    }
    if b.v.at_least(7, 0) {
        script.push(vec!["XGROUP", "CREATE", k, "g4", "3-0", "ENTRIESREAD", "2"]);
    }
    groups.extend(script.iter().map(|c| command(c, [])));
    b.with(&[], &groups);
    b.add(k, encoding, t);

    let k = "stream:empty-group";
    b.with(
        &[],
        &[command(&["XGROUP", "CREATE", k, "g", "$", "MKSTREAM"], [])],
    );
    b.add(k, encoding, t);
    let k = "stream:emptied";
    let emptied = [
        command(&["XADD", k, "5-1", "a", "1"], []),
        command(&["XDEL", k, "5-1"], []),
    ];
    b.with(&[], &emptied);
    b.add(k, encoding, t);
    let k = "stream:trimmed";
    let mut trimmed: Vec<_> = (1..=50)
        .map(|i| command(&["XADD", k, &format!("{i}-1"), "f", &i.to_string()], []))
        .collect();
    trimmed.push(command(&["XTRIM", k, "MAXLEN", "10"], []));
    b.with(&[], &trimmed);
    b.add(k, encoding, t);
    let k = "stream:big";
    let big: Vec<_> = (0..1000)
        .map(|i| command(&["XADD", k, "*", "f1", "value", "f2", &i.to_string()], []))
        .collect();
    b.with(&[], &big);
    b.add(k, encoding, t);
}
