//! The replication command stream: RESP arrays as the source sends them to its replicas, parsed
//! incrementally ("need more bytes" is `Ok(None)`, not an error) with their lengths, which is
//! how the replication offset advances.

/// Largest single argument accepted from the source (Redis's own `proto-max-bulk-len` default).
pub const MAX_BULK: usize = 512 << 20;
/// Largest argument count accepted in one command.
const MAX_ARGS: usize = 1 << 20;

/// The stream does not follow RESP: the link is unusable from here on.
#[derive(Debug, thiserror::Error)]
#[error("malformed command stream at byte {at} of the frame: {what}")]
pub struct FrameError {
    pub at: usize,
    pub what: String,
}

/// One command and the number of stream bytes it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub args: Vec<Vec<u8>>,
    pub len: usize,
}

/// Parses one command from the front of `buf`; `Ok(None)` when `buf` holds only part of it.
pub fn parse_frame(buf: &[u8]) -> Result<Option<Frame>, FrameError> {
    let Some((count, mut at)) = parse_header(buf, 0, b'*')? else {
        return Ok(None);
    };
    if count > MAX_ARGS {
        return Err(FrameError {
            at: 0,
            what: format!("{count} arguments"),
        });
    }
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let Some((len, start)) = parse_header(buf, at, b'$')? else {
            return Ok(None);
        };
        if len > MAX_BULK {
            return Err(FrameError {
                at,
                what: format!("argument of {len} bytes"),
            });
        }
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(FrameError {
                at: end,
                what: "argument not followed by CRLF".into(),
            });
        }
        args.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some(Frame { args, len: at }))
}

/// Parses `<kind><decimal>\r\n` at `at`: the number and where the next byte is.
fn parse_header(buf: &[u8], at: usize, kind: u8) -> Result<Option<(usize, usize)>, FrameError> {
    let Some(&first) = buf.get(at) else {
        return Ok(None);
    };
    if first != kind {
        return Err(FrameError {
            at,
            what: format!("expected {:?}, found byte 0x{first:02x}", kind as char),
        });
    }
    let digits_start = at + 1;
    let window = &buf[digits_start..buf.len().min(digits_start + 22)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        if window.len() >= 21 {
            return Err(FrameError {
                at,
                what: "length line too long".into(),
            });
        }
        return Ok(None);
    };
    let Some(&lf) = window.get(cr + 1) else {
        return Ok(None);
    };
    let digits = &window[..cr];
    let number = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<usize>().ok())
        .filter(|_| lf == b'\n' && !digits.is_empty());
    match number {
        Some(n) => Ok(Some((n, digits_start + cr + 2))),
        None => Err(FrameError {
            at,
            what: format!("bad length line {:?}", String::from_utf8_lossy(digits)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";

    #[test]
    fn parses_a_command_and_its_length() {
        let frame = parse_frame(SET).unwrap().unwrap();
        assert_eq!(
            frame.args,
            vec![b"SET".to_vec(), b"k".to_vec(), b"hello".to_vec()]
        );
        assert_eq!(frame.len, SET.len());
    }

    #[test]
    fn every_prefix_needs_more_bytes() {
        for cut in 0..SET.len() {
            assert_eq!(parse_frame(&SET[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn binary_and_empty_arguments() {
        let frame = parse_frame(b"*2\r\n$0\r\n\r\n$2\r\n\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(frame.args, vec![b"".to_vec(), b"\r\n".to_vec()]);
    }

    #[test]
    fn junk_is_an_error_not_a_panic() {
        for junk in [
            &b"+OK\r\n"[..],
            b"*x\r\n",
            b"*1\r\n:1\r\n",
            b"*1\r\n$3\r\nabcde",
            b"*-1\r\n",
        ] {
            assert!(parse_frame(junk).is_err(), "{junk:?}");
        }
    }
}
