//! Record encode and decode rate (records/s) of the hot-path codec (`Codec`, serde_avro_fast):
//! a snapshot key with a 32-byte and a 64 KiB object, and a live `SET key value` command.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use slotstream_schemas::{Body, Codec, Command, Element, Position, Record, SnapshotKey};

fn record(body: Body) -> Record {
    Record {
        source: "127.0.0.1:6379".into(),
        epoch: 1,
        position: Position {
            offset: 1_000_000,
            index: 42,
        },
        db: 0,
        slot: 1234,
        capture_ms: 1_764_000_000_000,
        body,
    }
}

fn snapshot_key(object_len: usize) -> Record {
    record(Body::SnapshotKey(SnapshotKey {
        key: b"key:00000042".to_vec(),
        rdb_type: 0,
        object: (0..object_len).map(|i| (i % 251) as u8).collect(),
        rdb_version: 11,
        expire_ms: Some(1_764_000_060_000),
        idle_s: None,
        freq: None,
    }))
}

fn bench(c: &mut Criterion) {
    let codec = Codec::shared().unwrap();
    let set = |a: &[u8]| Element(a.to_vec());
    let samples = [
        ("snapshot_key_32B", snapshot_key(32)),
        ("snapshot_key_64KiB", snapshot_key(64 << 10)),
        (
            "command_set",
            record(Body::Command(Command {
                args: vec![set(b"SET"), set(b"key:00000042"), set(b"value-0123456789")],
            })),
        ),
    ];
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    for (name, record) in &samples {
        let mut buf = Vec::with_capacity(128);
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                buf.clear();
                codec.encode(black_box(record), &mut buf).unwrap();
                buf.len()
            })
        });
        let mut encoded = Vec::new();
        codec.encode(record, &mut encoded).unwrap();
        assert_eq!(&codec.decode(&encoded).unwrap(), record);
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| codec.decode(black_box(&encoded)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
