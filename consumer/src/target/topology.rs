//! Whether the destination is one server or a Redis Cluster, and for a cluster which primary
//! owns each hash slot: read with `CLUSTER SHARDS` (7.0+), or `CLUSTER SLOTS` before it.

use redis::aio::MultiplexedConnection;
use redis::Value;
use slotstream_schemas::slot::SLOTS;
use std::ops::Range;

/// A primary of a cluster destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Which primary owns each slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMap {
    pub nodes: Vec<Node>,
    /// For each slot, the index of its owner in `nodes`; `None` when no primary serves it.
    owners: Vec<Option<usize>>,
}

impl SlotMap {
    /// The primary that owns `slot`, if any.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        self.owners.get(usize::from(slot)).copied().flatten()
    }

    /// The slot ranges no primary serves.
    pub fn uncovered(&self) -> Vec<Range<u16>> {
        let mut ranges: Vec<Range<u16>> = Vec::new();
        for slot in 0..SLOTS {
            if self.owner(slot).is_some() {
                continue;
            }
            match ranges.last_mut() {
                Some(range) if range.end == slot => range.end = slot + 1,
                _ => ranges.push(slot..slot + 1),
            }
        }
        ranges
    }

    fn from_ranges(assigned: Vec<(u16, u16, Node)>) -> SlotMap {
        let mut map = SlotMap {
            nodes: Vec::new(),
            owners: vec![None; usize::from(SLOTS)],
        };
        for (first, last, node) in assigned {
            let index = match map.nodes.iter().position(|n| *n == node) {
                Some(index) => index,
                None => {
                    map.nodes.push(node);
                    map.nodes.len() - 1
                }
            };
            for slot in first..=last.min(SLOTS - 1) {
                map.owners[usize::from(slot)] = Some(index);
            }
        }
        map
    }
}

/// What the destination is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    Standalone,
    Cluster(SlotMap),
}

/// Reads the destination's topology. `host` is the address the client connected to, used for
/// nodes that announce no address of their own.
pub async fn read(
    conn: &mut MultiplexedConnection,
    host: &str,
) -> Result<Topology, redis::RedisError> {
    let info: String = redis::cmd("INFO").arg("cluster").query_async(conn).await?;
    let enabled = info.lines().any(|line| line.trim() == "cluster_enabled:1");
    if !enabled {
        return Ok(Topology::Standalone);
    }
    let shards: redis::RedisResult<Value> =
        redis::cmd("CLUSTER").arg("SHARDS").query_async(conn).await;
    let assigned = match shards {
        Ok(reply) => from_shards(&reply, host),
        // Before 7.0.
        Err(_) => {
            let reply: Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
            from_slots(&reply, host)
        }
    };
    Ok(Topology::Cluster(SlotMap::from_ranges(assigned)))
}

/// `CLUSTER SHARDS`: per shard, `slots` (pairs of bounds) and `nodes` (maps with `ip` or
/// `endpoint`, `port`, `role`).
fn from_shards(reply: &Value, host: &str) -> Vec<(u16, u16, Node)> {
    let mut assigned = Vec::new();
    for shard in items(reply) {
        let fields = pairs(shard);
        let slots: Vec<u16> = fields
            .iter()
            .find(|(name, _)| name == "slots")
            .map(|(_, value)| items(value).iter().filter_map(number).collect())
            .unwrap_or_default();
        let primary = fields
            .iter()
            .find(|(name, _)| name == "nodes")
            .and_then(|(_, nodes)| {
                items(nodes).iter().map(pairs).find(|node| {
                    node.iter()
                        .any(|(name, value)| name == "role" && text(value) == "master")
                })
            });
        let Some(primary) = primary else { continue };
        let field = |wanted: &str| {
            primary
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
        };
        let address = ["ip", "endpoint"]
            .iter()
            .filter_map(|name| field(name).map(|v| text(&v)))
            .find(|a| !a.is_empty() && a != "?")
            .unwrap_or_else(|| host.to_string());
        let Some(port) = field("port").as_ref().and_then(number) else {
            continue;
        };
        let node = Node {
            host: address,
            port,
        };
        for bounds in slots.chunks_exact(2) {
            assigned.push((bounds[0], bounds[1], node.clone()));
        }
    }
    assigned
}

/// `CLUSTER SLOTS`: `[first, last, [ip, port, id, …], replicas…]` per range.
fn from_slots(reply: &Value, host: &str) -> Vec<(u16, u16, Node)> {
    items(reply)
        .iter()
        .filter_map(|range| {
            let parts = items(range);
            let first = number(parts.first()?)?;
            let last = number(parts.get(1)?)?;
            let primary = items(parts.get(2)?);
            let address = text(primary.first()?);
            let port = number(primary.get(1)?)?;
            let host = if address.is_empty() {
                host.to_string()
            } else {
                address
            };
            Some((first, last, Node { host, port }))
        })
        .collect()
}

fn items(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        _ => &[],
    }
}

/// A map reply (RESP3) or a flat array of name, value (RESP2) as pairs.
fn pairs(value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Map(pairs) => pairs
            .iter()
            .map(|(name, value)| (text(name), value.clone()))
            .collect(),
        _ => items(value)
            .chunks_exact(2)
            .map(|pair| (text(&pair[0]), pair[1].clone()))
            .collect(),
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

fn number<T: TryFrom<i64>>(value: &Value) -> Option<T> {
    match value {
        Value::Int(n) => T::try_from(*n).ok(),
        other => text(other)
            .parse::<i64>()
            .ok()
            .and_then(|n| T::try_from(n).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn shards_and_slots_replies_give_the_same_map() {
        let node = |port: i64, role: &str| {
            Value::Array(vec![
                bulk("id"),
                bulk("abc"),
                bulk("port"),
                Value::Int(port),
                bulk("ip"),
                bulk("127.0.0.1"),
                bulk("role"),
                bulk(role),
            ])
        };
        let shard = |first: i64, last: i64, primary: i64, replica: i64| {
            Value::Array(vec![
                bulk("slots"),
                Value::Array(vec![Value::Int(first), Value::Int(last)]),
                bulk("nodes"),
                Value::Array(vec![node(replica, "replica"), node(primary, "master")]),
            ])
        };
        let shards = Value::Array(vec![
            shard(0, 8191, 7000, 7002),
            shard(8192, 16383, 7001, 7003),
        ]);
        let range = |first: i64, last: i64, port: i64| {
            Value::Array(vec![
                Value::Int(first),
                Value::Int(last),
                Value::Array(vec![bulk("127.0.0.1"), Value::Int(port), bulk("id")]),
            ])
        };
        let slots = Value::Array(vec![range(0, 8191, 7000), range(8192, 16383, 7001)]);
        let a = SlotMap::from_ranges(from_shards(&shards, "h"));
        let b = SlotMap::from_ranges(from_slots(&slots, "h"));
        assert_eq!(a, b);
        assert_eq!(a.nodes[a.owner(100).unwrap()].port, 7000);
        assert_eq!(a.nodes[a.owner(9000).unwrap()].port, 7001);
        assert!(a.uncovered().is_empty());
    }

    #[test]
    fn uncovered_slots_are_named_as_ranges() {
        let node = Node {
            host: "h".into(),
            port: 1,
        };
        let map = SlotMap::from_ranges(vec![(0, 99, node.clone()), (200, 16383, node)]);
        assert_eq!(map.uncovered(), vec![100..200]);
    }
}
