//! A stream's metadata, consumer groups, consumers and pending entries: read with `XINFO STREAM
//! FULL` (6.0+) or the commands older servers have, and compared.
//!
//! Delivery times are wall-clock values like expiry times, so they are compared with the same
//! tolerance as TTLs. A consumer's seen and active times are not compared: Redis does not
//! replicate them (every replica, native ones included, sets its own when it applies a command),
//! so they differ by however far behind the copy ran.

use crate::error::VerifyError;
use crate::reply::{field, int_of, is_wrong_type, list_of_maps, map_of, scalar_fields, text_of};
use crate::side::Side;
use redis::aio::MultiplexedConnection;
use redis::Value;
use slotstream_schemas::now_ms;

/// Stream-level `XINFO` fields compared when both sides report them.
const STREAM_FIELDS: &[&str] = &[
    "length",
    "last-generated-id",
    "max-deleted-entry-id",
    "entries-added",
    "recorded-first-entry-id",
];
/// Group-level fields compared when both sides report them.
const GROUP_FIELDS: &[&str] = &["last-delivered-id", "entries-read", "pel-count"];

/// An entry of a pending entries list.
#[derive(Debug)]
struct Pending {
    id: String,
    /// Named in a group's PEL, implied in a consumer's.
    consumer: Option<String>,
    delivered_at: i64,
    deliveries: i64,
}

/// A consumer of a group.
#[derive(Debug)]
struct Consumer {
    name: String,
    pel_count: i64,
    /// `None` where the server cannot list it (before 6.0): then only `pel_count` is compared.
    pending: Option<Vec<Pending>>,
}

/// A consumer group.
#[derive(Debug)]
struct Group {
    name: String,
    fields: Vec<(String, String)>,
    pending: Vec<Pending>,
    consumers: Vec<Consumer>,
}

/// What a stream holds besides its entries.
#[derive(Debug)]
pub struct StreamInfo {
    fields: Vec<(String, String)>,
    groups: Vec<Group>,
}

/// The stream's metadata and groups; `None` when the key is gone.
pub async fn read_info(
    side: &Side,
    conn: &mut MultiplexedConnection,
    key: &[u8],
) -> Result<Option<StreamInfo>, VerifyError> {
    let groups: Value = match redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(key)
        .query_async(conn)
        .await
    {
        Ok(groups) => groups,
        Err(err) => return gone_or(side, conn, key, err).await,
    };
    let groups = list_of_maps(groups);
    let max_pel = groups
        .iter()
        .filter_map(|group| field(group, "pel-count").or_else(|| field(group, "pending")))
        .filter_map(int_of)
        .max()
        .unwrap_or(0);
    if side.has_xinfo_full {
        // COUNT bounds the entries and PELs returned; entries were compared above, the PELs
        // must come back whole.
        let full = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(key)
            .arg("FULL")
            .arg("COUNT")
            .arg(max_pel.max(1))
            .query_async(conn)
            .await;
        return match full {
            Ok(full) => Ok(Some(parse_full(full))),
            Err(err) => gone_or(side, conn, key, err).await,
        };
    }
    read_info_legacy(side, conn, key, groups).await
}

/// `XINFO STREAM FULL` → [`StreamInfo`].
fn parse_full(full: Value) -> StreamInfo {
    let map = map_of(full);
    let fields = scalar_fields(&map, STREAM_FIELDS);
    let groups = field(&map, "groups")
        .cloned()
        .map(list_of_maps)
        .unwrap_or_default()
        .into_iter()
        .map(|group| Group {
            name: field(&group, "name").map(text_of).unwrap_or_default(),
            fields: scalar_fields(&group, GROUP_FIELDS),
            pending: field(&group, "pending")
                .map(|pel| parse_pel(pel, true))
                .unwrap_or_default(),
            consumers: field(&group, "consumers")
                .cloned()
                .map(list_of_maps)
                .unwrap_or_default()
                .into_iter()
                .map(|consumer| Consumer {
                    name: field(&consumer, "name").map(text_of).unwrap_or_default(),
                    pel_count: field(&consumer, "pel-count").and_then(int_of).unwrap_or(0),
                    pending: field(&consumer, "pending").map(|pel| parse_pel(pel, false)),
                })
                .collect(),
        })
        .collect();
    StreamInfo { fields, groups }
}

/// A PEL from `XINFO STREAM FULL`: `[id, consumer, delivery-time, count]` per entry in a group,
/// `[id, delivery-time, count]` in a consumer.
fn parse_pel(pel: &Value, with_consumer: bool) -> Vec<Pending> {
    let Value::Array(entries) = pel else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let Value::Array(parts) = entry else {
                return None;
            };
            let at = usize::from(with_consumer);
            Some(Pending {
                id: text_of(parts.first()?),
                consumer: with_consumer.then(|| parts.get(1).map(text_of)).flatten(),
                delivered_at: int_of(parts.get(1 + at)?)?,
                deliveries: int_of(parts.get(2 + at)?)?,
            })
        })
        .collect()
}

/// Servers before 6.0 have no `XINFO STREAM FULL`: the same facts from `XINFO STREAM`,
/// `XINFO GROUPS`, `XINFO CONSUMERS` and `XPENDING`, with idle times turned into time stamps.
async fn read_info_legacy(
    side: &Side,
    conn: &mut MultiplexedConnection,
    key: &[u8],
    groups: Vec<Vec<(String, Value)>>,
) -> Result<Option<StreamInfo>, VerifyError> {
    let explain = |err| side.explain(err);
    let stream: Value = match redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query_async(conn)
        .await
    {
        Ok(stream) => stream,
        Err(err) => return gone_or(side, conn, key, err).await,
    };
    let fields = scalar_fields(&map_of(stream), STREAM_FIELDS);
    let mut parsed = Vec::new();
    for group in groups {
        let name = field(&group, "name").map(text_of).unwrap_or_default();
        let pel_count = field(&group, "pending").and_then(int_of).unwrap_or(0);
        let mut fields = scalar_fields(&group, GROUP_FIELDS);
        fields.push(("pel-count".to_string(), pel_count.to_string()));
        let pel: Value = redis::cmd("XPENDING")
            .arg(key)
            .arg(&name)
            .arg("-")
            .arg("+")
            .arg(pel_count.max(1))
            .query_async(conn)
            .await
            .map_err(explain)?;
        let consumers: Value = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(key)
            .arg(&name)
            .query_async(conn)
            .await
            .map_err(explain)?;
        let now = now_ms();
        let pending = match pel {
            Value::Array(entries) => entries
                .iter()
                .filter_map(|entry| match entry {
                    Value::Array(parts) => Some(Pending {
                        id: text_of(parts.first()?),
                        consumer: parts.get(1).map(text_of),
                        delivered_at: now - int_of(parts.get(2)?)?,
                        deliveries: int_of(parts.get(3)?)?,
                    }),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let consumers = list_of_maps(consumers)
            .into_iter()
            .map(|consumer| Consumer {
                name: field(&consumer, "name").map(text_of).unwrap_or_default(),
                pel_count: field(&consumer, "pending").and_then(int_of).unwrap_or(0),
                pending: None,
            })
            .collect();
        parsed.push(Group {
            name,
            fields,
            pending,
            consumers,
        });
    }
    Ok(Some(StreamInfo {
        fields,
        groups: parsed,
    }))
}

/// After an `XINFO` error: `None` if the key is gone or is no longer a stream (the caller
/// re-checks it), else the error.
async fn gone_or<T>(
    side: &Side,
    conn: &mut MultiplexedConnection,
    key: &[u8],
    err: redis::RedisError,
) -> Result<Option<T>, VerifyError> {
    if is_wrong_type(&err) {
        return Ok(None);
    }
    let exists = side.exists(conn, &[key.to_vec()]).await?;
    if exists.first() == Some(&true) {
        Err(side.explain(err))
    } else {
        Ok(None)
    }
}

/// The first difference between two streams' metadata and groups.
pub fn compare_info(a: &StreamInfo, b: &StreamInfo, tolerance_ms: u64) -> Option<String> {
    if let Some(reason) = compare_fields(&a.fields, &b.fields, "stream") {
        return Some(reason);
    }
    let names = |info: &StreamInfo| {
        info.groups
            .iter()
            .map(|g| g.name.clone())
            .collect::<Vec<_>>()
    };
    let (mut names_a, mut names_b) = (names(a), names(b));
    names_a.sort();
    names_b.sort();
    if names_a != names_b {
        return Some(format!(
            "stream groups [{}] vs [{}]",
            names_a.join(", "),
            names_b.join(", ")
        ));
    }
    for group in &a.groups {
        let other = b.groups.iter().find(|g| g.name == group.name)?;
        let what = format!("stream group \"{}\"", group.name);
        if let Some(reason) = compare_fields(&group.fields, &other.fields, &what)
            .or_else(|| compare_pel(&group.pending, &other.pending, &what, tolerance_ms))
            .or_else(|| compare_consumers(&group.consumers, &other.consumers, &what, tolerance_ms))
        {
            return Some(reason);
        }
    }
    None
}

/// Compares the fields both sides report; a field only one side knows (a newer server) is skipped.
fn compare_fields(a: &[(String, String)], b: &[(String, String)], what: &str) -> Option<String> {
    a.iter().find_map(|(name, x)| {
        let (_, y) = b.iter().find(|(other, _)| other == name)?;
        (x != y).then(|| format!("{what} {name} {x} vs {y}"))
    })
}

fn compare_pel(a: &[Pending], b: &[Pending], what: &str, tolerance_ms: u64) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{what} pending entries {} vs {}", a.len(), b.len()));
    }
    a.iter().zip(b).find_map(|(x, y)| {
        if x.id != y.id || x.consumer != y.consumer {
            Some(format!(
                "{what} pending entry {} ({}) vs {} ({})",
                x.id,
                x.consumer.as_deref().unwrap_or("-"),
                y.id,
                y.consumer.as_deref().unwrap_or("-")
            ))
        } else if x.deliveries != y.deliveries {
            Some(format!(
                "{what} pending entry {} delivery count {} vs {}",
                x.id, x.deliveries, y.deliveries
            ))
        } else if x.delivered_at.abs_diff(y.delivered_at) > tolerance_ms {
            Some(format!(
                "{what} pending entry {} delivery time {} vs {}",
                x.id, x.delivered_at, y.delivered_at
            ))
        } else {
            None
        }
    })
}

fn compare_consumers(
    a: &[Consumer],
    b: &[Consumer],
    what: &str,
    tolerance_ms: u64,
) -> Option<String> {
    let names = |list: &[Consumer]| {
        let mut names: Vec<_> = list.iter().map(|c| c.name.clone()).collect();
        names.sort();
        names
    };
    if names(a) != names(b) {
        return Some(format!(
            "{what} consumers [{}] vs [{}]",
            names(a).join(", "),
            names(b).join(", ")
        ));
    }
    a.iter().find_map(|x| {
        let y = b.iter().find(|c| c.name == x.name)?;
        let who = format!("{what} consumer \"{}\"", x.name);
        if x.pel_count != y.pel_count {
            return Some(format!(
                "{who} pel-count {} vs {}",
                x.pel_count, y.pel_count
            ));
        }
        match (&x.pending, &y.pending) {
            (Some(p), Some(q)) => compare_pel(p, q, &who, tolerance_ms),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_known_to_one_side_only_are_skipped() {
        let a = vec![("length".to_string(), "3".to_string())];
        let b = vec![
            ("length".to_string(), "3".to_string()),
            ("entries-added".to_string(), "4".to_string()),
        ];
        assert_eq!(compare_fields(&a, &b, "stream"), None);
        let c = vec![("length".to_string(), "4".to_string())];
        assert_eq!(
            compare_fields(&a, &c, "stream").as_deref(),
            Some("stream length 3 vs 4")
        );
    }
}
