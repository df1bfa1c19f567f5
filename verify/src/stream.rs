//! Streams: entries page by page, then the stream's metadata and consumer groups
//! (`stream_info`).

use crate::compare::Outcome;
use crate::error::VerifyError;
use crate::reply::{bulk_list, bytes_of, is_wrong_type};
use crate::side::Side;
use crate::stream_info::{compare_info, read_info};
use redis::aio::MultiplexedConnection;
use redis::Value;

/// Entries per `XRANGE` page.
const PAGE: usize = 10_000;

type Entry = (Vec<u8>, Vec<Vec<u8>>);

/// Compares two streams whose `XLEN` already matched.
pub async fn compare_stream(
    sides: (&Side, &Side),
    conns: (&MultiplexedConnection, &MultiplexedConnection),
    key: &[u8],
    tolerance_ms: u64,
) -> Result<Outcome, VerifyError> {
    let (source, target) = sides;
    let (mut src, mut tgt) = (conns.0.clone(), conns.1.clone());
    let mut start = b"-".to_vec();
    let mut index = 0usize;
    loop {
        let (a, b) = tokio::join!(
            read_entries(source, &mut src, key, &start),
            read_entries(target, &mut tgt, key, &start)
        );
        let (Some(a), Some(b)) = (a?, b?) else {
            return Ok(Outcome::Vanished);
        };
        if let Some(reason) = compare_entries(&a, &b, index) {
            return Ok(Outcome::Differs(reason));
        }
        index += a.len();
        match a.last() {
            Some((id, _)) if a.len() == PAGE => start = next_id(id),
            _ => break,
        }
    }
    let (a, b) = tokio::join!(
        read_info(source, &mut src, key),
        read_info(target, &mut tgt, key)
    );
    let (Some(a), Some(b)) = (a?, b?) else {
        return Ok(Outcome::Vanished);
    };
    Ok(compare_info(&a, &b, tolerance_ms).map_or(Outcome::Same, Outcome::Differs))
}

async fn read_entries(
    side: &Side,
    conn: &mut MultiplexedConnection,
    key: &[u8],
    start: &[u8],
) -> Result<Option<Vec<Entry>>, VerifyError> {
    let reply: Value = match redis::cmd("XRANGE")
        .arg(key)
        .arg(start)
        .arg("+")
        .arg("COUNT")
        .arg(PAGE)
        .query_async(conn)
        .await
    {
        Ok(reply) => reply,
        Err(err) if is_wrong_type(&err) => return Ok(None),
        Err(err) => return Err(side.explain(err)),
    };
    let entries = match reply {
        Value::Array(entries) => entries,
        other => return Err(side.unexpected("XRANGE", &other)),
    };
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(parts) = entry else {
                return Err(side.unexpected("XRANGE", &"an entry that is not an array"));
            };
            let mut parts = parts.into_iter();
            match (
                parts.next().and_then(bytes_of),
                parts.next().and_then(bulk_list),
            ) {
                (Some(id), Some(fields)) => Ok((id, fields)),
                _ => Err(side.unexpected("XRANGE", &"an entry that is not [id, [field, ...]]")),
            }
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn compare_entries(a: &[Entry], b: &[Entry], offset: usize) -> Option<String> {
    if let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) {
        let (x, y) = (&a[at], &b[at]);
        let n = offset + at;
        return Some(if x.0 != y.0 {
            format!(
                "stream entry {n}: id {} vs {}",
                String::from_utf8_lossy(&x.0),
                String::from_utf8_lossy(&y.0)
            )
        } else {
            format!(
                "stream entry {} fields differ",
                String::from_utf8_lossy(&x.0)
            )
        });
    }
    (a.len() != b.len()).then(|| {
        format!(
            "stream entry count {} vs {}",
            offset + a.len(),
            offset + b.len()
        )
    })
}

/// The smallest id after `id` (`ms-seq` → `ms-(seq+1)`), so paging works on servers without
/// exclusive ranges.
fn next_id(id: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(id);
    let (ms, seq) = text.split_once('-').unwrap_or((&text, "0"));
    let (ms, seq): (u64, u64) = (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0));
    match seq.checked_add(1) {
        Some(seq) => format!("{ms}-{seq}"),
        None => format!("{}-0", ms.saturating_add(1)),
    }
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_id_steps_the_sequence() {
        assert_eq!(next_id(b"5-3"), b"5-4");
        assert_eq!(next_id(format!("5-{}", u64::MAX).as_bytes()), b"6-0");
    }
}
