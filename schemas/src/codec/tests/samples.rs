//! Sample records covering every body kind and the edges of every field type.

use crate::record::*;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A record with an ordinary envelope around `body`.
pub(super) fn record(body: Body) -> Record {
    Record {
        source: "10.0.0.7:6379".into(),
        epoch: 3,
        position: Position {
            offset: 1_234_567,
            index: 2,
        },
        db: 0,
        slot: 12182,
        capture_ms: 1_764_000_000_000,
        body,
    }
}

pub(super) fn bytes(items: &[&[u8]]) -> Vec<Element> {
    items.iter().map(|b| Element(b.to_vec())).collect()
}

/// Every byte value once.
pub(super) fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

pub(super) fn megabyte() -> Vec<u8> {
    (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

const NEAR_MAX: u64 = i64::MAX as u64;

/// At least one record per body kind, with empty, binary, huge and extreme values.
pub(super) fn samples() -> Vec<Record> {
    let mut out = vec![
        record(Body::SnapshotKey(SnapshotKey {
            key: b"foo".to_vec(),
            rdb_type: 0,
            object: b"\x05hello".to_vec(),
            rdb_version: 11,
            expire_ms: None,
            idle_s: None,
            freq: None,
        })),
        record(Body::SnapshotKey(SnapshotKey {
            key: Vec::new(),
            rdb_type: 255,
            object: Vec::new(),
            rdb_version: u16::MAX,
            expire_ms: Some(i64::MAX),
            idle_s: Some(NEAR_MAX),
            freq: Some(255),
        })),
        record(Body::SnapshotKey(SnapshotKey {
            key: all_bytes(),
            rdb_type: 14,
            object: megabyte(),
            rdb_version: 80,
            expire_ms: Some(i64::MIN),
            idle_s: Some(0),
            freq: Some(0),
        })),
        record(Body::SnapshotChunk(SnapshotChunk {
            key: b"{big}list".to_vec(),
            rdb_type: 18,
            rdb_version: 10,
            seq: 0,
            first: true,
            last: false,
            object: all_bytes(),
            expire_ms: Some(1_764_000_060_000),
        })),
        record(Body::SnapshotChunk(SnapshotChunk {
            key: all_bytes(),
            rdb_type: 4,
            rdb_version: 80,
            seq: i32::MAX as u32,
            first: false,
            last: true,
            object: megabyte(),
            expire_ms: None,
        })),
        record(Body::SnapshotChunk(SnapshotChunk {
            key: Vec::new(),
            rdb_type: 0,
            rdb_version: 9,
            seq: 1,
            first: true,
            last: true,
            object: Vec::new(),
            expire_ms: None,
        })),
        record(Body::Command(Command {
            args: bytes(&[b"SET", b"k\x00\xff", b"v"]),
        })),
        record(Body::Command(Command { args: Vec::new() })),
        record(Body::EpochBegin(EpochBegin {
            replid: "8f3e7b6a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f".into(),
            offset: NEAR_MAX,
            partitions: 16384,
            rdb_version: 12,
            source_version: "redis 7.0.15 ✓".into(),
            modules: vec![
                SourceModule {
                    name: "ReJSON".into(),
                    keys: Some(NEAR_MAX),
                },
                SourceModule {
                    name: "söme".into(),
                    keys: None,
                },
            ],
            field_ttl_hashes: vec![
                DbCount { db: 0, keys: 3 },
                DbCount {
                    db: 15,
                    keys: NEAR_MAX,
                },
            ],
            field_ttl_examples: bytes(&[b"h:ttl", b"\xff\x00"]),
        })),
        record(Body::EpochBegin(EpochBegin {
            replid: String::new(),
            offset: 0,
            partitions: i32::MAX as u32,
            rdb_version: 0,
            source_version: String::new(),
            modules: Vec::new(),
            field_ttl_hashes: Vec::new(),
            field_ttl_examples: Vec::new(),
        })),
        record(Body::SnapshotEnd(SnapshotEnd { records: 0 })),
        record(Body::SnapshotEnd(SnapshotEnd {
            records: NEAR_MAX - 1,
        })),
        record(Body::Barrier(Barrier {
            partitions: vec![0, 3, 15],
            commands: vec![
                Command {
                    args: bytes(&[b"RENAME", b"a", b"b"]),
                },
                Command { args: Vec::new() },
            ],
        })),
        record(Body::Barrier(Barrier {
            partitions: Vec::new(),
            commands: Vec::new(),
        })),
        record(Body::Heartbeat(Heartbeat { source_offset: 0 })),
        record(Body::Heartbeat(Heartbeat {
            source_offset: NEAR_MAX,
        })),
        record(Body::Function(Function {
            code: b"#!lua name=lib\nredis.register_function('f', function() return 1 end)".to_vec(),
        })),
        record(Body::Function(Function { code: Vec::new() })),
        record(Body::Fork(Fork {
            offset: 5_671_849,
            db: 3,
        })),
    ];
    // Envelope edges.
    out.push(Record {
        source: String::new(),
        epoch: NEAR_MAX,
        position: Position {
            offset: NEAR_MAX,
            index: NEAR_MAX,
        },
        db: i32::MAX as u32,
        slot: u16::MAX,
        capture_ms: i64::MIN,
        body: Body::Heartbeat(Heartbeat { source_offset: 1 }),
    });
    out.push(Record {
        source: "源 🦀".into(),
        epoch: 0,
        position: Position {
            offset: 0,
            index: 0,
        },
        db: 15,
        slot: 0,
        capture_ms: -1,
        body: Body::Command(Command {
            args: bytes(&[b"PING"]),
        }),
    });
    out
}

/// The variant's name; exhaustive, so a new variant must be named here (and then in the
/// samples, which `samples_cover_every_body_kind` checks).
pub(super) fn body_name(body: &Body) -> &'static str {
    match body {
        Body::SnapshotKey(_) => "SnapshotKey",
        Body::SnapshotChunk(_) => "SnapshotChunk",
        Body::Command(_) => "Command",
        Body::EpochBegin(_) => "EpochBegin",
        Body::SnapshotEnd(_) => "SnapshotEnd",
        Body::Barrier(_) => "Barrier",
        Body::Heartbeat(_) => "Heartbeat",
        Body::Function(_) => "Function",
        Body::Fork(_) => "Fork",
    }
}

/// The names serde knows for a struct's fields or an enum's variants (aliases with a dot, i.e.
/// Avro full names, left out), read from the derived `Deserialize` impl itself.
pub(super) fn serde_names<T: Deserialize<'static>>() -> Vec<&'static str> {
    let mut names = Vec::new();
    let _ = T::deserialize(Capture(&mut names));
    names.retain(|n| !n.contains('.'));
    names
}

struct Capture<'a>(&'a mut Vec<&'static str>);

impl<'de> Deserializer<'de> for Capture<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct or enum"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.extend_from_slice(fields);
        Err(de::Error::custom("captured"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.extend_from_slice(variants);
        Err(de::Error::custom("captured"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}
