//! The hash keys each server version is made to hold: compact and hashtable encodings, and
//! field TTLs where the server has them (Redis 7.4 types 24/25, Valkey 9 type 22).

use crate::scenarios::{command, Build};

/// Far-future field expiry times (2100-01-01 and after).
const T1: i64 = 4_102_444_800_000;
const T2: i64 = 4_102_444_800_123;

/// Field/value pairs of every kind.
fn hash_pairs() -> Vec<Vec<u8>> {
    let mut pairs: Vec<Vec<u8>> = Vec::new();
    for (f, v) in [
        ("name", "slotstream"),
        ("n", "42"),
        ("neg", "-42"),
        ("big", "9223372036854775807"),
        ("empty", ""),
        ("", "empty-field"),
        ("123", "456"),
        ("float", "3.14"),
    ] {
        pairs.push(f.as_bytes().to_vec());
        pairs.push(v.as_bytes().to_vec());
    }
    pairs.extend([b"bin\x00".to_vec(), b"\x00\r\n\xff".to_vec()]);
    pairs
}

pub fn hashes(b: &mut Build<'_>) {
    let (small, t) = if b.v.listpack() {
        ("listpack", 16)
    } else {
        ("ziplist", 13)
    };
    b.with(&[], &[command(&["HSET", "hash:small"], hash_pairs())]);
    b.add("hash:small", small, t);
    let zero = b.limit("hash");
    b.with(
        &[(zero.clone(), "0")],
        &[command(&["HSET", "hash:ht"], hash_pairs())],
    );
    b.add("hash:ht", "hashtable", 4);
    let many = (0..600).flat_map(|i| [format!("f{i}").into_bytes(), i.to_string().into_bytes()]);
    b.with(&[], &[command(&["HSET", "hash:big"], many)]);
    b.add("hash:big", "hashtable", 4);
    if !b.v.field_ttl() {
        return;
    }
    let expire = |key: &str| {
        vec![
            command(
                &["HPEXPIREAT", key, &T1.to_string(), "FIELDS", "1", "name"],
                [],
            ),
            command(
                &["HPEXPIREAT", key, &T2.to_string(), "FIELDS", "2", "n", ""],
                [],
            ),
        ]
    };
    let mut small_ttl = vec![command(&["HSET", "hash:ttl-small"], hash_pairs())];
    small_ttl.extend(expire("hash:ttl-small"));
    b.with(&[], &small_ttl);
    let mut ht_ttl = vec![command(&["HSET", "hash:ttl-ht"], hash_pairs())];
    ht_ttl.extend(expire("hash:ttl-ht"));
    b.with(&[(zero, "0")], &ht_ttl);
    let persisted = [
        command(&["HSET", "hash:ttl-gone", "a", "1", "b", "2"], []),
        command(
            &[
                "HPEXPIREAT",
                "hash:ttl-gone",
                &T1.to_string(),
                "FIELDS",
                "1",
                "a",
            ],
            [],
        ),
        command(&["HPERSIST", "hash:ttl-gone", "FIELDS", "1", "a"], []),
    ];
    b.with(&[], &persisted);
    if b.v.valkey {
        b.add("hash:ttl-small", "hashtable", 22);
        b.add("hash:ttl-ht", "hashtable", 22);
        b.add("hash:ttl-gone", "hashtable", 4);
        let setex = [
            "HSETEX",
            "hash:setex",
            "PXAT",
            &T2.to_string(),
            "FIELDS",
            "2",
            "x",
            "1",
        ];
        b.with(&[], &[command(&setex, [b"y".to_vec(), b"2".to_vec()])]);
        b.add("hash:setex", "hashtable", 22);
    } else {
        b.add("hash:ttl-small", "listpackex", 25);
        b.add("hash:ttl-ht", "hashtable", 24);
        b.add("hash:ttl-gone", "listpackex", 25);
    }
}
