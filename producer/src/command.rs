//! The replication command stream: RESP arrays as the source sends them to its replicas, parsed
//! incrementally ("need more bytes" is `Ok(None)`, not an error) with their lengths, which is
//! how the replication offset advances. A [`FrameParser`] keeps what it has parsed of a command
//! that has arrived only in part, so a big command arriving in many reads is not parsed again
//! from its start on every read.

/// Largest single argument accepted from the source (Redis's own `proto-max-bulk-len` default).
pub const MAX_BULK: usize = 512 << 20;
/// Largest argument count accepted in one command.
const MAX_ARGS: usize = 1 << 20;
/// Fewest bytes one argument takes (`$0\r\n\r\n`): what a count may make us reserve is bounded
/// by the bytes at hand, not by the count alone.
const MIN_ARG_BYTES: usize = 6;
/// A length line's CR must be within this many bytes after its `*` or `$`: 20 digits hold any
/// length, and a little zero padding is tolerated.
const MAX_LENGTH_LINE: usize = 22;

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

/// Parses commands one after the other, resuming a command that has arrived only in part where
/// the previous call stopped instead of parsing it again from its start.
#[derive(Debug, Default)]
pub struct FrameParser {
    /// Argument count of the command under way, once its `*<count>` line is in.
    count: Option<usize>,
    /// Its arguments complete so far.
    args: Vec<Vec<u8>>,
    /// Bytes of it parsed so far: the count line and the complete arguments.
    at: usize,
}

impl FrameParser {
    /// Parses one command from the front of `buf`; `Ok(None)` when `buf` holds only part of it.
    /// After `Ok(None)`, the next call must be given the same bytes again, with more after
    /// them; after a command or an error, the bytes that follow it.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        let result = self.resume(buf);
        if !matches!(result, Ok(None)) {
            *self = FrameParser::default();
        }
        result
    }

    fn resume(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        let count = match self.count {
            Some(count) => count,
            None => {
                let Some((count, at)) = parse_header(buf, 0, b'*')? else {
                    return Ok(None);
                };
                if count > MAX_ARGS {
                    return Err(FrameError {
                        at: 0,
                        what: format!("{count} arguments"),
                    });
                }
                // No more than the bytes at hand can hold: the rest grows as they arrive.
                let room = buf.len().saturating_sub(at) / MIN_ARG_BYTES;
                self.args = Vec::with_capacity(count.min(room));
                self.count = Some(count);
                self.at = at;
                count
            }
        };
        while self.args.len() < count {
            let at = self.at;
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
            self.args.push(buf[start..end].to_vec());
            self.at = end + 2;
        }
        Ok(Some(Frame {
            args: std::mem::take(&mut self.args),
            len: self.at,
        }))
    }
}

/// Parses one command from the front of `buf`; `Ok(None)` when `buf` holds only part of it.
pub fn parse_frame(buf: &[u8]) -> Result<Option<Frame>, FrameError> {
    FrameParser::default().parse(buf)
}

/// Parses `<kind><decimal>\r\n` at `at`: the number and where the next byte is. A line cut
/// short by the end of `buf` is waited on unless the line is refused whatever follows, so
/// where reads happen to end never turns a valid line into an error or the reverse.
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
    let rest = buf.get(digits_start..).unwrap_or_default();
    let window = &rest[..rest.len().min(MAX_LENGTH_LINE)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        if window.len() == MAX_LENGTH_LINE {
            return Err(FrameError {
                at,
                what: "length line too long".into(),
            });
        }
        return Ok(None);
    };
    let digits = &window[..cr];
    let bad = || FrameError {
        at,
        what: format!("bad length line {:?}", String::from_utf8_lossy(digits)),
    };
    let number = std::str::from_utf8(digits)
        .ok()
        .filter(|d| !d.is_empty())
        .and_then(|d| d.parse::<usize>().ok())
        .ok_or_else(bad)?;
    // The LF may be past the window: the CR may be its last byte.
    match rest.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((number, digits_start + cr + 2))),
        Some(_) => Err(bad()),
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
    fn length_line_with_its_cr_at_the_last_byte_allowed() {
        // 21 digits: the CR is the 22nd byte after the `$`, the LF the 23rd.
        let stream = b"*1\r\n$000000000000000000001\r\nx\r\n";
        let frame = parse_frame(stream).unwrap().unwrap();
        assert_eq!((frame.args, frame.len), (vec![b"x".to_vec()], stream.len()));
        let cr = stream.iter().skip(5).position(|&b| b == b'\r').unwrap() + 5;
        assert_eq!(parse_frame(&stream[..=cr]).unwrap(), None);
        // One digit more: refused, whether its CR has arrived or not.
        let long = b"*1\r\n$0000000000000000000001\r\nx\r\n";
        for cut in [long.len(), 4 + 23, 4 + 24] {
            let e = parse_frame(&long[..cut]).unwrap_err();
            assert_eq!((e.at, e.what.as_str()), (4, "length line too long"));
        }
        // A CR followed by anything but LF.
        assert!(parse_frame(b"*1\r\n$000000000000000000001\rx").is_err());
        assert!(parse_frame(b"*1\r\n$1\rx").is_err());
    }

    #[test]
    fn a_large_count_reserves_no_more_than_the_bytes_at_hand_can_hold() {
        let mut parser = FrameParser::default();
        let header = format!("*{MAX_ARGS}\r\n$1\r\nx\r\n$1\r\n");
        assert_eq!(parser.parse(header.as_bytes()).unwrap(), None);
        assert_eq!(parser.args.len(), 1);
        assert!(parser.args.capacity() <= 4, "{}", parser.args.capacity());
    }

    /// `count` arguments of various lengths, as one command.
    fn big_command(count: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
        let args: Vec<Vec<u8>> = (0..count)
            .map(|i| format!("{i}").repeat(i % 7).into_bytes())
            .collect();
        let mut stream = format!("*{count}\r\n").into_bytes();
        for arg in &args {
            stream.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            stream.extend_from_slice(arg);
            stream.extend_from_slice(b"\r\n");
        }
        (args, stream)
    }

    #[test]
    fn a_big_command_in_small_reads_is_resumed_not_parsed_again() {
        let (args, mut stream) = big_command(50_000);
        let big_len = stream.len();
        stream.extend_from_slice(SET);
        // As the follow loop does: append each read, take complete commands from the front.
        let (mut parser, mut pending, mut frames) = (FrameParser::default(), Vec::new(), vec![]);
        for read in stream.chunks(1000) {
            pending.extend_from_slice(read);
            let mut consumed = 0;
            while let Some(frame) = parser.parse(&pending[consumed..]).unwrap() {
                consumed += frame.len;
                frames.push(frame);
            }
            pending.drain(..consumed);
            // Only the argument under way is left to parse: its length line, bytes and CRLF.
            if parser.count.is_some() {
                assert!(pending.len() - parser.at <= MAX_LENGTH_LINE + 2 + 6 * 5 + 2);
            }
        }
        assert!(pending.is_empty());
        assert_eq!(frames.len(), 2);
        assert_eq!((&frames[0].args, frames[0].len), (&args, big_len));
        assert_eq!(frames[1], parse_frame(SET).unwrap().unwrap());
    }

    #[test]
    fn a_parser_starts_afresh_after_an_error() {
        let mut parser = FrameParser::default();
        assert_eq!(parser.parse(b"*2\r\n$1\r\na\r\n").unwrap(), None);
        assert!(parser.parse(b"*2\r\n$1\r\na\r\n:1\r\n").is_err());
        assert_eq!(parser.parse(SET).unwrap(), parse_frame(SET).unwrap());
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
