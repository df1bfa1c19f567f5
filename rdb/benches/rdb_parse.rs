//! RDB parse throughput on one core: `RdbReader` (as the producer drives it) over an RDB built
//! in memory: few large string values (MB/s) and many small string keys (keys/s).

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use slotstream_rdb::dump::crc64;
use slotstream_rdb::{Entry, RdbReader, DEFAULT_MAX_OBJECT_BYTES};

/// RDB length encoding: 6-bit, 14-bit or 32-bit form.
fn put_len(out: &mut Vec<u8>, n: usize) {
    match n {
        0..=63 => out.push(n as u8),
        64..=16383 => out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]),
        _ => {
            out.push(0x80);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// `REDIS0011`, SELECTDB 0, RESIZEDB, `keys` string keys of `value_len` bytes, EOF, CRC64.
fn generate(keys: usize, value_len: usize) -> Vec<u8> {
    let value: Vec<u8> = (0..value_len).map(|i| (i % 251) as u8).collect();
    let mut rdb = Vec::with_capacity(64 + keys * (value_len + 24));
    rdb.extend_from_slice(b"REDIS0011");
    rdb.extend_from_slice(&[254, 0, 251]);
    put_len(&mut rdb, keys);
    put_len(&mut rdb, 0);
    for i in 0..keys {
        rdb.push(0);
        put_string(&mut rdb, format!("key:{i:08}").as_bytes());
        put_string(&mut rdb, &value);
    }
    rdb.push(255);
    let crc = crc64(0, &rdb);
    rdb.extend_from_slice(&crc.to_le_bytes());
    rdb
}

/// Parses the whole RDB, header to checksum, touching every key; returns keys and value bytes.
fn parse(rdb: &[u8]) -> (u64, u64) {
    let mut reader = RdbReader::with_limits(rdb, DEFAULT_MAX_OBJECT_BYTES);
    reader.read_header().unwrap();
    let (mut keys, mut bytes) = (0u64, 0u64);
    while let Some(entry) = reader.next_entry().unwrap() {
        if let Entry::Key(k) = entry {
            keys += 1;
            bytes += (k.key.len() + k.object.len()) as u64;
            black_box(k);
        }
    }
    (keys, bytes)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("rdb_parse");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);

    let large = generate(64, 4 << 20);
    assert_eq!(parse(&large).0, 64);
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("large_values_64x4MiB", |b| {
        b.iter(|| parse(black_box(&large)))
    });
    drop(large);

    let small = generate(200_000, 32);
    assert_eq!(parse(&small).0, 200_000);
    group.throughput(Throughput::Elements(200_000));
    group.bench_function("small_keys_200k_x32B", |b| {
        b.iter(|| parse(black_box(&small)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
