//! The streaming RDB parser: cuts the snapshot a source sends on full sync into one entry
//! per key, holding at most one value in memory.
//!
//! Layout:
//! - `reader`: [`RdbReader`], the header and the opcode stream, one [`Entry`] per call;
//! - `object`: where each value type ends (values are kept byte for byte, as in DUMP);
//! - `primitive`: lengths and strings, parsed from slices and read raw or decoded;
//! - `input`: the buffered input with the byte position and the running CRC64;
//! - `types`: type bytes and opcodes with their names;
//! - `lzf`: LZF decompression for compressed key names and metadata;
//! - `error`: [`RdbError`], with the offset and key an operator needs.

mod chunk;
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
