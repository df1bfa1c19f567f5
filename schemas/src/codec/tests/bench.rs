//! Rough timing of the hot path, ignored by default. Run with
//! `cargo test --release -p slotstream-schemas -- --ignored --nocapture one_million`.

use crate::codec::Codec;
use crate::record::*;
use std::time::Instant;

#[test]
#[ignore]
fn one_million_small_snapshot_keys() {
    const N: u64 = 1_000_000;
    let codec = Codec::shared().unwrap();
    let make = |i: u64| Record {
        source: "127.0.0.1:6379".into(),
        epoch: 1,
        position: Position {
            offset: 1_000_000,
            index: i,
        },
        db: 0,
        slot: (i % 16384) as u16,
        capture_ms: 1_764_000_000_000,
        body: Body::SnapshotKey(SnapshotKey {
            key: format!("key:{i:08}").into_bytes(),
            rdb_type: 0,
            object: b"\x0cvalue-abcdef".to_vec(),
            rdb_version: 11,
            expire_ms: (i & 1 == 0).then_some(1_764_000_060_000),
            idle_s: None,
            freq: None,
        }),
    };
    let records: Vec<Record> = (0..N).map(make).collect();

    let mut buf = Vec::with_capacity(128);
    let mut encoded = Vec::with_capacity(N as usize * 64);
    let mut offsets = Vec::with_capacity(N as usize + 1);
    offsets.push(0);
    let start = Instant::now();
    for r in &records {
        buf.clear();
        codec.encode(r, &mut buf).unwrap();
        encoded.extend_from_slice(&buf);
        offsets.push(encoded.len());
    }
    let encode = start.elapsed();

    let start = Instant::now();
    let mut checksum = 0u64;
    for w in offsets.windows(2) {
        let r = codec.decode(&encoded[w[0]..w[1]]).unwrap();
        checksum = checksum.wrapping_add(r.position.index);
    }
    let decode = start.elapsed();
    assert_eq!(checksum, N * (N - 1) / 2);
    println!(
        "1M SnapshotKey records, {} bytes each on average: encode {:.3} s, decode {:.3} s",
        encoded.len() as u64 / N,
        encode.as_secs_f64(),
        decode.as_secs_f64()
    );
}
