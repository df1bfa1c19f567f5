//! The built objects of the unit tests, each with the value it must decode to: every type and
//! encoding, including those no tested server writes any more.

use super::build::*;
use crate::elements::*;

/// Type byte, object, RDB version, and the value it must decode to.
pub(in crate::elements) struct Sample {
    pub name: &'static str,
    pub rdb_type: u8,
    pub object: Vec<u8>,
    pub version: u16,
    pub value: Value,
}

pub(in crate::elements) fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn texts(items: &[Z<'_>]) -> Vec<Vec<u8>> {
    items.iter().map(|z| z.text()).collect()
}

pub(in crate::elements) fn field(f: &str, v: &str, expire_ms: Option<i64>) -> HashField {
    HashField {
        field: f.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
        expire_ms,
    }
}

/// Integers at every encoding boundary of ziplists and listpacks.
const INTS: [i64; 24] = [
    0,
    1,
    12,
    13,
    127,
    128,
    -1,
    -128,
    -129,
    4095,
    4096,
    -4096,
    -4097,
    32767,
    -32768,
    32768,
    8_388_607,
    -8_388_608,
    8_388_608,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MAX as i64 + 1,
    i64::MAX,
    i64::MIN,
];

/// Items of every ziplist/listpack encoding, strings of each length class included.
fn every_item<'a>(long: &'a [u8], longer: &'a [u8], huge: &'a [u8]) -> Vec<Z<'a>> {
    let mut items: Vec<Z<'a>> = INTS.iter().map(|&n| Z::I(n)).collect();
    items.extend([
        Z::S(b""),
        Z::S(b"a"),
        Z::S(b"\x00\xff"),
        Z::S(long),
        Z::S(longer),
    ]);
    items.extend([Z::S(huge), Z::S(b"after the big one")]);
    items
}

pub(in crate::elements) fn samples() -> Vec<Sample> {
    let long = vec![b'l'; 300]; // ziplist: 14-bit length, next prevlen takes 5 bytes
    let longer = vec![b'm'; 5000]; // listpack: 32-bit length; backlen of 2 bytes
    let huge = vec![b'h'; 20_000]; // ziplist: 32-bit length; listpack backlen of 3 bytes
    let items = every_item(&long, &longer, &huge);
    let mut out = Vec::new();
    let mut add = |name, rdb_type, object, version, value| {
        out.push(Sample {
            name,
            rdb_type,
            object,
            version,
            value,
        })
    };

    // Strings in every RDB encoding.
    let squeezable = b"abcabcabcabc-abcabcabcabc-".repeat(40);
    for (name, object, text) in [
        ("plain", string(b"hello"), b"hello".to_vec()),
        ("empty", string(b""), Vec::new()),
        ("int8", int_string(-128), b"-128".to_vec()),
        ("int16", int_string(32767), b"32767".to_vec()),
        (
            "int32",
            int_string(i32::MIN as i64),
            b"-2147483648".to_vec(),
        ),
        ("14-bit length", string(&long), long.clone()),
        ("32-bit length", string(&huge), huge.clone()),
        (
            "64-bit length",
            cat(&[vec![0x81, 0, 0, 0, 0, 0, 0, 0, 2], b"hi".to_vec()]),
            b"hi".to_vec(),
        ),
        ("lzf", lzf_string(&squeezable), squeezable.clone()),
    ] {
        add(name, TYPE_STRING, object, 9, Value::String(text));
    }

    // Type 1 (linked list) and 2 (set): counted strings in any string encoding.
    let strings = cat(&[
        len(4),
        string(b"a"),
        int_string(-5),
        lzf_string(&squeezable),
        string(b""),
    ]);
    let expect = vec![
        b"a".to_vec(),
        b"-5".to_vec(),
        squeezable.clone(),
        Vec::new(),
    ];
    add(
        "list",
        TYPE_LIST,
        strings.clone(),
        6,
        Value::List(expect.clone()),
    );
    add("set", TYPE_SET, strings, 9, Value::Set(expect));

    // Ziplist lists (10), quicklists of ziplists (14, one node compressed), quicklist 2 (18).
    let zl = ziplist(&items);
    add(
        "ziplist list",
        TYPE_LIST_ZIPLIST,
        string(&zl),
        6,
        Value::List(texts(&items)),
    );
    let (first, second) = items.split_at(10);
    let ql = cat(&[
        len(2),
        string(&ziplist(first)),
        lzf_string(&ziplist(second)),
    ]);
    add(
        "quicklist",
        TYPE_LIST_QUICKLIST,
        ql,
        9,
        Value::List(texts(&items)),
    );
    let plain = b"a plain node".to_vec();
    let ql2 = cat(&[
        len(3),
        len(2),
        string(&listpack(first)),
        len(1),
        string(&plain),
        len(2),
        lzf_string(&listpack(second)),
    ]);
    let mut expect = texts(first);
    expect.push(plain);
    expect.extend(texts(second));
    add(
        "quicklist 2",
        TYPE_LIST_QUICKLIST_2,
        ql2,
        10,
        Value::List(expect),
    );

    // Intsets of each width, listpack sets.
    for (name, width, values) in [
        ("intset16", 2, vec![-32768, -1, 0, 7, 32767]),
        (
            "intset32",
            4,
            vec![i32::MIN as i64, -70000, 70000, i32::MAX as i64],
        ),
        ("intset64", 8, vec![i64::MIN, -1, 1 << 40, i64::MAX]),
    ] {
        let decimal = values.iter().map(|n| n.to_string().into_bytes()).collect();
        add(
            name,
            TYPE_SET_INTSET,
            string(&intset(width, &values)),
            9,
            Value::Set(decimal),
        );
    }
    add(
        "listpack set",
        TYPE_SET_LISTPACK,
        string(&listpack(&items)),
        11,
        Value::Set(texts(&items)),
    );

    // Sorted sets: text doubles (3), binary doubles (5), ziplist (12), listpack (17).
    let text_double = |s: &str| cat(&[vec![s.len() as u8], s.as_bytes().to_vec()]);
    let zset3 = cat(&[
        len(6),
        string(b"a"),
        text_double("1.5"),
        string(b"b"),
        text_double("-0"),
        string(b"c"),
        text_double("1e+300"),
        int_string(7),
        vec![254],
        string(b"e"),
        vec![255],
        string(b"f"),
        text_double("0.10000000000000001"),
    ]);
    let pairs = |list: &[(&str, f64)]| {
        list.iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), *s))
            .collect::<Vec<_>>()
    };
    let expect3 = pairs(&[
        ("a", 1.5),
        ("b", -0.0),
        ("c", 1e300),
        ("7", f64::INFINITY),
        ("e", f64::NEG_INFINITY),
        ("f", 0.1),
    ]);
    add("zset", TYPE_ZSET, zset3, 6, Value::ZSet(expect3.clone()));
    let mut zset5 = len(expect3.len() as u64);
    for (m, s) in &expect3 {
        zset5.extend(string(m));
        zset5.extend(s.to_le_bytes());
    }
    add("zset 2", TYPE_ZSET_2, zset5, 9, Value::ZSet(expect3));
    // In score order, as servers keep them.
    let scored = [
        Z::I(12),
        Z::S(b"-inf"),
        Z::S(b"int"),
        Z::I(-42),
        Z::S(b"frac"),
        Z::S(b"2.5"),
        Z::S(b"inf"),
        Z::S(b"inf"),
    ];
    let expect = pairs(&[
        ("12", f64::NEG_INFINITY),
        ("int", -42.0),
        ("frac", 2.5),
        ("inf", f64::INFINITY),
    ]);
    add(
        "ziplist zset",
        TYPE_ZSET_ZIPLIST,
        string(&ziplist(&scored)),
        9,
        Value::ZSet(expect.clone()),
    );
    add(
        "listpack zset",
        TYPE_ZSET_LISTPACK,
        string(&listpack(&scored)),
        10,
        Value::ZSet(expect),
    );

    out.extend(super::hash_samples::hash_samples(&long, &squeezable));
    out
}
