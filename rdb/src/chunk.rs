//! Cutting big values in chunks. A value of a type laid out as a prefix, a count and that many
//! elements (lists, sets, sorted sets and hashes in their non-compact encodings, quicklists,
//! hashes with field TTLs, streams) that grows past the chunk size while it is read is handed
//! over in parts: each part is a standalone value of the same type holding a run of its
//! elements, so it decodes like any value and memory holds one part at a time. A stream's parts
//! carry empty metadata, except the last, which carries the real metadata and groups.

use std::io::Read;

use crate::error::RdbError;
use crate::input::Input;
use crate::object::{copy_stream_tail, cut_element, empty_stream_tail, is_stream};

/// Default size past which a value is cut in chunks.
pub const DEFAULT_CHUNK_BYTES: usize = 1 << 20;

/// A value being handed over in chunks.
#[derive(Debug)]
pub(crate) struct Cutting {
    pub rdb_type: u8,
    pub valkey: bool,
    /// Bytes every chunk starts with (Redis 7.4's minimum field expiry).
    pub prefix: Vec<u8>,
    /// Elements not read yet.
    pub remaining: u64,
    /// Sequence number of the next chunk.
    pub seq: u32,
    pub db: u32,
    pub key: Vec<u8>,
    pub expire_ms: Option<i64>,
}

impl Cutting {
    /// Reads elements into `out` until none remain or `out` holds `limit` bytes; returns how
    /// many were read.
    pub fn read_run<R: Read>(
        &mut self,
        input: &mut Input<R>,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<u64, RdbError> {
        let mut count = 0;
        while self.remaining > 0 && out.len() < limit {
            cut_element(input, self.rdb_type, self.valkey, out)?;
            self.remaining -= 1;
            count += 1;
        }
        Ok(count)
    }

    /// Wraps `count` elements read into `body` as a standalone value; reads the stream's real
    /// tail when this is the last chunk.
    pub fn seal<R: Read>(
        &mut self,
        input: &mut Input<R>,
        count: u64,
        body: &[u8],
    ) -> Result<Vec<u8>, RdbError> {
        let mut object = Vec::with_capacity(self.prefix.len() + 9 + body.len());
        object.extend_from_slice(&self.prefix);
        put_length(count, &mut object);
        object.extend_from_slice(body);
        if is_stream(self.rdb_type) {
            if self.remaining == 0 {
                copy_stream_tail(input, self.rdb_type, &mut object)?;
            } else {
                object.extend_from_slice(&empty_stream_tail(self.rdb_type));
            }
        }
        Ok(object)
    }
}

/// An RDB length in its shortest form.
pub(crate) fn put_length(n: u64, out: &mut Vec<u8>) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::parse_length;

    #[test]
    fn lengths_read_back() {
        for n in [
            0,
            1,
            63,
            64,
            16383,
            16384,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
        ] {
            let mut out = Vec::new();
            put_length(n, &mut out);
            let (length, used) = parse_length(&out).unwrap().unwrap();
            assert_eq!(used, out.len(), "{n}");
            assert_eq!(
                format!("{length:?}"),
                format!("{:?}", crate::primitive::Length::Len(n))
            );
        }
    }
}
