//! `record.avsc`, the Rust types, `serde_avro_fast` and `apache-avro` agree: same fingerprint,
//! same bytes, same values, same set of bodies and fields.

use super::samples::{body_name, samples, serde_names};
use crate::codec::{decode_generic, generic_schema, Codec, HEADER_LEN, MAGIC, SCHEMA_JSON};
use crate::record::*;
use apache_avro::schema::{RecordSchema, Schema};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;

/// The fingerprint of record.avsc (wire order). A schema change changes it, and a changed
/// fingerprint is a new schema version (README.md): update it here and there deliberately.
const FINGERPRINT: &str = "a0ebd447c5280641";

fn long(v: u64) -> Value {
    Value::Long(i64::try_from(v).unwrap())
}

fn int(v: impl Into<i64>) -> Value {
    Value::Int(i32::try_from(v.into()).unwrap())
}

fn nullable(v: Option<Value>) -> Value {
    match v {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(v) => Value::Union(1, Box::new(v)),
    }
}

fn byte_array(items: &[Element]) -> Value {
    Value::Array(items.iter().map(|e| Value::Bytes(e.0.clone())).collect())
}

fn fields(pairs: Vec<(&str, Value)>) -> Value {
    Value::Record(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn command_value(c: &Command) -> Value {
    fields(vec![("args", byte_array(&c.args))])
}

/// How a record must look to any Avro reader, written out by hand from record.avsc.
pub(super) fn expected_value(r: &Record) -> Value {
    let (branch, body) = match &r.body {
        Body::SnapshotKey(k) => (
            0,
            fields(vec![
                ("key", Value::Bytes(k.key.clone())),
                ("rdb_type", int(k.rdb_type)),
                ("object", Value::Bytes(k.object.clone())),
                ("rdb_version", int(k.rdb_version)),
                ("expire_ms", nullable(k.expire_ms.map(Value::Long))),
                ("idle_s", nullable(k.idle_s.map(long))),
                ("freq", nullable(k.freq.map(int))),
            ]),
        ),
        Body::SnapshotChunk(c) => (
            1,
            fields(vec![
                ("key", Value::Bytes(c.key.clone())),
                ("rdb_type", int(c.rdb_type)),
                ("rdb_version", int(c.rdb_version)),
                ("seq", int(c.seq)),
                ("first", Value::Boolean(c.first)),
                ("last", Value::Boolean(c.last)),
                ("object", Value::Bytes(c.object.clone())),
                ("expire_ms", nullable(c.expire_ms.map(Value::Long))),
            ]),
        ),
        Body::Command(c) => (2, command_value(c)),
        Body::EpochBegin(e) => (
            3,
            fields(vec![
                ("replid", Value::String(e.replid.clone())),
                ("offset", long(e.offset)),
                ("partitions", int(e.partitions)),
                ("rdb_version", int(e.rdb_version)),
                ("source_version", Value::String(e.source_version.clone())),
                (
                    "modules",
                    Value::Array(
                        e.modules
                            .iter()
                            .map(|m| {
                                fields(vec![
                                    ("name", Value::String(m.name.clone())),
                                    ("keys", nullable(m.keys.map(long))),
                                ])
                            })
                            .collect(),
                    ),
                ),
                (
                    "field_ttl_hashes",
                    Value::Array(
                        e.field_ttl_hashes
                            .iter()
                            .map(|c| fields(vec![("db", int(c.db)), ("keys", long(c.keys))]))
                            .collect(),
                    ),
                ),
                ("field_ttl_examples", byte_array(&e.field_ttl_examples)),
            ]),
        ),
        Body::SnapshotEnd(e) => (4, fields(vec![("records", long(e.records))])),
        Body::Barrier(b) => (
            5,
            fields(vec![
                (
                    "partitions",
                    Value::Array(b.partitions.iter().map(|&p| int(p)).collect()),
                ),
                (
                    "commands",
                    Value::Array(b.commands.iter().map(command_value).collect()),
                ),
            ]),
        ),
        Body::Heartbeat(h) => (6, fields(vec![("source_offset", long(h.source_offset))])),
        Body::Function(f) => (7, fields(vec![("code", Value::Bytes(f.code.clone()))])),
        Body::Fork(f) => (
            8,
            fields(vec![("offset", long(f.offset)), ("db", int(f.db))]),
        ),
    };
    fields(vec![
        ("source", Value::String(r.source.clone())),
        ("epoch", long(r.epoch)),
        (
            "position",
            fields(vec![
                ("offset", long(r.position.offset)),
                ("index", long(r.position.index)),
            ]),
        ),
        ("db", int(r.db)),
        ("slot", int(r.slot)),
        ("capture_ms", Value::Long(r.capture_ms)),
        ("body", Value::Union(branch, Box::new(body))),
    ])
}

#[test]
fn fingerprints_agree_and_are_pinned() {
    let fast = Codec::new().unwrap().fingerprint();
    let (_, generic) = generic_schema().unwrap();
    assert_eq!(fast, generic, "serde_avro_fast and apache-avro disagree");
    assert_eq!(
        crate::codec::hex(&fast),
        FINGERPRINT,
        "record.avsc changed: a new fingerprint is a new schema version (see README.md)"
    );
}

#[test]
fn generic_decoder_reads_what_the_fast_path_writes() {
    let codec = Codec::shared().unwrap();
    let mut out = Vec::new();
    for sample in samples() {
        out.clear();
        codec.encode(&sample, &mut out).unwrap();
        let value = decode_generic(&out).unwrap();
        assert!(
            value == expected_value(&sample),
            "{}: generic decode differs",
            body_name(&sample.body)
        );
    }
}

#[test]
fn generic_decoder_spot_checks() {
    let sample = samples().remove(1);
    let mut out = Vec::new();
    Codec::shared().unwrap().encode(&sample, &mut out).unwrap();
    let Value::Record(top) = decode_generic(&out).unwrap() else {
        panic!("not a record");
    };
    assert_eq!(
        top[0],
        ("source".to_owned(), Value::String("10.0.0.7:6379".into()))
    );
    let Value::Union(0, body) = &top[6].1 else {
        panic!("body is not the SnapshotKey branch: {:?}", top[6].1);
    };
    let Value::Record(key) = &**body else {
        panic!("not a record");
    };
    assert_eq!(key[0], ("key".to_owned(), Value::Bytes(Vec::new())));
    assert_eq!(key[1], ("rdb_type".to_owned(), Value::Int(255)));
    assert_eq!(key[3], ("rdb_version".to_owned(), Value::Int(65535)));
    assert_eq!(
        key[5],
        (
            "idle_s".to_owned(),
            Value::Union(1, Box::new(Value::Long(i64::MAX)))
        )
    );
}

#[test]
fn apache_avro_writes_the_same_bytes() {
    let codec = Codec::shared().unwrap();
    let (schema, fingerprint) = generic_schema().unwrap();
    let writer = GenericDatumWriter::builder(schema).build().unwrap();
    let mut out = Vec::new();
    for sample in samples() {
        let mut theirs = MAGIC.to_vec();
        theirs.extend_from_slice(&fingerprint);
        writer
            .write_value(&mut theirs, expected_value(&sample))
            .unwrap();
        out.clear();
        codec.encode(&sample, &mut out).unwrap();
        assert!(
            out == theirs,
            "{}: bytes differ ({} vs {} bytes), first difference at {:?}",
            body_name(&sample.body),
            out.len(),
            theirs.len(),
            out.iter().zip(&theirs).position(|(a, b)| a != b)
        );
        assert_eq!(out.len(), HEADER_LEN + (theirs.len() - HEADER_LEN));
    }
}

fn record_schema<'a>(schema: &'a Schema, what: &str) -> &'a RecordSchema {
    match schema {
        Schema::Record(record) => record,
        other => panic!("{what} is not a record: {other:?}"),
    }
}

fn field_names(record: &RecordSchema) -> Vec<&str> {
    record.fields.iter().map(|f| f.name.as_str()).collect()
}

/// The union's records by name; `Barrier.commands` refers to `Command` by name.
fn body_branches(schema: &Schema) -> Vec<&RecordSchema> {
    let top = record_schema(schema, "the top level");
    let body = top.fields.iter().find(|f| f.name == "body").unwrap();
    let Schema::Union(union) = &body.schema else {
        panic!("body is not a union");
    };
    union
        .variants()
        .iter()
        .map(|v| record_schema(v, "a body branch"))
        .collect()
}

#[test]
fn schema_and_rust_types_cannot_drift() {
    let schema = Schema::parse_str(SCHEMA_JSON).unwrap();
    let top = record_schema(&schema, "the top level");
    assert_eq!(top.name.fullname(None), "io.slotstream.Record");
    assert_eq!(field_names(top), serde_names::<Record>());
    let position = record_schema(&top.fields[2].schema, "position");
    assert_eq!(field_names(position), serde_names::<Position>());

    // Every Body variant has a branch of the same name, in the same order, and nothing else.
    let branches = body_branches(&schema);
    let names: Vec<&str> = branches.iter().map(|r| r.name.name()).collect();
    assert_eq!(names, serde_names::<Body>());

    // And every branch has the fields of its Rust struct, in order.
    let rust_fields = [
        serde_names::<SnapshotKey>(),
        serde_names::<SnapshotChunk>(),
        serde_names::<Command>(),
        serde_names::<EpochBegin>(),
        serde_names::<SnapshotEnd>(),
        serde_names::<Barrier>(),
        serde_names::<Heartbeat>(),
        serde_names::<Function>(),
        serde_names::<Fork>(),
    ];
    assert_eq!(branches.len(), rust_fields.len());
    for (branch, rust) in branches.iter().zip(&rust_fields) {
        assert_eq!(
            &field_names(branch),
            rust,
            "fields of {}",
            branch.name.name()
        );
        assert!(
            branch.doc.is_some(),
            "{} needs a doc in record.avsc",
            branch.name.name()
        );
        for field in &branch.fields {
            assert!(
                field.doc.is_some(),
                "{}.{} needs a doc",
                branch.name.name(),
                field.name
            );
        }
    }
    for field in &top.fields {
        assert!(field.doc.is_some(), "Record.{} needs a doc", field.name);
    }
    // The records inside EpochBegin's arrays.
    let begin = branches[3];
    let nested = [
        ("modules", serde_names::<SourceModule>()),
        ("field_ttl_hashes", serde_names::<DbCount>()),
    ];
    for (name, rust) in nested {
        let field = begin.fields.iter().find(|f| f.name == name).unwrap();
        let Schema::Array(array) = &field.schema else {
            panic!("EpochBegin.{name} is not an array");
        };
        assert_eq!(field_names(record_schema(&array.items, name)), rust);
    }
}

#[test]
fn schema_uses_bytes_not_int_arrays() {
    // The trap of derived schemas: byte fields must be Avro `bytes`.
    let schema = Schema::parse_str(SCHEMA_JSON).unwrap();
    let branches = body_branches(&schema);
    let key = &branches[0].fields[0];
    assert_eq!(key.name, "key");
    assert!(matches!(key.schema, Schema::Bytes));
    let object = &branches[1].fields[6];
    assert_eq!(object.name, "object");
    assert!(matches!(object.schema, Schema::Bytes));
    let Schema::Array(args) = &branches[2].fields[0].schema else {
        panic!("Command.args is not an array");
    };
    assert!(matches!(*args.items, Schema::Bytes));
}
