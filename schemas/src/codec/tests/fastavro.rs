//! A third, independent reader: Python's `fastavro` with nothing but `record.avsc`, through
//! `check_with_fastavro.py`. Skipped, with a note, where `fastavro` is not installed.

use super::samples::{bytes, record, samples};
use crate::codec::Codec;
use crate::record::*;
use std::path::Path;
use std::process::Command as Process;

fn fastavro_available() -> bool {
    Process::new("python3")
        .args(["-c", "import fastavro"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Records whose decoded form is spelled out below, followed by every sample.
fn records() -> Vec<Record> {
    let mut out = vec![
        record(Body::SnapshotKey(SnapshotKey {
            key: b"k\x00\xff".to_vec(),
            rdb_type: 0,
            object: b"\x05hello".to_vec(),
            rdb_version: 11,
            expire_ms: Some(1_764_000_060_000),
            idle_s: None,
            freq: Some(3),
        })),
        record(Body::Barrier(Barrier {
            partitions: vec![1, 2],
            commands: vec![Command {
                args: bytes(&[b"RENAME", b"a", b"b"]),
            }],
        })),
        Record {
            source: "源".into(),
            epoch: i64::MAX as u64,
            position: Position {
                offset: 7,
                index: 0,
            },
            db: 2,
            slot: 16383,
            capture_ms: i64::MIN,
            body: Body::Heartbeat(Heartbeat { source_offset: 7 }),
        },
    ];
    out.extend(samples());
    out
}

const EXPECTED: [&str; 3] = [
    r#"{"body":{"io.slotstream.SnapshotKey":{"expire_ms":1764000060000,"freq":3,"idle_s":null,"key":"6b00ff","object":"0568656c6c6f","rdb_type":0,"rdb_version":11}},"capture_ms":1764000000000,"db":0,"epoch":3,"position":{"index":2,"offset":1234567},"slot":12182,"source":"10.0.0.7:6379"}"#,
    r#"{"body":{"io.slotstream.Barrier":{"commands":[{"args":["52454e414d45","61","62"]}],"partitions":[1,2]}},"capture_ms":1764000000000,"db":0,"epoch":3,"position":{"index":2,"offset":1234567},"slot":12182,"source":"10.0.0.7:6379"}"#,
    r#"{"body":{"io.slotstream.Heartbeat":{"source_offset":7}},"capture_ms":-9223372036854775808,"db":2,"epoch":9223372036854775807,"position":{"index":0,"offset":7},"slot":16383,"source":"源"}"#,
];

#[test]
fn fastavro_decodes_with_the_schema_alone() {
    if !fastavro_available() {
        eprintln!("note: python3 cannot import fastavro (scripts/test.sh installs it); skipping");
        return;
    }
    let codec = Codec::shared().unwrap();
    let records = records();
    let mut file = Vec::new();
    let mut encoded = Vec::new();
    for r in &records {
        encoded.clear();
        codec.encode(r, &mut encoded).unwrap();
        file.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
        file.extend_from_slice(&encoded);
    }
    let path = std::env::temp_dir().join(format!(
        "slotstream-schemas-fastavro-{}.bin",
        std::process::id()
    ));
    std::fs::write(&path, &file).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("check_with_fastavro.py");
    let output = Process::new("python3")
        .arg(&script)
        .arg("--file")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "fastavro check failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), records.len());
    for (line, expected) in lines.iter().zip(EXPECTED) {
        assert_eq!(*line, expected);
    }

    // The same script rejects a record of another schema version, naming both fingerprints.
    encoded.clear();
    codec.encode(&records[0], &mut encoded).unwrap();
    encoded[2] ^= 0xff;
    let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
    let output = Process::new("python3")
        .arg(&script)
        .args(["--hex", &hex])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("fingerprint"));
}
