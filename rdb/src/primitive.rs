//! RDB primitives: lengths and strings, parsed from a byte slice ("need more bytes" is
//! `Ok(None)`, not an error) and read from the cutter's `Input` either raw (copied to a sink
//! byte for byte) or decoded. The slice parsers also serve the element decoder
//! (`elements::reader`), which reads whole objects from memory.
//!
//! Length encoding (first byte's two high bits): `00` 6-bit length, `01` 14-bit length,
//! `0x80` 32-bit big-endian length, `0x81` 64-bit big-endian length, `11` a special string
//! encoding in the low 6 bits: 0/1/2 = 8/16/32-bit little-endian integer, 3 = LZF
//! (compressed length, uncompressed length, compressed bytes).

use std::io::Read;

use crate::error::RdbError;
use crate::error::RdbErrorKind;
use crate::input::Input;
use crate::lzf;

/// What a slice parser found: the value and the bytes it took, `Ok(None)` when the slice ends
/// before it can tell, or why the bytes are malformed.
pub type Parsed<T> = Result<Option<(T, usize)>, RdbErrorKind>;

/// A decoded length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// A plain length or count.
    Len(u64),
    /// `11xxxxxx`: a special string encoding (RDB_ENC_*), only valid where a string starts.
    Encoded(u8),
}

/// How a string is stored, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringHeader {
    /// `len` bytes follow verbatim.
    Raw(u64),
    /// A little-endian signed integer of 1, 2 or 4 bytes follows.
    Int(u8),
    /// `clen` LZF-compressed bytes follow that decompress to `ulen` bytes.
    Lzf { clen: u64, ulen: u64 },
}

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Parses a length field at the start of `b`: `Ok(Some((length, bytes used)))`, or `Ok(None)`
/// when `b` is too short to tell.
#[inline]
pub fn parse_length(b: &[u8]) -> Parsed<Length> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    match first >> 6 {
        0 => Ok(Some((Length::Len(u64::from(first & 0x3f)), 1))),
        1 => Ok(b.get(1).map(|&lo| {
            (
                Length::Len((u64::from(first & 0x3f) << 8) | u64::from(lo)),
                2,
            )
        })),
        3 => Ok(Some((Length::Encoded(first & 0x3f), 1))),
        _ => match first {
            0x80 => Ok(b.get(1..5).map(|s| {
                let mut v = [0u8; 4];
                v.copy_from_slice(s);
                (Length::Len(u64::from(u32::from_be_bytes(v))), 5)
            })),
            0x81 => Ok(b.get(1..9).map(|s| {
                let mut v = [0u8; 8];
                v.copy_from_slice(s);
                (Length::Len(u64::from_be_bytes(v)), 9)
            })),
            _ => Err(RdbErrorKind::InvalidLength(first)),
        },
    }
}

/// Parses a string header at the start of `b` (for LZF: both of its lengths).
#[inline]
pub fn parse_string_header(b: &[u8]) -> Parsed<StringHeader> {
    let Some((len, used)) = parse_length(b)? else {
        return Ok(None);
    };
    match len {
        Length::Len(n) => Ok(Some((StringHeader::Raw(n), used))),
        Length::Encoded(ENC_INT8) => Ok(Some((StringHeader::Int(1), used))),
        Length::Encoded(ENC_INT16) => Ok(Some((StringHeader::Int(2), used))),
        Length::Encoded(ENC_INT32) => Ok(Some((StringHeader::Int(4), used))),
        Length::Encoded(ENC_LZF) => {
            let rest = b.get(used..).unwrap_or(&[]);
            let Some((clen, used2)) = parse_plain_length(rest)? else {
                return Ok(None);
            };
            let rest = rest.get(used2..).unwrap_or(&[]);
            let Some((ulen, used3)) = parse_plain_length(rest)? else {
                return Ok(None);
            };
            Ok(Some((
                StringHeader::Lzf { clen, ulen },
                used + used2 + used3,
            )))
        }
        Length::Encoded(other) => Err(RdbErrorKind::Corrupt(format!(
            "unknown string encoding {other} (byte {:#04x})",
            0xc0 | other
        ))),
    }
}

/// A length that must not be a special encoding.
#[inline]
fn parse_plain_length(b: &[u8]) -> Parsed<u64> {
    match parse_length(b)? {
        None => Ok(None),
        Some((Length::Len(n), used)) => Ok(Some((n, used))),
        Some((Length::Encoded(e), _)) => Err(RdbErrorKind::InvalidLength(0xc0 | e)),
    }
}

/// The value of an integer-encoded string: a signed little-endian integer of 1, 2 or 4 bytes
/// ([`StringHeader::Int`] gives the width; other widths read as 0).
pub fn int_value(bytes: &[u8]) -> i64 {
    match *bytes {
        [a] => i64::from(a as i8),
        [a, b] => i64::from(i16::from_le_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        _ => 0,
    }
}

impl<R: Read> Input<R> {
    /// Runs a slice parser on the buffered bytes, reading more until it can decide.
    #[inline]
    fn parse<T>(&mut self, parser: impl Fn(&[u8]) -> Parsed<T>) -> Result<(T, usize), RdbError> {
        loop {
            match parser(self.available()) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => {
                    let have = self.available().len();
                    self.fill(have + 1)?;
                }
                Err(kind) => return Err(self.error(kind)),
            }
        }
    }

    /// Reads a plain length (counts, ids, sizes).
    #[inline]
    pub(crate) fn read_length(&mut self) -> Result<u64, RdbError> {
        let (n, used) = self.parse(parse_plain_length)?;
        self.consume(used);
        Ok(n)
    }

    /// Reads a plain length and appends its raw bytes to `out`.
    #[inline]
    pub(crate) fn copy_length(&mut self, out: &mut Vec<u8>) -> Result<u64, RdbError> {
        let (n, used) = self.parse(parse_plain_length)?;
        self.copy_to(out, used as u64)?;
        Ok(n)
    }

    /// Appends one string exactly as stored (header, then payload, compressed or not) to `out`.
    #[inline]
    pub(crate) fn copy_string(&mut self, out: &mut Vec<u8>) -> Result<(), RdbError> {
        let (header, used) = self.parse(parse_string_header)?;
        let payload = match header {
            StringHeader::Raw(n) => n,
            StringHeader::Int(n) => u64::from(n),
            StringHeader::Lzf { clen, .. } => clen,
        };
        // The limit is checked once for the whole string, before anything is consumed, so a
        // string too large is refused at the same offset with the same size however the bytes
        // arrive. It is reserved at once when already buffered (the common case for small
        // values), so `out` does not grow twice; otherwise `out` grows only as bytes arrive.
        let whole = self.check_room(out.len(), (used as u64).saturating_add(payload))?;
        if whole <= self.available().len() {
            out.reserve(whole);
        }
        self.copy_to(out, used as u64)?;
        self.copy_to(out, payload)
    }

    /// Reads one string and returns its value: integers as decimal text, LZF decompressed.
    pub(crate) fn read_string(&mut self) -> Result<Vec<u8>, RdbError> {
        let (header, used) = self.parse(parse_string_header)?;
        self.consume(used);
        match header {
            StringHeader::Raw(n) => {
                let mut out = Vec::new();
                if n <= self.available().len() as u64 {
                    out.reserve_exact(n as usize);
                }
                self.copy_to(&mut out, n)?;
                Ok(out)
            }
            StringHeader::Int(n) => {
                let mut raw = [0u8; 4];
                let width = usize::from(n).min(4);
                self.fill(width)?;
                if let (Some(dst), Some(src)) =
                    (raw.get_mut(..width), self.available().get(..width))
                {
                    dst.copy_from_slice(src);
                }
                self.consume(width);
                Ok(int_value(raw.get(..width).unwrap_or(&[]))
                    .to_string()
                    .into_bytes())
            }
            StringHeader::Lzf { clen, ulen } => {
                let ulen = self.check_room(0, ulen)?;
                let mut compressed = Vec::new();
                self.copy_to(&mut compressed, clen)?;
                let mut out = Vec::new();
                lzf::decompress(&compressed, ulen, &mut out).map_err(|e| {
                    self.error(RdbErrorKind::Corrupt(format!(
                        "invalid LZF-compressed string: {e}"
                    )))
                })?;
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_forms() {
        assert_eq!(parse_length(&[0x05]).unwrap(), Some((Length::Len(5), 1)));
        assert_eq!(parse_length(&[0x3f]).unwrap(), Some((Length::Len(63), 1)));
        assert_eq!(
            parse_length(&[0x41, 0x02]).unwrap(),
            Some((Length::Len(0x102), 2))
        );
        assert_eq!(
            parse_length(&[0x7f, 0xff]).unwrap(),
            Some((Length::Len(16383), 2))
        );
        assert_eq!(
            parse_length(&[0x80, 0, 1, 0, 0]).unwrap(),
            Some((Length::Len(65536), 5))
        );
        assert_eq!(
            parse_length(&[0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0xaa]).unwrap(),
            Some((Length::Len(1 << 32), 9))
        );
        assert_eq!(
            parse_length(&[0xc3]).unwrap(),
            Some((Length::Encoded(3), 1))
        );
        assert!(matches!(
            parse_length(&[0x82]),
            Err(RdbErrorKind::InvalidLength(0x82))
        ));
        assert!(matches!(
            parse_length(&[0xbf]),
            Err(RdbErrorKind::InvalidLength(0xbf))
        ));
    }

    #[test]
    fn short_input_needs_more() {
        assert_eq!(parse_length(&[]).unwrap(), None);
        assert_eq!(parse_length(&[0x41]).unwrap(), None);
        assert_eq!(parse_length(&[0x80, 0, 0, 0]).unwrap(), None);
        assert_eq!(parse_length(&[0x81, 0, 0, 0, 0, 0, 0, 0]).unwrap(), None);
        assert_eq!(parse_string_header(&[0xc3, 0x05]).unwrap(), None);
        assert_eq!(parse_string_header(&[0xc3, 0x41]).unwrap(), None);
    }

    #[test]
    fn string_headers() {
        assert_eq!(
            parse_string_header(&[0x03, b'a']).unwrap(),
            Some((StringHeader::Raw(3), 1))
        );
        assert_eq!(
            parse_string_header(&[0xc0]).unwrap(),
            Some((StringHeader::Int(1), 1))
        );
        assert_eq!(
            parse_string_header(&[0xc1]).unwrap(),
            Some((StringHeader::Int(2), 1))
        );
        assert_eq!(
            parse_string_header(&[0xc2]).unwrap(),
            Some((StringHeader::Int(4), 1))
        );
        assert_eq!(
            parse_string_header(&[0xc3, 0x05, 0x40, 0x20]).unwrap(),
            Some((StringHeader::Lzf { clen: 5, ulen: 32 }, 4))
        );
        assert!(matches!(
            parse_string_header(&[0xc4]),
            Err(RdbErrorKind::Corrupt(_))
        ));
        assert!(matches!(
            parse_string_header(&[0xc3, 0xc0, 0x01]),
            Err(RdbErrorKind::InvalidLength(0xc0))
        ));
    }

    #[test]
    fn int_strings_decode_to_decimal() {
        assert_eq!(int_value(&[0xff]), -1);
        assert_eq!(int_value(&[0x39, 0x30]), 12345);
        assert_eq!(int_value(&[0x00, 0x00, 0x00, 0x80]), i64::from(i32::MIN));
    }
}
