//! Comparing one key's two sides: expiry, contents by type, and module types.

use super::keyspace::Side;
use super::report::escape;
use super::value::Content;
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::cmp::Ordering;

/// Longest rendering of a member or field inside a reason.
const REASON_ITEM_CHARS: usize = 60;

/// The verdict on one key's value.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Differs(String),
    /// One side lost the key (or its type) while it was being read: check it again.
    Vanished,
    /// Only a weaker check was possible (e.g. a module type whose payloads differ); not a difference.
    Warning(String),
}

/// Compares two absolute expiry times (Unix ms). `now` turns them into TTLs for the reason.
pub fn compare_ttl(
    source: Option<i64>,
    target: Option<i64>,
    tolerance_ms: u64,
    now: i64,
) -> Option<String> {
    let remaining = |at: Option<i64>| at.map_or("none".to_string(), |at| (at - now).to_string());
    match (source, target) {
        (None, None) => None,
        (Some(a), Some(b)) if a.abs_diff(b) <= tolerance_ms => None,
        (Some(a), Some(b)) => Some(format!(
            "ttl {} vs {} (expiry differs by {} ms)",
            remaining(Some(a)),
            remaining(Some(b)),
            a.abs_diff(b)
        )),
        _ => Some(format!(
            "ttl {} vs {}",
            remaining(source),
            remaining(target)
        )),
    }
}

/// Compares two values read by [`super::value`].
pub fn compare_content(source: &Content, target: &Content) -> Outcome {
    match (source, target) {
        (Content::String(a), Content::String(b)) => compare_strings(a, b),
        (Content::List(a), Content::List(b)) => compare_lists(a, b),
        (Content::Set(a), Content::Set(b)) => count_reason("set member count", a.len(), b.len())
            .unwrap_or_else(|| {
                first_missing(a, b, |x| x, "set member").map_or(Outcome::Same, Outcome::Differs)
            }),
        (Content::Hash(a), Content::Hash(b)) => count_reason("hash field count", a.len(), b.len())
            .unwrap_or_else(|| compare_pairs(a, b, "hash field", "value")),
        (Content::ZSet(a), Content::ZSet(b)) => count_reason("zset member count", a.len(), b.len())
            .unwrap_or_else(|| compare_pairs(a, b, "zset member", "score")),
        _ => Outcome::Vanished,
    }
}

fn count_reason(what: &str, a: usize, b: usize) -> Option<Outcome> {
    (a != b).then(|| Outcome::Differs(format!("{what} {a} vs {b}")))
}

fn compare_strings(a: &[u8], b: &[u8]) -> Outcome {
    if a.len() != b.len() {
        return Outcome::Differs(format!("string length {} vs {}", a.len(), b.len()));
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => Outcome::Same,
        Some(at) => Outcome::Differs(format!("string differs at byte {at} of {}", a.len())),
    }
}

fn compare_lists(a: &[Vec<u8>], b: &[Vec<u8>]) -> Outcome {
    if let Some(reason) = count_reason("list length", a.len(), b.len()) {
        return reason;
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => Outcome::Same,
        Some(at) => Outcome::Differs(format!(
            "list element {at}: {} vs {}",
            item(&a[at]),
            item(&b[at])
        )),
    }
}

/// Walks two sorted sequences and names the first element found on one side only.
fn first_missing<T>(a: &[T], b: &[T], id: impl Fn(&T) -> &Vec<u8>, what: &str) -> Option<String> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => id(x).cmp(id(y)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Equal => (i, j) = (i + 1, j + 1),
            Ordering::Less => return Some(format!("{what} {} only on source", item(id(&a[i])))),
            Ordering::Greater => return Some(format!("{what} {} only on target", item(id(&b[j])))),
        }
    }
    None
}

/// Compares two field-sorted pair lists of the same length: names a field found on one side
/// only, else the first field whose value differs.
fn compare_pairs(
    a: &[(Vec<u8>, Vec<u8>)],
    b: &[(Vec<u8>, Vec<u8>)],
    what: &str,
    value_name: &str,
) -> Outcome {
    if let Some(reason) = first_missing(a, b, |pair| &pair.0, what) {
        return Outcome::Differs(reason);
    }
    match a.iter().zip(b).find(|(x, y)| x.1 != y.1) {
        None => Outcome::Same,
        Some((x, y)) => Outcome::Differs(format!(
            "{what} {} {value_name} {} vs {}",
            item(&x.0),
            item(&x.1),
            item(&y.1)
        )),
    }
}

/// A member or field as it is named in a reason: quoted, escaped and cut short.
pub fn item(bytes: &[u8]) -> String {
    format!("\"{}\"", escape(bytes, REASON_ITEM_CHARS))
}

/// Content readers for module types, by `TYPE` name: the command is sent as `COMMAND key` and
/// the replies compared as they are. Types not listed here are compared by their `DUMP` payload.
/// To support another module type, add a row.
const MODULE_READERS: &[(&str, &str)] = &[("ReJSON-RL", "JSON.GET")];

/// Compares a key of a module type: with its reader when one is known, else by `DUMP` payload.
pub async fn compare_module(
    sides: (&Side, &Side),
    conns: (&mut MultiplexedConnection, &mut MultiplexedConnection),
    key: &[u8],
    type_name: &str,
) -> anyhow::Result<Outcome> {
    let (source, target) = sides;
    let (src_conn, tgt_conn) = conns;
    if let Some((_, command)) = MODULE_READERS.iter().find(|(name, _)| *name == type_name) {
        let read = |conn: &mut MultiplexedConnection| {
            let cmd = redis::cmd(command).arg(key).clone();
            let mut conn = conn.clone();
            async move { cmd.query_async::<Value>(&mut conn).await }
        };
        let (a, b) = tokio::join!(read(src_conn), read(tgt_conn));
        match (a, b) {
            (Ok(Value::Nil), _) | (_, Ok(Value::Nil)) => return Ok(Outcome::Vanished),
            (Ok(a), Ok(b)) if a == b => return Ok(Outcome::Same),
            (Ok(_), Ok(_)) => {
                return Ok(Outcome::Differs(format!(
                    "{type_name} value differs ({command})"
                )))
            }
            // The reader may be missing on one side (module not loaded): fall back to DUMP.
            _ => {}
        }
    }
    let dump = |conn: &mut MultiplexedConnection| {
        let cmd = redis::cmd("DUMP").arg(key).clone();
        let mut conn = conn.clone();
        async move { cmd.query_async::<Option<Vec<u8>>>(&mut conn).await }
    };
    let (a, b) = tokio::join!(dump(src_conn), dump(tgt_conn));
    let a = a.map_err(|err| source.explain(err))?;
    let b = b.map_err(|err| target.explain(err))?;
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(Outcome::Vanished);
    };
    // The last 10 bytes are the RDB version and a CRC64; the payload before them is the value.
    let body = |payload: &[u8]| payload[..payload.len().saturating_sub(10)].to_vec();
    Ok(if body(&a) == body(&b) {
        Outcome::Same
    } else {
        Outcome::Warning(format!(
            "{type_name}: DUMP payloads differ (module or RDB version?); compared the type only"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        items
            .iter()
            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn ttl_rules() {
        assert_eq!(compare_ttl(None, None, 2000, 0), None);
        assert_eq!(compare_ttl(Some(10_000), Some(11_500), 2000, 0), None);
        assert_eq!(
            compare_ttl(Some(1_234_567), None, 2000, 0).as_deref(),
            Some("ttl 1234567 vs none")
        );
        assert!(compare_ttl(Some(0), Some(60_000), 2000, 0).is_some());
    }

    #[test]
    fn hash_reasons() {
        let a = Content::Hash(pairs(&[("a", "1"), ("b", "2")]));
        let b = Content::Hash(pairs(&[("a", "1"), ("b", "3")]));
        assert_eq!(
            compare_content(&a, &b),
            Outcome::Differs("hash field \"b\" value \"2\" vs \"3\"".into())
        );
        let c = Content::Hash(pairs(&[("a", "1"), ("c", "2")]));
        assert_eq!(
            compare_content(&a, &c),
            Outcome::Differs("hash field \"b\" only on source".into())
        );
        let d = Content::Hash(pairs(&[("a", "1")]));
        assert_eq!(
            compare_content(&a, &d),
            Outcome::Differs("hash field count 2 vs 1".into())
        );
    }

    #[test]
    fn strings_and_missing() {
        let a = Content::String(b"abc".to_vec());
        assert_eq!(
            compare_content(&a, &Content::String(b"abc".to_vec())),
            Outcome::Same
        );
        assert_eq!(
            compare_content(&a, &Content::String(b"abd".to_vec())),
            Outcome::Differs("string differs at byte 2 of 3".into())
        );
        assert_eq!(compare_content(&a, &Content::Missing), Outcome::Vanished);
    }
}
