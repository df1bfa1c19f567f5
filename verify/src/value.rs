//! Reading values: element counts, small values of many keys in one pipeline, big values page by page.

use crate::error::VerifyError;
use crate::reply::{bulk_list, int_of, is_wrong_type};
use crate::side::{KeyType, Side};
use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};

/// Strings up to this many bytes are read in the shared pipeline; longer ones on their own.
const SMALL_STRING_BYTES: u64 = 1 << 20;
/// Collections up to this many elements are read in the shared pipeline.
const SMALL_ELEMENTS: u64 = 1000;
/// Rough bytes budget of one shared pipeline, so that a batch of fat keys does not pile up.
const PIPELINE_BUDGET_BYTES: u64 = 16 << 20;
/// Elements per `LRANGE`/`ZRANGE` page and `COUNT` hint per `SSCAN`/`HSCAN` call.
const PAGE: i64 = 10_000;

/// A value in a form that compares by content, independent of the server's encoding.
#[derive(Debug, PartialEq, Eq)]
pub enum Content {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    /// Sorted and deduplicated (SSCAN may return a member twice).
    Set(Vec<Vec<u8>>),
    /// Sorted by field.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// Sorted by member; scores in one canonical text (see `zset`).
    ZSet(Vec<(Vec<u8>, Vec<u8>)>),
    /// The key went away, or changed type, between `TYPE` and the read.
    Missing,
}

/// The command that counts a key's elements (bytes for strings).
fn length_command(kind: &KeyType) -> Option<&'static str> {
    match kind {
        KeyType::String => Some("STRLEN"),
        KeyType::List => Some("LLEN"),
        KeyType::Set => Some("SCARD"),
        KeyType::ZSet => Some("ZCARD"),
        KeyType::Hash => Some("HLEN"),
        KeyType::Stream => Some("XLEN"),
        KeyType::None | KeyType::Other(_) => None,
    }
}

/// Whether a key of this type and length is read in the shared pipeline.
pub fn is_small(kind: &KeyType, len: u64) -> bool {
    match kind {
        KeyType::String => len <= SMALL_STRING_BYTES,
        KeyType::List | KeyType::Set | KeyType::ZSet | KeyType::Hash => len <= SMALL_ELEMENTS,
        _ => false,
    }
}

/// A rough size in bytes, to split the shared pipeline.
pub fn estimated_bytes(kind: &KeyType, len: u64) -> u64 {
    match kind {
        KeyType::String => len,
        _ => len.saturating_mul(64),
    }
}

/// True when `bytes` more would overflow one shared pipeline already holding `used`.
pub fn over_budget(used: u64, bytes: u64) -> bool {
    used > 0 && used.saturating_add(bytes) > PIPELINE_BUDGET_BYTES
}

/// The length of each key (see [`length_command`]); `None` for module types and for keys that
/// changed type or went away since `TYPE`.
pub async fn lengths(
    side: &Side,
    conn: &mut MultiplexedConnection,
    keys: &[(&[u8], &KeyType)],
) -> Result<Vec<Option<u64>>, VerifyError> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    let mut asked = 0;
    for (key, kind) in keys {
        if let Some(command) = length_command(kind) {
            pipe.cmd(command).arg(*key);
            asked += 1;
        }
    }
    if asked == 0 {
        return Ok(vec![None; keys.len()]);
    }
    let replies: Vec<Value> = pipe
        .query_async(conn)
        .await
        .map_err(|err| side.explain(err))?;
    let mut replies = replies.into_iter();
    Ok(keys
        .iter()
        .map(|(_, kind)| {
            length_command(kind)?;
            replies
                .next()
                .and_then(|reply| int_of(&reply))
                .and_then(|n| u64::try_from(n).ok())
        })
        .collect())
}

/// The whole value of each small key, in one pipeline.
pub async fn read_small(
    side: &Side,
    conn: &mut MultiplexedConnection,
    keys: &[(&[u8], &KeyType)],
) -> Result<Vec<Content>, VerifyError> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for (key, kind) in keys {
        match kind {
            KeyType::String => pipe.cmd("GET").arg(*key),
            KeyType::List => pipe.cmd("LRANGE").arg(*key).arg(0).arg(-1),
            KeyType::Set => pipe.cmd("SMEMBERS").arg(*key),
            KeyType::Hash => pipe.cmd("HGETALL").arg(*key),
            KeyType::ZSet => pipe
                .cmd("ZRANGE")
                .arg(*key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
            _ => pipe.cmd("EXISTS").arg(*key),
        };
    }
    let replies: Vec<Value> = pipe
        .query_async(conn)
        .await
        .map_err(|err| side.explain(err))?;
    Ok(keys
        .iter()
        .zip(replies)
        .map(|((_, kind), reply)| content_of(kind, reply))
        .collect())
}

/// Turns a whole-value reply into [`Content`]. An empty collection means the key is gone:
/// Redis deletes a collection together with its last element.
fn content_of(kind: &KeyType, reply: Value) -> Content {
    if let KeyType::String = kind {
        return match reply {
            Value::BulkString(bytes) => Content::String(bytes),
            _ => Content::Missing,
        };
    }
    let Some(items) = bulk_list(reply) else {
        return Content::Missing;
    };
    if items.is_empty() {
        return Content::Missing;
    }
    match kind {
        KeyType::List => Content::List(items),
        KeyType::Set => sorted_set(items),
        KeyType::Hash => sorted_pairs(items).map_or(Content::Missing, Content::Hash),
        KeyType::ZSet => sorted_pairs(items).map_or(Content::Missing, zset),
        _ => Content::Missing,
    }
}

/// The whole value of one key, read page by page so that no single reply is huge and the
/// server is never blocked for long. A key that changed type meanwhile reads as missing.
pub async fn read_big(
    side: &Side,
    conn: &mut MultiplexedConnection,
    key: &[u8],
    kind: &KeyType,
) -> Result<Content, VerifyError> {
    let flat = match kind {
        KeyType::String => {
            let value: RedisResult<Option<Vec<u8>>> =
                redis::cmd("GET").arg(key).query_async(conn).await;
            return match value {
                Ok(value) => Ok(value.map_or(Content::Missing, Content::String)),
                Err(err) if is_wrong_type(&err) => Ok(Content::Missing),
                Err(err) => Err(side.explain(err)),
            };
        }
        KeyType::List => read_ranges(conn, key, "LRANGE", 1).await,
        KeyType::ZSet => read_ranges(conn, key, "ZRANGE", 2).await,
        KeyType::Set => read_scan(conn, key, "SSCAN").await,
        KeyType::Hash => read_scan(conn, key, "HSCAN").await,
        _ => return Ok(Content::Missing),
    };
    let flat = match flat {
        Ok(flat) if !flat.is_empty() => flat,
        Ok(_) => return Ok(Content::Missing),
        Err(err) if is_wrong_type(&err) => return Ok(Content::Missing),
        Err(err) => return Err(side.explain(err)),
    };
    Ok(match kind {
        KeyType::List => Content::List(flat),
        KeyType::Set => sorted_set(flat),
        KeyType::Hash => sorted_pairs(flat).map_or(Content::Missing, Content::Hash),
        _ => sorted_pairs(flat).map_or(Content::Missing, zset),
    })
}

/// A sorted set with each score in one canonical text: servers print the same double
/// differently (Redis before 7.0 with 17 significant digits, `0.33333333333333331`; later ones
/// with the shortest text that reads back, `0.3333333333333333`).
fn zset(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Content {
    let canonical = |score: Vec<u8>| -> Vec<u8> {
        match std::str::from_utf8(&score)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
        {
            Some(value) => format!("{value:?}").into_bytes(),
            None => score,
        }
    };
    Content::ZSet(
        pairs
            .into_iter()
            .map(|(member, score)| (member, canonical(score)))
            .collect(),
    )
}

/// `LRANGE`/`ZRANGE ... WITHSCORES` in pages of [`PAGE`] elements of `width` replies each.
async fn read_ranges(
    conn: &mut MultiplexedConnection,
    key: &[u8],
    command: &str,
    width: usize,
) -> RedisResult<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    let mut start = 0;
    loop {
        let mut cmd = redis::cmd(command);
        cmd.arg(key).arg(start).arg(start + PAGE - 1);
        if width == 2 {
            cmd.arg("WITHSCORES");
        }
        let page: Vec<Vec<u8>> = cmd.query_async(conn).await?;
        let full = page.len() == PAGE as usize * width;
        items.extend(page);
        if !full {
            return Ok(items);
        }
        start += PAGE;
    }
}

/// `SSCAN`/`HSCAN` to the end, [`PAGE`] as the `COUNT` hint.
async fn read_scan(
    conn: &mut MultiplexedConnection,
    key: &[u8],
    command: &str,
) -> RedisResult<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<Vec<u8>>) = redis::cmd(command)
            .arg(key)
            .arg(cursor)
            .arg("COUNT")
            .arg(PAGE)
            .query_async(conn)
            .await?;
        items.extend(page);
        if next == 0 {
            return Ok(items);
        }
        cursor = next;
    }
}

fn sorted_set(mut members: Vec<Vec<u8>>) -> Content {
    members.sort_unstable();
    members.dedup();
    Content::Set(members)
}

/// Pairs up a flat `[a, b, a, b, ...]` reply and sorts it by the first element, dropping
/// repeats of the same first element (HSCAN may return a field twice).
fn sorted_pairs(flat: Vec<Vec<u8>>) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if flat.len() % 2 != 0 {
        return None;
    }
    let mut pairs = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(first), Some(second)) = (items.next(), items.next()) {
        pairs.push((first, second));
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    pairs.dedup_by(|a, b| a.0 == b.0);
    Some(pairs)
}
