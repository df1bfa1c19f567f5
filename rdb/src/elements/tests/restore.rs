//! The built objects as a real server reads them: each is sealed into a `RESTORE` payload,
//! restored into `redis-server` (7.0 reads every older type), and read back with the server's
//! own commands. This checks the test encoders, hence the old types no tested server writes.

use super::*;
use crate::dump::restore_payload;
use slotstream_test_support::{RedisServer, Reply};

fn bulks(reply: Reply) -> Vec<Vec<u8>> {
    match reply {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(Some(b)) => b,
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn pairs(reply: Reply) -> Vec<(Vec<u8>, Vec<u8>)> {
    bulks(reply)
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

#[test]
fn a_real_server_reads_the_built_objects_alike() {
    let Some(server) = RedisServer::try_start(&[]) else {
        return;
    };
    let mut conn = server.resp();
    let mut checked = 0;
    for s in samples() {
        // 7.0 (RDB 10) reads neither listpack sets (RDB 11) nor field TTLs.
        if s.version > 10 || (20..=25).contains(&s.rdb_type) {
            continue;
        }
        let key = s.name.as_bytes();
        let payload = restore_payload(s.rdb_type, &s.object, s.version);
        let reply = conn.raw(&[b"RESTORE", key, b"0", &payload, b"REPLACE"]);
        assert_eq!(reply, Reply::Status("OK".into()), "{}", s.name);
        match &s.value {
            Value::String(v) => {
                let got = conn.raw(&[b"GET", key]);
                assert_eq!(got, Reply::Bulk(Some(v.clone())), "{}", s.name);
            }
            Value::List(v) => {
                let got = bulks(conn.raw(&[b"LRANGE", key, b"0", b"-1"]));
                assert_eq!(&got, v, "{}", s.name);
            }
            Value::Set(v) => {
                let mut got = bulks(conn.raw(&[b"SMEMBERS", key]));
                let mut want = v.clone();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{}", s.name);
            }
            Value::ZSet(v) => {
                let got = pairs(conn.raw(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]));
                let mut want = v.clone();
                want.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
                assert_eq!(got.len(), want.len(), "{}", s.name);
                for ((member, score), (m, sc)) in got.iter().zip(&want) {
                    assert_eq!(member, m, "{}", s.name);
                    let score: f64 = String::from_utf8_lossy(score).parse().unwrap();
                    // Equal, not identical: 7.0 turns a loaded -0 into 0 in its listpacks.
                    assert_eq!(score, *sc, "{}", s.name);
                }
            }
            Value::Hash(v) => {
                let mut got = pairs(conn.raw(&[b"HGETALL", key]));
                let mut want: Vec<_> = v
                    .iter()
                    .map(|f| (f.field.clone(), f.value.clone()))
                    .collect();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{}", s.name);
            }
            Value::Stream(_) => unreachable!("no stream samples"),
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} samples checked");
}
