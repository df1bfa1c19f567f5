//! The built hashes of the unit tests, with the values they must decode to: plain, zipmap,
//! ziplist and listpack hashes, and the field-TTL layouts of Redis 7.4 (and its release
//! candidates) and Valkey 9.

use super::build::*;
use super::samples::{cat, field, Sample};
use crate::elements::*;

pub(in crate::elements) fn hash_samples(long: &[u8], squeezable: &[u8]) -> Vec<Sample> {
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
    // Hashes: plain (4), zipmap (9), ziplist (13), listpack (16).
    let hash4 = cat(&[
        len(2),
        string(b"f"),
        int_string(300),
        lzf_string(squeezable),
        string(b""),
    ]);
    let sq = String::from_utf8_lossy(squeezable).into_owned();
    let expect = vec![field("f", "300", None), field(&sq, "", None)];
    add("hash", TYPE_HASH, hash4, 9, Value::Hash(expect));
    let big = vec![b'z'; 300];
    let zm = zipmap(
        &[(b"name", b"zipmap"), (b"", b"empty field"), (b"big", &big)],
        2,
    );
    let expect = vec![
        field("name", "zipmap", None),
        field("", "empty field", None),
        field("big", &"z".repeat(300), None),
    ];
    add(
        "zipmap",
        TYPE_HASH_ZIPMAP,
        string(&zm),
        3,
        Value::Hash(expect),
    );
    let fv = [
        Z::S(b"n"),
        Z::I(-7),
        Z::I(5),
        Z::S(b""),
        Z::S(long),
        Z::S(b"v"),
    ];
    let l = String::from_utf8_lossy(long).into_owned();
    let expect = vec![
        field("n", "-7", None),
        field("5", "", None),
        field(&l, "v", None),
    ];
    add(
        "ziplist hash",
        TYPE_HASH_ZIPLIST,
        string(&ziplist(&fv)),
        9,
        Value::Hash(expect.clone()),
    );
    add(
        "listpack hash",
        TYPE_HASH_LISTPACK,
        string(&listpack(&fv)),
        10,
        Value::Hash(expect),
    );

    // Field TTLs. Redis 7.4: minimum expiry, then relative TTLs (24) or a listpack of triples
    // (25); its release candidates (22, 23) without the minimum, TTLs absolute.
    let min: i64 = 1_700_000_000_000;
    let meta = |with_min: bool, ttl_a: u64, ttl_c: u64| {
        let head = if with_min {
            min.to_le_bytes().to_vec()
        } else {
            Vec::new()
        };
        cat(&[
            head,
            len(3),
            len(ttl_a),
            string(b"a"),
            int_string(1),
            len(0),
            string(b"b"),
            string(b"2"),
            len(ttl_c),
            string(b"c"),
            string(b"3"),
        ])
    };
    let ttl = vec![
        field("a", "1", Some(min)),
        field("b", "2", None),
        field("c", "3", Some(min + 99)),
    ];
    add(
        "hash metadata",
        TYPE_HASH_METADATA,
        meta(true, 1, 100),
        12,
        Value::Hash(ttl.clone()),
    );
    let absolute = meta(false, min as u64, min as u64 + 99);
    add(
        "hash metadata pre-GA",
        TYPE_HASH_METADATA_PRE_GA,
        absolute,
        12,
        Value::Hash(ttl.clone()),
    );
    let triples = listpack(&[
        Z::S(b"a"),
        Z::I(1),
        Z::I(min),
        Z::S(b"b"),
        Z::S(b"2"),
        Z::I(0),
        Z::S(b"c"),
        Z::I(3),
        Z::I(min + 99),
    ]);
    let lpex = cat(&[min.to_le_bytes().to_vec(), string(&triples)]);
    add(
        "hash listpack ex",
        TYPE_HASH_LISTPACK_EX,
        lpex,
        12,
        Value::Hash(ttl.clone()),
    );
    let lpex_rc = string(&triples);
    add(
        "hash listpack ex pre-GA",
        TYPE_HASH_LISTPACK_EX_PRE_GA,
        lpex_rc,
        12,
        Value::Hash(ttl.clone()),
    );
    // Valkey 9: (field, value, 8-byte expiry or -1) triples.
    let hash2 = cat(&[
        len(3),
        string(b"a"),
        int_string(1),
        min.to_le_bytes().to_vec(),
        string(b"b"),
        string(b"2"),
        (-1i64).to_le_bytes().to_vec(),
        string(b"c"),
        string(b"3"),
        (min + 99).to_le_bytes().to_vec(),
    ]);
    add(
        "valkey hash 2",
        TYPE_VALKEY_HASH_2,
        hash2,
        80,
        Value::Hash(ttl),
    );
    out
}
