//! Schema-only decoding with `apache-avro`: reads a record knowing nothing but `record.avsc`,
//! the way any other Avro reader would (tools, `verify`, tests of the hot path).

use super::{split_header, CodecError, SCHEMA_JSON};
use apache_avro::rabin::Rabin;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::Schema;
use std::sync::OnceLock;

struct Generic {
    schema: Schema,
    fingerprint: [u8; 8],
}

fn generic() -> Result<&'static Generic, CodecError> {
    static GENERIC: OnceLock<Result<Generic, String>> = OnceLock::new();
    let parsed = GENERIC.get_or_init(|| {
        let schema = Schema::parse_str(SCHEMA_JSON).map_err(|e| e.to_string())?;
        let bytes = schema.fingerprint::<Rabin>().bytes;
        let fingerprint: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "apache-avro's Rabin fingerprint has {} bytes, expected 8",
                bytes.len()
            )
        })?;
        Ok(Generic {
            schema,
            fingerprint,
        })
    });
    match parsed {
        Ok(generic) => Ok(generic),
        Err(message) => Err(CodecError::Schema(message.clone())),
    }
}

/// `record.avsc` as parsed by `apache-avro`, with its CRC-64-AVRO fingerprint computed by
/// `apache-avro` (wire order), for schema tooling: compatibility checks, generic writers.
pub fn generic_schema() -> Result<(&'static Schema, [u8; 8]), CodecError> {
    let generic = generic()?;
    Ok((&generic.schema, generic.fingerprint))
}

/// Decodes one single-object encoded record into a generic Avro [`Value`], using only
/// `record.avsc`. Slow next to [`super::Codec::decode`]; meant for tools and cross-checks.
///
/// `apache-avro` allocates what a length or count declares before reading what it counts (up
/// to its process-wide cap, `apache_avro::util::max_allocation_bytes`, 512 MiB unless set), so
/// a message of a few bytes can ask for hundreds of megabytes (of untouched pages): give it
/// bytes you trust. [`super::Codec::decode`], which the consumer runs, allocates no more than
/// the message holds (the `record_decode` fuzz target checks both). It also reads a varint of
/// more than 64 bits (10 bytes, the last above 1) by dropping the extra bits, where Avro and
/// the fast path refuse it.
pub fn decode_generic(bytes: &[u8]) -> Result<Value, CodecError> {
    let generic = generic()?;
    let datum = split_header(bytes, &generic.fingerprint)?;
    let malformed = |e: apache_avro::Error| CodecError::Malformed {
        message: e.to_string(),
        datum_len: datum.len(),
    };
    let reader = GenericDatumReader::builder(&generic.schema)
        .build()
        .map_err(malformed)?;
    let mut input = EofGuard {
        rest: datum,
        ran_out: false,
    };
    let value = reader.read_value(&mut input).map_err(malformed)?;
    if input.ran_out {
        // apache-avro reads end-of-input at a union index, boolean or string as null and
        // carries on, so a truncated datum can come back as a value.
        return Err(CodecError::Malformed {
            message: "the datum ends before the record does (truncated)".into(),
            datum_len: datum.len(),
        });
    }
    if !input.rest.is_empty() {
        return Err(CodecError::TrailingBytes {
            extra: input.rest.len(),
            datum_len: datum.len(),
        });
    }
    Ok(value)
}

/// A slice reader that remembers whether anyone asked it for bytes it did not have.
struct EofGuard<'a> {
    rest: &'a [u8],
    ran_out: bool,
}

impl std::io::Read for EofGuard<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() > self.rest.len() {
            self.ran_out = true;
        }
        self.rest.read(buf)
    }
}
