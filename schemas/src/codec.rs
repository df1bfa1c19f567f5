//! Avro single-object encoding of [`Record`]s: the hot path (`serde_avro_fast`) and, in
//! [`generic`], a schema-only decoder built on `apache-avro` for tools and tests.
//!
//! Wire layout of one record (one Kafka message value):
//!
//! ```text
//! C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of record.avsc's canonical form | datum
//! ```
//!
//! The fingerprint names the schema version, so a reader refuses records written with another
//! schema instead of misreading them. `record.avsc` is the contract; the Rust types in
//! [`crate::record`] follow it field for field and in the same order (the encoder then never
//! has to buffer fields to reorder them).

mod generic;
#[cfg(test)]
mod tests;

pub use generic::{decode_generic, generic_schema};

use crate::record::Record;
use serde::Deserialize;
use std::io::BufRead;
use std::sync::OnceLock;

/// The record schema, written by hand: the contract between producer and consumer.
pub const SCHEMA_JSON: &str = include_str!("../record.avsc");

/// First two bytes of every Avro single-object encoded record.
pub const MAGIC: [u8; 2] = [0xC3, 0x01];

/// Magic plus fingerprint: the bytes before the datum.
pub const HEADER_LEN: usize = 10;

/// Why a record could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// `record.avsc` itself did not parse; the build is broken, not the data.
    #[error("the record schema (record.avsc) does not parse: {0}; this build is broken, rebuild from a clean tree")]
    Schema(String),

    /// The bytes do not start with the single-object magic, so they were not written by
    /// slotstream's codec (perhaps a Confluent wire-format message, or another topic).
    #[error(
        "not an Avro single-object record: expected magic C3 01, got {first_bytes} ({len} bytes); \
         check that this topic is written by slotstream and not in another format"
    )]
    NotSingleObject {
        /// Up to the first 16 bytes, hex.
        first_bytes: String,
        len: usize,
    },

    /// The magic is there but the message ends inside the 10-byte header.
    #[error(
        "truncated single-object header: {len} bytes ({first_bytes}), need at least 10; \
         the message was cut short"
    )]
    TruncatedHeader { first_bytes: String, len: usize },

    /// The record names a schema this build does not know: written by another slotstream
    /// version (or another schema altogether).
    #[error(
        "record written with schema fingerprint {found}, this build reads {expected}; \
         run a slotstream built with the writer's record.avsc (or one that knows both)"
    )]
    UnknownFingerprint {
        /// Fingerprint in the record header, hex, in wire (little-endian) byte order.
        found: String,
        /// Fingerprint of this build's schema, hex, in wire byte order.
        expected: String,
    },

    /// The header matched but the datum does not follow the schema: corrupted or truncated.
    #[error("malformed record datum ({datum_len} bytes after the header): {message}")]
    Malformed { message: String, datum_len: usize },

    /// A complete record was read but bytes remain: the message holds more than one record or
    /// was corrupted.
    #[error("{extra} trailing bytes after a complete record ({datum_len}-byte datum)")]
    TrailingBytes { extra: usize, datum_len: usize },

    /// The record cannot be written with this schema (e.g. an unsigned value above the Avro
    /// `long`/`int` range).
    #[error("cannot encode record at {position}: {message}")]
    Encode { message: String, position: String },
}

/// The parsed schema and its fingerprint. Parsing is the costly part; build one and share it
/// ([`Codec::shared`] keeps one for the process).
pub struct Codec {
    schema: serde_avro_fast::Schema,
    fingerprint: [u8; 8],
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("fingerprint", &hex(&self.fingerprint))
            .finish_non_exhaustive()
    }
}

impl Codec {
    /// Parses [`SCHEMA_JSON`].
    pub fn new() -> Result<Self, CodecError> {
        let schema: serde_avro_fast::Schema = SCHEMA_JSON
            .parse()
            .map_err(|e| CodecError::Schema(format!("{e}")))?;
        let fingerprint = *schema.rabin_fingerprint();
        Ok(Self {
            schema,
            fingerprint,
        })
    }

    /// The process-wide codec, parsed on first use.
    pub fn shared() -> Result<&'static Codec, CodecError> {
        static SHARED: OnceLock<Result<Codec, String>> = OnceLock::new();
        match SHARED.get_or_init(|| Codec::new().map_err(|e| e.to_string())) {
            Ok(codec) => Ok(codec),
            Err(message) => Err(CodecError::Schema(message.clone())),
        }
    }

    /// CRC-64-AVRO (Rabin) fingerprint of the schema's canonical form, in wire order
    /// (little-endian), as it appears in bytes 2..10 of every record.
    pub fn fingerprint(&self) -> [u8; 8] {
        self.fingerprint
    }

    /// Appends `record`, single-object encoded, to `out`. Reuse one `out` across records
    /// (clearing it in between) to avoid allocating per record. On error `out` is left as it
    /// was.
    pub fn encode(&self, record: &Record, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.fingerprint);
        // A config owns only reordering buffers, which stay empty because the Rust fields are
        // in schema order; building one per call costs nothing.
        let mut config = serde_avro_fast::ser::SerializerConfig::new(&self.schema);
        match serde_avro_fast::to_datum(record, &mut *out, &mut config) {
            Ok(_) => Ok(()),
            Err(e) => {
                out.truncate(start);
                Err(CodecError::Encode {
                    message: e.to_string(),
                    position: format!(
                        "epoch {} offset {} index {}",
                        record.epoch, record.position.offset, record.position.index
                    ),
                })
            }
        }
    }

    /// Decodes one single-object encoded record, checking the header and that nothing follows
    /// the datum.
    pub fn decode(&self, bytes: &[u8]) -> Result<Record, CodecError> {
        let datum = split_header(bytes, &self.fingerprint)?;
        let mut state = serde_avro_fast::de::DeserializerState::from_slice(datum, &self.schema);
        let record =
            Record::deserialize(state.deserializer()).map_err(|e| CodecError::Malformed {
                message: e.to_string(),
                datum_len: datum.len(),
            })?;
        // A slice reader cannot fail; `fill_buf` hands back what is left of it.
        let extra = state.into_reader().fill_buf().map_or(0, |rest| rest.len());
        if extra != 0 {
            return Err(CodecError::TrailingBytes {
                extra,
                datum_len: datum.len(),
            });
        }
        Ok(record)
    }
}

/// Earlier schema versions whose datums are datums of this one as they stand (since each,
/// record.avsc only added union branches at the end): their records read as this version's.
/// Their schemas are kept in `schemas/history/`, and a test writes every sample with each.
pub const EARLIER_FINGERPRINTS: &[[u8; 8]] = &[[0x4f, 0xa1, 0xd8, 0x5f, 0x8b, 0xd2, 0x9d, 0xe4]];

/// Checks the single-object header against `fingerprint` (or an [`EARLIER_FINGERPRINTS`] one)
/// and returns the datum after it.
pub(crate) fn split_header<'a>(
    bytes: &'a [u8],
    fingerprint: &[u8; 8],
) -> Result<&'a [u8], CodecError> {
    let first_bytes = || hex(&bytes[..bytes.len().min(16)]);
    if bytes.get(..2) != Some(&MAGIC[..]) {
        return Err(CodecError::NotSingleObject {
            first_bytes: first_bytes(),
            len: bytes.len(),
        });
    }
    let (header, datum) = match bytes.split_at_checked(HEADER_LEN) {
        Some(parts) => parts,
        None => {
            return Err(CodecError::TruncatedHeader {
                first_bytes: first_bytes(),
                len: bytes.len(),
            })
        }
    };
    if header[2..] != fingerprint[..] && !EARLIER_FINGERPRINTS.iter().any(|f| header[2..] == f[..])
    {
        return Err(CodecError::UnknownFingerprint {
            found: hex(&header[2..]),
            expected: hex(fingerprint),
        });
    }
    Ok(datum)
}

/// Lower-case hex, no separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
