//! The keys each server version is made to hold: every encoding it can produce, with the
//! encoding and type byte it must have produced.

use crate::Version;
use slotstream_test_support::RespClient;

/// A key to check, and what its DUMP must look like.
pub struct Case {
    pub key: Vec<u8>,
    /// What `OBJECT ENCODING` must say.
    pub encoding: &'static str,
    pub rdb_type: u8,
    /// Bytes the object must start with (to show an RDB string encoding was used).
    pub prefix: Option<Vec<u8>>,
}

/// Deterministic bytes that LZF cannot shrink much.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Small list items: every integer width of ziplists and listpacks, and odd strings.
fn mixed_items() -> Vec<Vec<u8>> {
    let ints = [
        "0",
        "1",
        "12",
        "13",
        "-1",
        "127",
        "128",
        "-128",
        "-129",
        "4095",
        "4096",
        "-4096",
        "-4097",
        "8191",
        "-8192",
        "32767",
        "-32768",
        "32768",
        "8388607",
        "-8388608",
        "8388608",
        "2147483647",
        "-2147483648",
        "2147483648",
        "9223372036854775807",
        "-9223372036854775808",
    ];
    let mut items: Vec<Vec<u8>> = ints.iter().map(|s| s.as_bytes().to_vec()).collect();
    for s in [
        "",
        "hello",
        "-0",
        "+1",
        "01",
        "1.5",
        "9223372036854775808",
        "ünïcödé",
    ] {
        items.push(s.as_bytes().to_vec());
    }
    items.push(b"\x00\xff\r\n".to_vec());
    items.push(vec![b'x'; 63]);
    items.push(vec![b'y'; 64]);
    items.push(noise(100, 3));
    items
}

/// Builder of cases on one server.
pub struct Build<'a> {
    pub s: &'a mut RespClient,
    pub v: &'a Version,
    cases: Vec<Case>,
}

impl Build<'_> {
    pub fn add(&mut self, key: &str, encoding: &'static str, rdb_type: u8) {
        self.cases.push(Case {
            key: key.as_bytes().to_vec(),
            encoding,
            rdb_type,
            prefix: None,
        });
    }

    fn add_prefixed(&mut self, key: &str, encoding: &'static str, rdb_type: u8, prefix: &[u8]) {
        self.add(key, encoding, rdb_type);
        if let Some(case) = self.cases.last_mut() {
            case.prefix = Some(prefix.to_vec());
        }
    }

    /// The name of a size limit in this version (ziplist names before 7.0).
    pub fn limit(&self, what: &str) -> String {
        let packed = if self.v.listpack() {
            "listpack"
        } else {
            "ziplist"
        };
        match what {
            "list-size" => format!("list-max-{packed}-size"),
            other => format!("{other}-max-{packed}-entries"),
        }
    }

    /// Runs `args` (the key's name, then the rest) with `configs` set, then restores them.
    pub fn with(&mut self, configs: &[(String, &str)], commands: &[Vec<Vec<u8>>]) {
        let mut saved = Vec::new();
        for (name, value) in configs {
            let old = self.s.cmd(&["CONFIG", "GET", name]);
            saved.push((name.clone(), old.array()[1].text()));
            self.s.cmd(&["CONFIG", "SET", name, value]);
        }
        for command in commands {
            let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
            self.s.ok(&args);
        }
        for (name, value) in saved {
            self.s.cmd(&["CONFIG", "SET", &name, &value]);
        }
    }
}

/// A command from a fixed head and items.
pub fn command(head: &[&str], items: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let mut args: Vec<Vec<u8>> = head.iter().map(|s| s.as_bytes().to_vec()).collect();
    args.extend(items);
    args
}

pub fn build(s: &mut RespClient, v: &Version) -> Vec<Case> {
    let mut b = Build {
        s,
        v,
        cases: Vec::new(),
    };
    strings(&mut b);
    lists(&mut b);
    sets(&mut b);
    zsets(&mut b);
    crate::hashes::hashes(&mut b);
    crate::streams::streams(&mut b);
    if v.at_least(7, 0) {
        plain_nodes(&mut b);
    }
    b.cases
}

fn strings(b: &mut Build<'_>) {
    let cases: [(&str, Vec<u8>, &str, &[u8]); 10] = [
        ("str:word", b"hello world".to_vec(), "embstr", b"\x0bhello"),
        ("str:int8", b"-12".to_vec(), "int", b"\xc0"),
        ("str:int16", b"12345".to_vec(), "int", b"\xc1"),
        ("str:int32", b"-2147483648".to_vec(), "int", b"\xc2"),
        ("str:i64", b"9223372036854775807".to_vec(), "int", b"\x13"),
        ("str:lead0", b"007".to_vec(), "embstr", b"\x03"),
        ("str:empty", Vec::new(), "embstr", b"\x00"),
        ("str:bytes", (0..=255u8).collect(), "raw", b""),
        ("str:lzf", b"abc".repeat(2000), "raw", b"\xc3"),
        ("str:long", noise(20_000, 7), "raw", b"\x80\x00\x00\x4e\x20"),
    ];
    for (key, value, encoding, prefix) in cases {
        b.s.ok(&[b"SET", key.as_bytes(), &value]);
        b.add_prefixed(key, encoding, 0, prefix);
    }
}

fn lists(b: &mut Build<'_>) {
    let small = if b.v.at_least(7, 2) {
        "listpack"
    } else {
        "quicklist"
    };
    let t = if b.v.listpack() { 18 } else { 14 };
    b.with(&[], &[command(&["RPUSH", "list:small"], mixed_items())]);
    b.add("list:small", small, t);
    let long = vec![
        vec![b'a'; 100],
        vec![b'b'; 5000],
        noise(20_000, 11),
        b"7".to_vec(),
    ];
    b.with(&[], &[command(&["RPUSH", "list:long"], long)]);
    b.add("list:long", "quicklist", t);
    let many = (0..1000).map(|i| {
        if i % 3 == 0 {
            i.to_string()
        } else {
            format!("item:{i}")
        }
    });
    let size = b.limit("list-size");
    b.with(
        &[(size.clone(), "16")],
        &[command(
            &["RPUSH", "list:big"],
            many.map(String::into_bytes),
        )],
    );
    b.add("list:big", "quicklist", t);
    let squeezable = (0..100).map(|i| format!("{i}{}", "x".repeat(60)).into_bytes());
    b.with(
        &[(size, "8"), ("list-compress-depth".into(), "1")],
        &[command(&["RPUSH", "list:compressed"], squeezable)],
    );
    b.add("list:compressed", "quicklist", t);
}

fn sets(b: &mut Build<'_>) {
    let ints = |list: &[i64]| {
        list.iter()
            .map(|n| n.to_string().into_bytes())
            .collect::<Vec<_>>()
    };
    let sixteen = ints(&[1, 2, 3, 4, 5, -5, 32767, -32768]);
    let thirty_two = ints(&[1, -70000, 70000, 2147483647, -2147483648]);
    let sixty_four = ints(&[1, 5_000_000_000, i64::MIN, i64::MAX, -3]);
    for (key, members) in [
        ("set:intset16", sixteen),
        ("set:intset32", thirty_two),
        ("set:intset64", sixty_four),
    ] {
        b.with(&[], &[command(&["SADD", key], members)]);
        b.add(key, "intset", 11);
    }
    let words: Vec<Vec<u8>> = ["a", "b", "", "123", "-7", "word"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([b"\x00bin\xff".to_vec()])
        .collect();
    let (small, t) = if b.v.at_least(7, 2) {
        ("listpack", 20)
    } else {
        ("hashtable", 2)
    };
    b.with(&[], &[command(&["SADD", "set:small"], words.clone())]);
    b.add("set:small", small, t);
    let mut no_listpack = vec![("set-max-intset-entries".to_string(), "0")];
    if b.v.at_least(7, 2) {
        no_listpack.push(("set-max-listpack-entries".into(), "0"));
    }
    b.with(&no_listpack, &[command(&["SADD", "set:ht"], words)]);
    b.add("set:ht", "hashtable", 2);
    b.with(
        &no_listpack,
        &[command(
            &["SADD", "set:ints-ht"],
            ints(&[1, 2, -3, 1 << 40]),
        )],
    );
    b.add("set:ints-ht", "hashtable", 2);
    let many = (0..600).map(|i| format!("member-{i}").into_bytes());
    b.with(&[], &[command(&["SADD", "set:big"], many)]);
    b.add("set:big", "hashtable", 2);
}

/// Members with scores of every kind: integers, fractions, extremes, infinities, -0.
pub const SCORES: [(&str, &str); 16] = [
    ("zero", "0"),
    ("negzero", "-0"),
    ("one", "1"),
    ("minus", "-1"),
    ("half", "1.5"),
    ("pi", "3.141592653589793"),
    ("tiny", "5e-324"),
    ("huge", "1e300"),
    ("neghuge", "-1.7976931348623157e308"),
    ("inf", "+inf"),
    ("ninf", "-inf"),
    ("tenth", "0.1"),
    ("beyond53", "9007199254740993"),
    ("", "2"),
    ("123", "7"),
    ("big", "123456789012"),
];

fn zsets(b: &mut Build<'_>) {
    let mut pairs: Vec<Vec<u8>> = Vec::new();
    for (member, score) in SCORES {
        pairs.push(score.as_bytes().to_vec());
        pairs.push(member.as_bytes().to_vec());
    }
    pairs.extend([b"8".to_vec(), b"\x00\xff".to_vec()]);
    let (small, t) = if b.v.listpack() {
        ("listpack", 17)
    } else {
        ("ziplist", 12)
    };
    b.with(&[], &[command(&["ZADD", "zset:small"], pairs.clone())]);
    b.add("zset:small", small, t);
    let zero = b.limit("zset");
    b.with(
        &[(zero, "0")],
        &[command(&["ZADD", "zset:skiplist"], pairs)],
    );
    b.add("zset:skiplist", "skiplist", 5);
    let many = (0..300).flat_map(|i| {
        let score = format!("{}", (i as f64 * 7.3).sin() * 1000.0);
        [score.into_bytes(), format!("m{i}").into_bytes()]
    });
    b.with(&[], &[command(&["ZADD", "zset:big"], many)]);
    b.add("zset:big", "skiplist", 5);
}

/// Quicklist nodes in the PLAIN container (Redis 7.0+): items over the packed threshold (and,
/// from 7.2, lists too big for the listpack encoding).
fn plain_nodes(b: &mut Build<'_>) {
    let t = 18;
    b.s.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000"]);
    b.with(
        &[],
        &[command(&["RPUSH", "list:plain1"], [noise(10_000, 5)])],
    );
    b.add_prefixed("list:plain1", "quicklist", t, b"\x01\x01");
    let items = [
        b"small".to_vec(),
        vec![b'p'; 9000],
        b"12".to_vec(),
        noise(1500, 9),
        b"end".to_vec(),
    ];
    b.with(&[], &[command(&["RPUSH", "list:plain-mixed"], items)]);
    b.add("list:plain-mixed", "quicklist", t);
}
