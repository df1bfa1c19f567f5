//! Reading a zipmap (hashes saved by Redis 2.4 and older, RDB type 9).
//!
//! Layout: a count byte (254 and up: unknown), then pairs `<len>key <len><free>value` with
//! `<free>` unused bytes after the value, then `0xff`. A `<len>` is one byte below 254, or
//! `0xfe` and a u32 little-endian length.

use super::error::DecodeError;

/// A field and its value.
pub(crate) type Pair<'a> = (&'a [u8], &'a [u8]);

/// The (field, value) pairs of a zipmap.
pub(crate) fn zipmap(buf: &[u8]) -> Result<Vec<Pair<'_>>, DecodeError> {
    let mut pos = 1;
    let declared = *buf
        .first()
        .ok_or_else(|| DecodeError::truncated("zipmap header", 0, 2, 0))?;
    let mut pairs = Vec::with_capacity(usize::from(declared).min(buf.len() / 3));
    loop {
        let at = pos;
        let take = |from: usize, n: usize| {
            from.checked_add(n)
                .and_then(|end| buf.get(from..end))
                .ok_or_else(|| {
                    DecodeError::truncated(
                        "zipmap entry",
                        at,
                        (from - at + n) as u64,
                        buf.len() - at,
                    )
                })
        };
        let len_at = |from: usize| -> Result<(usize, usize), DecodeError> {
            match take(from, 1)?.first().copied().unwrap_or(0) {
                254 => {
                    let raw = take(from + 1, 4)?;
                    Ok((
                        u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize,
                        5,
                    ))
                }
                255 => Err(DecodeError::invalid(
                    "zipmap entry",
                    at,
                    "a value length of 255",
                )),
                n => Ok((usize::from(n), 1)),
            }
        };
        if take(pos, 1)? == [255] {
            if pos + 1 != buf.len() {
                return Err(DecodeError::Trailing {
                    what: "zipmap",
                    offset: pos + 1,
                    count: buf.len() - pos - 1,
                });
            }
            break;
        }
        let (klen, kh) = len_at(pos)?;
        let key = take(pos + kh, klen)?;
        pos += kh + klen;
        let (vlen, vh) = len_at(pos)?;
        let free = usize::from(take(pos + vh, 1)?.first().copied().unwrap_or(0));
        let value = take(pos + vh + 1, vlen)?;
        take(pos + vh + 1 + vlen, free)?;
        pos += vh + 1 + vlen + free;
        pairs.push((key, value));
    }
    if declared < 254 && usize::from(declared) != pairs.len() {
        return Err(DecodeError::invalid(
            "zipmap header",
            0,
            format!("it counts {declared} pairs, there are {}", pairs.len()),
        ));
    }
    Ok(pairs)
}
