//! Walking a ziplist (Redis before 7.0: small hashes, sorted sets and lists, quicklist nodes).
//!
//! Layout: total bytes (u32 LE), offset of the last entry (u32 LE), entry count (u16 LE,
//! 65535 = unknown), entries, `0xff`. An entry is the previous entry's length (1 byte, or
//! `0xfe` + u32 LE), an encoding, then data: `00xxxxxx` string of up to 63 bytes,
//! `01xxxxxx` + 1 byte (14-bit big-endian length), `10000000` + u32 big-endian length;
//! `0xc0`/`0xd0`/`0xe0`/`0xf0`/`0xfe` 16/32/64/24/8-bit little-endian ints; `0xf1`..`0xfd`
//! the immediate values 0 to 12.

use super::error::DecodeError;
use super::listpack::Item;
use super::reader::sized_header;

/// The entries of a ziplist, in order; stops after the first error.
pub(crate) struct Ziplist<'a> {
    buf: &'a [u8],
    pos: usize,
    tail: usize,
    declared: u16,
    seen: u64,
    /// Length of the previous entry, which the next one must repeat.
    prev_len: usize,
    prev_at: usize,
    done: bool,
}

const HEADER: usize = 10;

impl<'a> Ziplist<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let h = sized_header(buf, HEADER, "ziplist header")?;
        Ok(Ziplist {
            buf,
            pos: HEADER,
            tail: u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize,
            declared: u16::from_le_bytes([h[8], h[9]]),
            seen: 0,
            prev_len: 0,
            prev_at: HEADER,
            done: false,
        })
    }

    fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn cut_short(&self, needed: usize) -> DecodeError {
        DecodeError::truncated("ziplist entry", self.pos, needed as u64, self.left())
    }

    /// Bytes `from..from + n` of the entry at the cursor.
    fn get(&self, from: usize, n: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.pos + from;
        start
            .checked_add(n)
            .and_then(|end| self.buf.get(start..end))
            .ok_or_else(|| self.cut_short(from.saturating_add(n)))
    }

    fn int_le(&self, from: usize, n: usize) -> Result<i64, DecodeError> {
        let mut raw = [0u8; 8];
        raw[..n].copy_from_slice(self.get(from, n)?);
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(raw) << shift) >> shift)
    }

    fn step(&mut self) -> Result<Option<Item<'a>>, DecodeError> {
        let at = self.pos;
        let first = *self.get(0, 1)?.first().unwrap_or(&0);
        if first == 0xff {
            return self.end().map(|()| None);
        }
        let (prev, p) = if first == 0xfe {
            let raw = self.get(1, 4)?;
            (
                u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize,
                5,
            )
        } else {
            (usize::from(first), 1)
        };
        if prev != self.prev_len {
            return Err(DecodeError::invalid(
                "ziplist entry",
                at,
                format!(
                    "it says the previous entry has {prev} bytes, not {}",
                    self.prev_len
                ),
            ));
        }
        let e = *self.get(p, 1)?.first().unwrap_or(&0);
        let (item, len) = match e >> 6 {
            0 => self.string(p + 1, usize::from(e & 0x3f))?,
            1 => {
                let low = *self.get(p + 1, 1)?.first().unwrap_or(&0);
                self.string(p + 2, usize::from(e & 0x3f) << 8 | usize::from(low))?
            }
            2 => {
                let raw = self.get(p + 1, 4)?;
                let n = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
                self.string(p + 5, usize::try_from(n).unwrap_or(usize::MAX))?
            }
            _ => match e {
                0xc0 => (Item::Int(self.int_le(p + 1, 2)?), p + 3),
                0xd0 => (Item::Int(self.int_le(p + 1, 4)?), p + 5),
                0xe0 => (Item::Int(self.int_le(p + 1, 8)?), p + 9),
                0xf0 => (Item::Int(self.int_le(p + 1, 3)?), p + 4),
                0xfe => (Item::Int(self.int_le(p + 1, 1)?), p + 2),
                0xf1..=0xfd => (Item::Int(i64::from(e & 0x0f) - 1), p + 1),
                _ => {
                    return Err(DecodeError::invalid(
                        "ziplist entry",
                        at,
                        format!("unknown encoding byte {e:#04x}"),
                    ))
                }
            },
        };
        self.prev_at = at;
        self.prev_len = len;
        self.pos = at + len;
        self.seen += 1;
        Ok(Some(item))
    }

    /// A string of `n` bytes from `from`: the item and the entry's whole length.
    fn string(&self, from: usize, n: usize) -> Result<(Item<'a>, usize), DecodeError> {
        Ok((Item::Bytes(self.get(from, n)?), from + n))
    }

    /// Checks the end marker against the header.
    fn end(&mut self) -> Result<(), DecodeError> {
        self.done = true;
        let at = self.pos;
        if at + 1 != self.buf.len() {
            return Err(DecodeError::Trailing {
                what: "ziplist",
                offset: at + 1,
                count: self.buf.len() - at - 1,
            });
        }
        if self.declared != u16::MAX && u64::from(self.declared) != self.seen {
            return Err(DecodeError::invalid(
                "ziplist header",
                8,
                format!(
                    "it counts {} entries, there are {}",
                    self.declared, self.seen
                ),
            ));
        }
        if self.tail != self.prev_at {
            return Err(DecodeError::invalid(
                "ziplist header",
                4,
                format!(
                    "it puts the last entry at {}, it is at {}",
                    self.tail, self.prev_at
                ),
            ));
        }
        Ok(())
    }
}

impl<'a> Iterator for Ziplist<'a> {
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
