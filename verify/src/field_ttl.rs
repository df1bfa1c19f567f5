//! Hash field TTLs (Redis 7.4+, Valkey 9+): the absolute expiry of every field of a hash read
//! with `HPEXPIRETIME` in pages, and the comparison of two sides. (Whether a server has them
//! at all is `Side::has_field_ttls`.)
//!
//! Only hashes whose source has field TTLs are read: when the source has none there is nothing
//! to compare; when the target has none, a source field with a TTL is a difference (the target
//! lost it). Only the fields both sides hold are compared: a field on one side only is already
//! a value difference.

use crate::compare::{compare_ttl, item, Outcome, TtlRule};
use crate::error::VerifyError;
use crate::reply::{int_of, is_wrong_type};
use crate::side::Side;
use crate::value::Content;
use redis::aio::MultiplexedConnection;
use redis::{RedisError, RedisResult, Value};
use slotstream_schemas::now_ms;

/// Fields per `HPEXPIRETIME` call.
const FIELD_PAGE: usize = 1000;
/// Fields asked for per pipeline.
const PIPELINE_FIELDS: usize = 20_000;
/// `HPEXPIRETIME` for a field that does not exist (or a key that does not).
const NO_FIELD: i64 = -2;

/// A hash key and the fields whose TTLs are compared.
pub type HashFields<'a> = (&'a [u8], Vec<Vec<u8>>);

/// The fields whose TTLs are compared for a hash judged `outcome`: those both sides hold.
/// `None` when there is nothing to compare: not a hash, a key that vanished, or a source
/// without field TTLs.
pub fn fields_to_check(
    source: &Side,
    outcome: &Outcome,
    a: Content,
    b: Content,
) -> Option<Vec<Vec<u8>>> {
    if !source.has_field_ttls || !matches!(outcome, Outcome::Same | Outcome::Differs(_)) {
        return None;
    }
    let (Content::Hash(a), Content::Hash(b)) = (a, b) else {
        return None;
    };
    let fields: Vec<Vec<u8>> = if *outcome == Outcome::Same {
        a.into_iter().map(|(field, _)| field).collect()
    } else {
        common(a, b)
    };
    (!fields.is_empty()).then_some(fields)
}

/// The fields of two field-sorted pair lists that are on both.
fn common(a: Vec<(Vec<u8>, Vec<u8>)>, b: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<Vec<u8>> {
    let mut b = b.into_iter().map(|(field, _)| field).peekable();
    let mut fields = Vec::new();
    for (field, _) in a {
        while b.next_if(|other| *other < field).is_some() {}
        if b.next_if(|other| *other == field).is_some() {
            fields.push(field);
        }
    }
    fields
}

/// Compares the field TTLs of hashes given with the fields to compare (see
/// [`fields_to_check`]): a reason per hash, `None` when they agree as `rule` says.
pub async fn compare_field_ttls(
    sides: (&Side, &Side),
    conns: (&MultiplexedConnection, &MultiplexedConnection),
    hashes: &[HashFields<'_>],
    rule: TtlRule,
) -> Result<Vec<Option<String>>, VerifyError> {
    let (source, target) = sides;
    if !source.has_field_ttls || hashes.is_empty() {
        return Ok(vec![None; hashes.len()]);
    }
    let (mut src, mut tgt) = (conns.0.clone(), conns.1.clone());
    let (a, b) = if target.has_field_ttls {
        tokio::try_join!(
            expiries(source, &mut src, hashes),
            expiries(target, &mut tgt, hashes)
        )?
    } else {
        let a = expiries(source, &mut src, hashes).await?;
        // The target cannot hold field TTLs: every field it has is without one.
        let b = hashes.iter().map(|(_, f)| vec![-1; f.len()]).collect();
        (a, b)
    };
    let note = (!target.has_field_ttls).then_some(" (the target has no hash field TTLs)");
    let now = now_ms();
    Ok(hashes
        .iter()
        .zip(a.iter().zip(&b))
        .map(|((_, fields), (a, b))| {
            let reason = field_reason(fields, a, b, rule, now)?;
            Some(format!("{reason}{}", note.unwrap_or_default()))
        })
        .collect())
}

/// Names the first field whose expiry differs, and how many more do.
fn field_reason(
    fields: &[Vec<u8>],
    source: &[i64],
    target: &[i64],
    rule: TtlRule,
    now: i64,
) -> Option<String> {
    let at = |ms: i64| (ms >= 0).then_some(ms);
    let mut differing = fields
        .iter()
        .zip(source.iter().zip(target))
        .filter(|(_, (&a, &b))| a != NO_FIELD && b != NO_FIELD)
        .filter_map(|(field, (&a, &b))| {
            compare_ttl(at(a), at(b), rule, now)
                .map(|reason| format!("hash field {} {reason}", item(field)))
        });
    let first = differing.next()?;
    Some(match differing.count() {
        0 => first,
        1 => format!("{first} (and 1 more field)"),
        more => format!("{first} (and {more} more fields)"),
    })
}

/// The absolute expiry (Unix ms) of each field of each hash, `-1` for none and `-2` for a
/// field (or key) that is gone; `HPEXPIRETIME` in pages of [`FIELD_PAGE`] fields, pipelined
/// up to [`PIPELINE_FIELDS`] fields at a time.
async fn expiries(
    side: &Side,
    conn: &mut MultiplexedConnection,
    hashes: &[HashFields<'_>],
) -> Result<Vec<Vec<i64>>, VerifyError> {
    let pages: Vec<(usize, &[Vec<u8>])> = hashes
        .iter()
        .enumerate()
        .flat_map(|(i, (_, fields))| fields.chunks(FIELD_PAGE).map(move |page| (i, page)))
        .collect();
    let mut out: Vec<Vec<i64>> = hashes
        .iter()
        .map(|(_, fields)| Vec::with_capacity(fields.len()))
        .collect();
    let mut start = 0;
    while start < pages.len() {
        let mut end = start;
        let mut asked = 0;
        while end < pages.len() && (end == start || asked + pages[end].1.len() <= PIPELINE_FIELDS) {
            asked += pages[end].1.len();
            end += 1;
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for (i, page) in &pages[start..end] {
            pipe.cmd("HPEXPIRETIME")
                .arg(hashes[*i].0)
                .arg("FIELDS")
                .arg(page.len())
                .arg(*page);
        }
        let replies: Vec<Value> = pipe
            .query_async(conn)
            .await
            .map_err(|err| side.explain(err))?;
        for ((i, page), reply) in pages[start..end].iter().zip(replies) {
            let page = page_expiries(reply, page.len()).map_err(|err| side.explain(err))?;
            out[*i].extend(page);
        }
        start = end;
    }
    Ok(out)
}

/// One `HPEXPIRETIME` reply as `len` expiries; a key that is gone or changed type reads as
/// fields that are gone.
fn page_expiries(reply: Value, len: usize) -> RedisResult<Vec<i64>> {
    let gone = || vec![NO_FIELD; len];
    Ok(match reply {
        Value::Array(items) if items.len() == len => items
            .iter()
            .map(|item| int_of(item).unwrap_or(NO_FIELD))
            .collect(),
        Value::ServerError(err) => {
            let err = RedisError::from(err);
            if !is_wrong_type(&err) {
                return Err(err);
            }
            gone()
        }
        _ => gone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    fn pairs(names: &[&str]) -> Vec<(Vec<u8>, Vec<u8>)> {
        fields(names)
            .into_iter()
            .map(|f| (f, b"v".to_vec()))
            .collect()
    }

    #[test]
    fn common_fields_of_two_hashes() {
        let a = pairs(&["a", "b", "d", "e"]);
        let b = pairs(&["b", "c", "e", "f"]);
        assert_eq!(common(a, b), fields(&["b", "e"]));
        assert!(common(pairs(&["a"]), Vec::new()).is_empty());
    }

    #[test]
    fn field_reasons() {
        const EXACT: TtlRule = TtlRule {
            extension_ms: 0,
            tolerance_ms: 2000,
        };
        let f = fields(&["a", "b", "c"]);
        assert_eq!(
            field_reason(&f, &[-1, 5000, -2], &[-1, 6000, 9], EXACT, 0),
            None
        );
        assert_eq!(
            field_reason(&f, &[-1, 5000, -1], &[-1, -1, -1], EXACT, 1000).as_deref(),
            Some("hash field \"b\" ttl 4000 vs none")
        );
        assert_eq!(
            field_reason(&f, &[10_000, -1, 100_000], &[20_000, 7, -1], EXACT, 0).as_deref(),
            Some("hash field \"a\" ttl 10000 vs 20000 (expiry differs by 10000 ms) (and 2 more fields)")
        );
    }

    #[test]
    fn pages_read_as_gone_when_the_key_is() {
        let page = Value::Array(vec![Value::Int(-1), Value::Int(123)]);
        assert_eq!(page_expiries(page, 2).ok(), Some(vec![-1, 123]));
        assert_eq!(page_expiries(Value::Nil, 2).ok(), Some(vec![-2, -2]));
        let short = Value::Array(vec![Value::Int(-1)]);
        assert_eq!(page_expiries(short, 2).ok(), Some(vec![-2, -2]));
    }
}
