//! Records written with an earlier schema version (`schemas/history/`) read as this version's:
//! `apache-avro` writes every sample the old schema has a branch for, with the old schema and
//! its fingerprint, and the hot path decodes the same record.

use super::agreement::expected_value;
use super::samples::{body_name, samples};
use crate::codec::{hex, Codec, EARLIER_FINGERPRINTS, MAGIC};
use apache_avro::rabin::Rabin;
use apache_avro::schema::Schema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;

const HISTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/history");

#[test]
fn every_earlier_version_is_kept_and_reads_as_this_one() {
    let mut files: Vec<_> = std::fs::read_dir(HISTORY)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        EARLIER_FINGERPRINTS.len(),
        "one schema file per fingerprint"
    );
    let codec = Codec::shared().unwrap();
    for file in files {
        let schema = Schema::parse_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let fingerprint: [u8; 8] = schema.fingerprint::<Rabin>().bytes.try_into().unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!("record-{}.avsc", hex(&fingerprint)));
        assert!(EARLIER_FINGERPRINTS.contains(&fingerprint));
        let writer = GenericDatumWriter::builder(&schema).build().unwrap();
        let mut written = 0;
        for sample in samples() {
            let value = expected_value(&sample);
            if !fits(&schema, &value) {
                continue;
            }
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&fingerprint);
            writer.write_value(&mut bytes, value).unwrap();
            let read = codec.decode(&bytes).unwrap();
            assert_eq!(read, sample, "{}: {name}", body_name(&sample.body));
            written += 1;
        }
        assert!(written > 10, "{name}: only {written} samples written");
    }
}

/// Whether the old schema has the body's branch (a union branch is written as its index).
fn fits(schema: &Schema, value: &Value) -> bool {
    let (Schema::Record(top), Value::Record(fields)) = (schema, value) else {
        return false;
    };
    let body = top.fields.iter().find(|f| f.name == "body").unwrap();
    let Schema::Union(union) = &body.schema else {
        return false;
    };
    let Some((_, Value::Union(branch, _))) = fields.iter().find(|(name, _)| name == "body") else {
        return false;
    };
    (*branch as usize) < union.variants().len()
}
