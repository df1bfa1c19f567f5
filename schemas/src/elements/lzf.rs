//! LZF decompression (the format of Redis's `lzf_compress`), checked for untrusted input.
//!
//! A compressed block is a run of items, each led by a control byte `c`:
//! - `c < 32`: a literal of `c + 1` bytes follows;
//! - otherwise a back reference: length `(c >> 5) + 2` (when `c >> 5` is 7, one more byte is
//!   added to it), then one byte `b`, distance `((c & 31) << 8) + b + 1` back in the output.

/// Decompresses `input`, which must expand to exactly `expected` bytes. The error says what
/// went wrong and at which byte of `input`.
pub(crate) fn decompress(input: &[u8], expected: usize) -> Result<Vec<u8>, (usize, String)> {
    // A reference turns 3 bytes into at most 264: never reserve more than the input allows.
    let mut out: Vec<u8> = Vec::with_capacity(expected.min(input.len().saturating_mul(88)));
    let mut ip = 0;
    while let Some(&ctrl) = input.get(ip) {
        let at = ip;
        ip += 1;
        let produce = if ctrl < 32 {
            usize::from(ctrl) + 1
        } else {
            let mut len = usize::from(ctrl >> 5);
            if len == 7 {
                len += usize::from(
                    *input
                        .get(ip)
                        .ok_or((at, "a reference is cut short".into()))?,
                );
                ip += 1;
            }
            len + 2
        };
        if out.len() + produce > expected {
            return Err((
                at,
                format!("the output grows past the declared {expected} bytes"),
            ));
        }
        if ctrl < 32 {
            let literal = input
                .get(ip..ip + produce)
                .ok_or((at, format!("a literal of {produce} bytes is cut short")))?;
            out.extend_from_slice(literal);
            ip += produce;
        } else {
            let low = usize::from(
                *input
                    .get(ip)
                    .ok_or((at, "a reference is cut short".into()))?,
            );
            ip += 1;
            let distance = (usize::from(ctrl & 31) << 8) + low + 1;
            let Some(start) = out.len().checked_sub(distance) else {
                return Err((
                    at,
                    format!("a reference reaches {distance} bytes back, before the start"),
                ));
            };
            if distance >= produce {
                out.extend_from_within(start..start + produce);
            } else {
                // The source overlaps what this item writes (a repeated pattern): byte by byte.
                for i in start..start + produce {
                    let byte = out.get(i).copied().unwrap_or_default();
                    out.push(byte);
                }
            }
        }
    }
    if out.len() != expected {
        return Err((
            input.len(),
            format!("{} bytes decompressed instead of {expected}", out.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decompress;

    #[test]
    fn literals_and_references() {
        assert_eq!(
            decompress(&[2, b'a', b'b', b'c', 4 << 5, 2], 9).unwrap(),
            b"abcabcabc"
        );
        // A long reference with the extra length byte: 7 + 10 + 2 = 19 bytes of 'x'.
        assert_eq!(
            decompress(&[0, b'x', 7 << 5, 10, 0], 20).unwrap(),
            [b'x'; 20]
        );
        assert_eq!(decompress(&[], 0).unwrap(), b"");
    }

    #[test]
    fn rejects_bad_blocks() {
        assert!(decompress(&[5, b'a'], 6).is_err()); // literal cut short
        assert!(decompress(&[0, b'a', 1 << 5, 5], 4).is_err()); // reference before start
        assert!(decompress(&[1, b'a', b'b'], 1).is_err()); // longer than declared
        assert!(decompress(&[1, b'a', b'b'], 3).is_err()); // shorter than declared
        assert!(decompress(&[0, b'a', 7 << 5], 10).is_err()); // extra length byte missing
        assert!(decompress(&[0, b'a', 1 << 5], 10).is_err()); // distance byte missing
    }
}
