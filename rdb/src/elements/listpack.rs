//! Walking a listpack (Redis 5+ streams, and from 7.0 small hashes, sorted sets, lists and
//! sets), and [`Item`], the element type listpacks and ziplists share.
//!
//! Layout: total bytes (u32 LE), element count (u16 LE, 65535 = unknown), entries, `0xff`.
//! An entry is an encoding byte (with data), then a "backlen": the entry's length before it,
//! in 1 to 5 bytes written to be read backwards. Encodings: `0xxxxxxx` 7-bit uint,
//! `10xxxxxx` string of up to 63 bytes, `110xxxxx` + 1 byte 13-bit int, `1110xxxx` + 1 byte
//! string of up to 4095 bytes, `0xf0` + u32 LE string length, `0xf1`..`0xf4` 16/24/32/64-bit
//! little-endian ints.

use super::error::DecodeError;
use super::reader::sized_header;

/// One element of a listpack or ziplist: bytes, or an integer stored as such.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Item<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl Item<'_> {
    /// The element as Redis returns it: integers as decimal text.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Item::Bytes(b) => b.to_vec(),
            Item::Int(n) => n.to_string().into_bytes(),
        }
    }

    /// The element as an integer (a string counts when it is exact decimal text).
    pub fn int(self) -> Option<i64> {
        match self {
            Item::Int(n) => Some(n),
            Item::Bytes(b) => super::reader::parse_int(b),
        }
    }

    /// The element as a score.
    pub fn score(self) -> Option<f64> {
        match self {
            Item::Int(n) => Some(n as f64),
            Item::Bytes(b) => super::reader::parse_double(b),
        }
    }
}

/// The entries of a listpack, in order; stops after the first error.
pub(crate) struct Listpack<'a> {
    buf: &'a [u8],
    pos: usize,
    declared: u16,
    seen: u64,
    done: bool,
}

const HEADER: usize = 6;
const UNKNOWN_COUNT: u16 = u16::MAX;

impl<'a> Listpack<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let header = sized_header(buf, HEADER, "listpack header")?;
        Ok(Listpack {
            buf,
            pos: HEADER,
            declared: u16::from_le_bytes([header[4], header[5]]),
            seen: 0,
            done: false,
        })
    }

    /// The count in the header (`None` when it says "unknown").
    pub fn declared(&self) -> Option<u16> {
        (self.declared != UNKNOWN_COUNT).then_some(self.declared)
    }

    fn byte(&self, at: usize) -> Result<u8, DecodeError> {
        self.buf
            .get(at)
            .copied()
            .ok_or_else(|| DecodeError::truncated("listpack entry", self.pos, 1, self.left()))
    }

    fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Little-endian bytes `from..from + n` as a signed integer of `n` bytes.
    fn int_le(&self, from: usize, n: usize) -> Result<i64, DecodeError> {
        let bytes = self
            .buf
            .get(self.pos + from..self.pos + from + n)
            .ok_or_else(|| {
                DecodeError::truncated("listpack entry", self.pos, (from + n) as u64, self.left())
            })?;
        let mut raw = [0u8; 8];
        raw[..n].copy_from_slice(bytes);
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(raw) << shift) >> shift)
    }

    /// The entry at the cursor: its item and the length of encoding plus data.
    fn entry(&self) -> Result<(Item<'a>, usize), DecodeError> {
        let b = self.byte(self.pos)?;
        let (header, len) = match b {
            0x00..=0x7f => return Ok((Item::Int(i64::from(b)), 1)),
            0x80..=0xbf => (1, usize::from(b & 0x3f)),
            0xc0..=0xdf => {
                let v = i64::from(b & 0x1f) << 8 | i64::from(self.byte(self.pos + 1)?);
                return Ok((Item::Int(if v >= 1 << 12 { v - (1 << 13) } else { v }), 2));
            }
            0xe0..=0xef => (
                2,
                usize::from(b & 0x0f) << 8 | usize::from(self.byte(self.pos + 1)?),
            ),
            0xf0 => {
                let n = self.int_le(1, 4)? as u32;
                (5, usize::try_from(n).unwrap_or(usize::MAX))
            }
            0xf1 => return Ok((Item::Int(self.int_le(1, 2)?), 3)),
            0xf2 => return Ok((Item::Int(self.int_le(1, 3)?), 4)),
            0xf3 => return Ok((Item::Int(self.int_le(1, 4)?), 5)),
            0xf4 => return Ok((Item::Int(self.int_le(1, 8)?), 9)),
            _ => {
                return Err(DecodeError::invalid(
                    "listpack entry",
                    self.pos,
                    format!("unknown encoding byte {b:#04x}"),
                ))
            }
        };
        let start = self.pos + header;
        let data = start
            .checked_add(len)
            .and_then(|end| self.buf.get(start..end))
            .ok_or_else(|| {
                DecodeError::truncated(
                    "listpack entry",
                    self.pos,
                    (header + len) as u64,
                    self.left(),
                )
            })?;
        Ok((Item::Bytes(data), header + len))
    }

    fn step(&mut self) -> Result<Option<Item<'a>>, DecodeError> {
        let at = self.pos;
        if self.byte(at)? == 0xff {
            self.done = true;
            if at + 1 != self.buf.len() {
                return Err(DecodeError::Trailing {
                    what: "listpack",
                    offset: at + 1,
                    count: self.buf.len() - at - 1,
                });
            }
            if let Some(declared) = self.declared() {
                if u64::from(declared) != self.seen {
                    return Err(DecodeError::invalid(
                        "listpack header",
                        4,
                        format!("it counts {declared} entries, there are {}", self.seen),
                    ));
                }
            }
            return Ok(None);
        }
        let (item, len) = self.entry()?;
        let (backlen, size) = encode_backlen(len);
        let stored = self.buf.get(at + len..at + len + size);
        if stored != Some(&backlen[..size]) {
            return Err(match stored {
                None => {
                    DecodeError::truncated("listpack entry", at, (len + size) as u64, self.left())
                }
                Some(_) => DecodeError::invalid(
                    "listpack entry",
                    at,
                    format!("its back-length does not say {len}"),
                ),
            });
        }
        self.pos = at + len + size;
        self.seen += 1;
        Ok(Some(item))
    }
}

/// The back-length Redis writes after an entry of `len` bytes, and how many bytes it takes.
fn encode_backlen(len: usize) -> ([u8; 5], usize) {
    let size = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    let mut out = [0u8; 5];
    for (i, byte) in out[..size].iter_mut().enumerate() {
        // Byte i holds bits 7 * (size - 1 - i) and up; all but the first are flagged.
        let shift = 7 * (size - 1 - i);
        *byte = ((len >> shift) & 127) as u8 | if i == 0 { 0 } else { 128 };
    }
    (out, size)
}

impl<'a> Iterator for Listpack<'a> {
    /// Each entry with its offset in the structure.
    type Item = Result<(usize, Item<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.pos;
        match self.step() {
            Ok(item) => item.map(|item| Ok((at, item))),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
