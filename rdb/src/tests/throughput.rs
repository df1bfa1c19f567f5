//! Throughput checks on generated RDBs (release build; run with `--ignored --nocapture`):
//! many small keys, and few large values.

use std::time::Instant;

use super::synthetic::{len, string};
use crate::dump::CRC64;
use crate::*;

fn generated(keys: usize, value: &[u8]) -> Vec<u8> {
    let mut rdb = b"REDIS0011".to_vec();
    rdb.extend_from_slice(&[254, 0]);
    let value = string(value);
    for i in 0..keys {
        rdb.push(0);
        rdb.extend_from_slice(&string(format!("key:{i:08}").as_bytes()));
        rdb.extend_from_slice(&value);
    }
    rdb.push(255);
    let crc = CRC64.checksum(&rdb);
    rdb.extend_from_slice(&crc.to_le_bytes());
    rdb
}

fn measure(label: &str, rdb: &[u8]) -> (f64, f64) {
    let start = Instant::now();
    let mut reader = RdbReader::new(rdb);
    let mut keys = 0u64;
    while let Some(entry) = reader.next_entry().unwrap() {
        if let Entry::Key(k) = entry {
            keys += 1;
            std::hint::black_box(k);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let (mb_s, keys_s) = (rdb.len() as f64 / secs / 1e6, keys as f64 / secs);
    println!("{label}: {:.0} MB/s, {:.2} M keys/s", mb_s, keys_s / 1e6);
    (mb_s, keys_s)
}

#[test]
#[ignore = "throughput check: run in release with --ignored --nocapture"]
fn throughput() {
    assert_eq!(len(5), [5]);
    let small = generated(3_000_000, b"value-0123456789");
    let large = generated(64, &vec![b'x'; 8 << 20]);
    measure("small keys", &small);
    measure("large values", &large);
}
