//! Reads RESP2 replies just far enough to tell success from error: an applied batch needs the
//! errors (with their text) and the shape of `EXEC`'s reply, never the values themselves.

use redis::{ErrorKind, RedisError, Value};

/// Arrays nested deeper than this are refused: parsing them (and dropping them) recurses once
/// per level, and no command slotstream sends gets a reply anywhere near as deep.
const MAX_DEPTH: usize = 128;

/// Parses one reply at the start of `buf`: the reply and the bytes it took, or `None` when
/// `buf` does not hold all of it yet. Any success is [`Value::Okay`], an error its
/// [`Value::ServerError`], an array [`Value::Array`] of its elements, a nil [`Value::Nil`].
pub fn parse(buf: &[u8]) -> Result<Option<(Value, usize)>, RedisError> {
    parse_nested(buf, 0)
}

/// [`parse`] inside `depth` arrays.
fn parse_nested(buf: &[u8], depth: usize) -> Result<Option<(Value, usize)>, RedisError> {
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let line = &buf[..line_end.saturating_sub(1)];
    let after = line_end + 1;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(bad("an empty reply line"));
    };
    match kind {
        b'+' | b':' => Ok(Some((Value::Okay, after))),
        b'-' => Ok(Some((redis::parse_redis_value(&buf[..after])?, after))),
        b'$' => {
            let len = number(rest)?;
            if len < 0 {
                return Ok(Some((Value::Nil, after)));
            }
            let end = after + len as usize + 2;
            Ok((buf.len() >= end).then_some((Value::Okay, end)))
        }
        b'*' => {
            let len = number(rest)?;
            if len < 0 {
                return Ok(Some((Value::Nil, after)));
            }
            if len > 0 && depth == MAX_DEPTH {
                return Err(bad(&format!(
                    "a reply nested deeper than {MAX_DEPTH} arrays"
                )));
            }
            // Room for the elements as they arrive: a count alone reserves nothing.
            let mut items = Vec::new();
            let mut pos = after;
            for _ in 0..len {
                match parse_nested(&buf[pos..], depth + 1)? {
                    Some((item, used)) => {
                        items.push(item);
                        pos += used;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Value::Array(items), pos)))
        }
        other => Err(bad(&format!(
            "a reply of unexpected type {:?}",
            char::from(other)
        ))),
    }
}

fn number(text: &[u8]) -> Result<i64, RedisError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| bad("a malformed length"))
}

fn bad(what: &str) -> RedisError {
    RedisError::from((ErrorKind::Parse, "the target sent", what.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(mut buf: &[u8]) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some((value, used)) = parse(buf).unwrap() {
            out.push(value);
            buf = &buf[used..];
        }
        assert!(buf.is_empty(), "left over: {buf:?}");
        out
    }

    #[test]
    fn reads_every_reply_kind() {
        let replies =
            all(b"+OK\r\n:12\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n+QUEUED\r\n-WRONGTYPE bad\r\n");
        assert_eq!(replies.len(), 6);
        assert_eq!(replies[0], Value::Okay);
        assert_eq!(replies[3], Value::Nil);
        match &replies[5] {
            Value::Array(items) => match &items[1] {
                Value::ServerError(err) => assert_eq!(err.code(), "WRONGTYPE"),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn waits_for_the_rest_of_a_reply() {
        let whole = b"*2\r\n$5\r\nhello\r\n:1\r\n";
        for cut in 0..whole.len() {
            assert!(parse(&whole[..cut]).unwrap().is_none(), "cut at {cut}");
        }
        assert_eq!(parse(whole).unwrap().unwrap().1, whole.len());
    }

    #[test]
    fn refuses_what_is_not_resp2() {
        assert!(parse(b"%1\r\n").is_err());
        assert!(parse(b"$x\r\n").is_err());
    }
}
