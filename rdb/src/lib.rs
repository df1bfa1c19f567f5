//! The RDB format, as both sides of slotstream read it: one home for the type bytes, the
//! length and string primitives, LZF, the streaming snapshot cutter, element decoding and
//! `DUMP`/`RESTORE` payloads. A format library: it knows nothing of records or logs.
//!
//! The producer cuts the snapshot a source sends on full sync into one entry per key with
//! [`RdbReader`], holding at most one value in memory; the consumer seals a value back into a
//! `RESTORE` payload ([`dump`]), or decodes it into elements ([`elements`]) for a target that
//! cannot `RESTORE` it.
//!
//! # Layout
//! - [`types`]: type bytes and opcodes with their names (Redis and Valkey), the one table.
//! - [`primitive`]: lengths and strings, parsed from slices (shared by the cutter and the
//!   element decoder) and read from the cutter's input raw or decoded.
//! - [`lzf`]: LZF decompression, bounds-checked for untrusted input.
//! - `reader`: [`RdbReader`], the header and the opcode stream, one [`Entry`] per call.
//! - `object`: where each value type ends (values are kept byte for byte, as in `DUMP`).
//! - `chunk`: cutting big values in parts that are each a standalone value of their type.
//! - `input`: the cutter's buffered input with the byte position and the running CRC64.
//! - `error`: [`RdbError`], with the offset, key and advice an operator needs.
//! - [`elements`]: decoding an object into its elements (items, members, fields, entries).
//! - [`dump`]: the `DUMP`/`RESTORE` payload format (RDB version footer, CRC64 Jones).

#![forbid(unsafe_code)]

mod chunk;
pub mod dump;
pub mod elements;
mod error;
mod input;
pub mod lzf;
mod object;
pub mod primitive;
mod reader;
pub mod types;

#[cfg(test)]
mod tests;

pub use chunk::DEFAULT_CHUNK_BYTES;
pub use error::{RdbError, RdbErrorKind};
pub use reader::{ChunkEntry, Entry, KeyEntry, RdbHeader, RdbReader, DEFAULT_MAX_OBJECT_BYTES};
