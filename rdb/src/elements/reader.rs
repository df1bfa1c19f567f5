//! Reading the RDB primitives an object is made of, from memory: lengths and strings (plain,
//! integer-encoded, LZF-compressed) with the parsers and the LZF decoder the snapshot cutter
//! uses ([`crate::primitive`], [`crate::lzf`]), and what only values hold: binary and text
//! doubles, little-endian times and raw stream IDs.

use std::borrow::Cow;

use super::error::DecodeError;
use super::StreamId;
use crate::error::RdbErrorKind;
use crate::lzf;
use crate::primitive::{
    int_value, parse_length, parse_string_header, Length, Parsed, StringHeader,
};

/// A cursor over one object (or one embedded structure) that never reads past its end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A string that holds an embedded structure (ziplist, listpack, intset, zipmap).
pub(crate) struct Blob<'a> {
    pub data: Cow<'a, [u8]>,
    /// Where the string's header starts in the enclosing object.
    pub offset: usize,
    pub compressed: bool,
    pub container: &'static str,
}

impl Blob<'_> {
    /// Places an error found inside the blob.
    pub fn wrap(&self, inner: DecodeError) -> DecodeError {
        DecodeError::Within {
            container: self.container,
            offset: self.offset,
            compressed: self.compressed,
            inner: Box::new(inner),
        }
    }
}

/// How many items to reserve room for when `n` were announced: never more than the bytes left,
/// since every item takes at least one, so a corrupt count cannot allocate much.
pub(crate) fn capacity_for(n: u64, left: usize) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).min(left)
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Fails unless every byte was read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        match self.left() {
            0 => Ok(()),
            count => Err(DecodeError::Trailing {
                what,
                offset: self.pos,
                count,
            }),
        }
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let left = self.left();
        let end = usize::try_from(n)
            .ok()
            .filter(|&n| n <= left)
            .map(|n| self.pos + n);
        match end.and_then(|end| self.buf.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(DecodeError::truncated(what, self.pos, n, left)),
        }
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N as u64, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    /// An 8-byte little-endian signed integer (millisecond times).
    pub fn i64_le(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// An 8-byte little-endian IEEE 754 double (scores of RDB type 5).
    pub fn f64_le(&mut self, what: &'static str) -> Result<f64, DecodeError> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    /// A stream ID as 16 raw bytes: milliseconds then sequence, both big-endian.
    pub fn raw_stream_id(&mut self, what: &'static str) -> Result<StreamId, DecodeError> {
        let raw: [u8; 16] = self.array(what)?;
        Ok(StreamId::from_be_bytes(raw))
    }

    /// Runs one of the shared slice parsers at the cursor and moves past what it read. A
    /// header cut short by the end of the object is reported without a size (it is not known).
    fn header<T>(
        &mut self,
        what: &'static str,
        parse: fn(&[u8]) -> Parsed<T>,
    ) -> Result<T, DecodeError> {
        let at = self.pos;
        let rest = self.buf.get(at..).unwrap_or_default();
        match parse(rest) {
            Ok(Some((value, used))) => {
                self.pos = at + used;
                Ok(value)
            }
            Ok(None) => Err(DecodeError::truncated(what, at, 0, rest.len())),
            Err(RdbErrorKind::InvalidLength(first)) => Err(DecodeError::invalid(
                what,
                at,
                format!("{first:#04x} is not a valid length"),
            )),
            Err(RdbErrorKind::Corrupt(detail)) => Err(DecodeError::invalid(what, at, detail)),
            Err(other) => Err(DecodeError::invalid(what, at, other.to_string())),
        }
    }

    /// A plain length or count (a special string encoding here is an error).
    pub fn length(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let at = self.pos;
        match self.header(what, parse_length)? {
            Length::Len(n) => Ok(n),
            Length::Encoded(enc) => Err(DecodeError::invalid(
                what,
                at,
                format!("a string encoding ({enc}) where a plain length belongs"),
            )),
        }
    }

    /// A string's value: plain bytes are borrowed, integers become decimal text, LZF is expanded.
    pub fn string(&mut self, what: &'static str) -> Result<Cow<'a, [u8]>, DecodeError> {
        let at = self.pos;
        match self.header(what, parse_string_header)? {
            StringHeader::Raw(n) => Ok(Cow::Borrowed(self.bytes(n, what)?)),
            StringHeader::Int(width) => Ok(decimal(int_value(self.bytes(u64::from(width), what)?))),
            StringHeader::Lzf { clen, ulen } => {
                let compressed = self.bytes(clen, what)?;
                let ulen = usize::try_from(ulen).map_err(|_| {
                    DecodeError::invalid(what, at, format!("an LZF length of {ulen} bytes"))
                })?;
                let mut out = Vec::new();
                lzf::decompress(compressed, ulen, &mut out)
                    .map_err(|e| DecodeError::invalid(what, at, format!("LZF data: {e}")))?;
                Ok(Cow::Owned(out))
            }
        }
    }

    /// A string that holds an embedded structure named `container`.
    pub fn blob(&mut self, container: &'static str) -> Result<Blob<'a>, DecodeError> {
        let offset = self.pos;
        let compressed = self.buf.get(offset) == Some(&0xc3);
        let data = self.string(container)?;
        Ok(Blob {
            compressed,
            data,
            offset,
            container,
        })
    }

    /// A double as text (scores of RDB type 3): a length byte, then that many ASCII bytes;
    /// 253, 254 and 255 stand for NaN, +inf and -inf with nothing after them.
    pub fn text_double(&mut self, what: &'static str) -> Result<f64, DecodeError> {
        let at = self.pos;
        match self.u8(what)? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.bytes(u64::from(len), what)?;
                parse_double(text).ok_or_else(|| {
                    DecodeError::invalid(
                        what,
                        at,
                        format!("{:?} is not a number", String::from_utf8_lossy(text)),
                    )
                })
            }
        }
    }
}

/// The first `len` bytes of a ziplist or listpack, whose first 4 (little-endian) must give the
/// length of the whole structure.
pub(crate) fn sized_header<'a>(
    buf: &'a [u8],
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], DecodeError> {
    let header = buf
        .get(..len)
        .ok_or_else(|| DecodeError::truncated(what, 0, len as u64 + 1, buf.len()))?;
    let total = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if u64::from(total) != buf.len() as u64 {
        return Err(DecodeError::invalid(
            what,
            0,
            format!("it says {total} bytes, the string holds {}", buf.len()),
        ));
    }
    Ok(header)
}

/// The decimal text of an integer, as Redis returns integer-encoded strings.
pub(crate) fn decimal(n: i64) -> Cow<'static, [u8]> {
    Cow::Owned(n.to_string().into_bytes())
}

/// A double written as text by Redis (`%.17g`, `inf`, `-inf`, shortest round-trip forms).
pub(crate) fn parse_double(text: &[u8]) -> Option<f64> {
    std::str::from_utf8(text).ok()?.parse::<f64>().ok()
}

/// An integer written as decimal text, strictly (as Redis's `string2ll`: no spaces, no `+`).
pub(crate) fn parse_int(text: &[u8]) -> Option<i64> {
    if text.first() == Some(&b'+') {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse::<i64>().ok()
}
