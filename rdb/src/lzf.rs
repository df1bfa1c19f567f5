//! LZF decompression (the format of Redis's `lzf_compress`), bounds-checked for untrusted input.
//!
//! A compressed block is a sequence of items, each starting with a control byte:
//! - `000LLLLL`: a literal run of `L + 1` bytes follows;
//! - `LLLOOOOO oooooooo`: a back reference of `L + 2` bytes starting `(O << 8) + o + 1` bytes
//!   back in the output; `L == 7` means one more byte follows with `L - 7`, i.e. the length is
//!   `7 + next + 2`.

/// Why a block could not be decompressed. `at` is the byte of the compressed input where the
/// item at fault starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LzfError {
    /// The input ends inside an item.
    #[error("the item at byte {at} of the compressed data is cut short")]
    Truncated { at: usize },
    /// A back reference points before the start of the output.
    #[error(
        "the back reference at byte {at} of the compressed data reaches {distance} bytes back, \
         with only {available} bytes decoded"
    )]
    BadReference {
        at: usize,
        distance: usize,
        available: usize,
    },
    /// The output would not be exactly the declared length.
    #[error("it decompresses to {actual} bytes or more instead of the declared {expected}")]
    LengthMismatch { expected: usize, actual: usize },
}

/// Appends the decompression of `input` to `out`, which must grow by exactly `expected` bytes.
/// Memory grows with the output actually produced, never with the declared length alone.
pub fn decompress(input: &[u8], expected: usize, out: &mut Vec<u8>) -> Result<(), LzfError> {
    let base = out.len();
    // The longest item (a back reference) produces 264 bytes from 2-3 input bytes, so the
    // output is bounded by the input too: reserve no more than that.
    out.reserve(expected.min(input.len().saturating_mul(4)));
    let mut ip = 0usize;
    while let Some(&ctrl) = input.get(ip) {
        let at = ip;
        ip += 1;
        let produced = out.len() - base;
        if ctrl < 32 {
            let run = usize::from(ctrl) + 1;
            let literal = input.get(ip..ip + run).ok_or(LzfError::Truncated { at })?;
            if produced + run > expected {
                return Err(LzfError::LengthMismatch {
                    expected,
                    actual: produced + run,
                });
            }
            out.extend_from_slice(literal);
            ip += run;
        } else {
            let mut len = usize::from(ctrl >> 5);
            if len == 7 {
                len += usize::from(*input.get(ip).ok_or(LzfError::Truncated { at })?);
                ip += 1;
            }
            len += 2;
            let low = usize::from(*input.get(ip).ok_or(LzfError::Truncated { at })?);
            ip += 1;
            let distance = (usize::from(ctrl & 0x1f) << 8) + low + 1;
            if distance > produced {
                return Err(LzfError::BadReference {
                    at,
                    distance,
                    available: produced,
                });
            }
            if produced + len > expected {
                return Err(LzfError::LengthMismatch {
                    expected,
                    actual: produced + len,
                });
            }
            let from = out.len() - distance;
            if distance >= len {
                out.extend_from_within(from..from + len);
            } else {
                // Overlapping reference (a repeated pattern): each byte may be one this
                // item just wrote, so copy one at a time.
                for i in 0..len {
                    let byte = out[from + i];
                    out.push(byte);
                }
            }
        }
    }
    let actual = out.len() - base;
    if actual != expected {
        return Err(LzfError::LengthMismatch { expected, actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_back_reference() {
        // "abc" as a literal, then a 6-byte reference 3 back: "abcabcabc".
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        let mut out = Vec::new();
        decompress(&input, 9, &mut out).unwrap();
        assert_eq!(out, b"abcabcabc");
    }

    #[test]
    fn long_reference_uses_extra_length_byte() {
        // "x", then a reference 1 back of 7 + 10 + 2 = 19 bytes.
        let input = [0, b'x', 7 << 5, 10, 0];
        let mut out = b"prefix".to_vec();
        decompress(&input, 20, &mut out).unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(&out[6..], [b'x'; 20]);
    }

    #[test]
    fn rejects_bad_input() {
        let mut out = Vec::new();
        assert_eq!(
            decompress(&[5, b'a'], 6, &mut out),
            Err(LzfError::Truncated { at: 0 })
        );
        out.clear();
        assert!(matches!(
            decompress(&[0, b'a', 1 << 5, 5], 4, &mut out),
            Err(LzfError::BadReference {
                at: 2,
                distance: 6,
                available: 1
            })
        ));
        out.clear();
        assert_eq!(
            decompress(&[0, b'a', 1 << 5], 10, &mut out),
            Err(LzfError::Truncated { at: 2 })
        );
        out.clear();
        assert!(matches!(
            decompress(&[1, b'a', b'b'], 1, &mut out),
            Err(LzfError::LengthMismatch { .. })
        ));
        out.clear();
        assert!(matches!(
            decompress(&[1, b'a', b'b'], 3, &mut out),
            Err(LzfError::LengthMismatch { .. })
        ));
        out.clear();
        assert_eq!(
            decompress(&[0, b'a', 7 << 5], 10, &mut out),
            Err(LzfError::Truncated { at: 2 })
        );
        out.clear();
        assert_eq!(decompress(&[], 0, &mut out), Ok(()));
    }
}
