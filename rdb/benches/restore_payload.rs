//! `RESTORE` payload building (type byte + object + RDB version + CRC64 footer) in MB/s, on
//! 1 MiB and 64 MiB objects, with the CRC64 alone beside it for comparison.

use criterion::{black_box, criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use slotstream_rdb::dump::{crc64, restore_payload};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("restore_payload");
    group.sampling_mode(SamplingMode::Flat).sample_size(20);
    for (name, len) in [("1MiB", 1usize << 20), ("64MiB", 64 << 20)] {
        let object: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(format!("restore_payload/{name}"), |b| {
            b.iter(|| restore_payload(0, black_box(&object), 11))
        });
        group.bench_function(format!("crc64_only/{name}"), |b| {
            b.iter(|| crc64(0, black_box(&object)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
