//! The shape of the source: one standalone server, or a cluster of shards, each captured over
//! its own replica link. A cluster is read from any of its nodes (`CLUSTER SLOTS`, which every
//! version answers): its primaries, the slot ranges each serves, and their replicas. A cluster
//! that cannot serve every slot is refused before anything is captured, naming what is missing.

use crate::config::SourceConfig;
use crate::error::CaptureError;
use slotstream_schemas::slot::{SlotRanges, SLOTS};

/// What `--source` points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceShape {
    Standalone,
    /// Every shard of the cluster, by their first slot.
    Cluster(Vec<Shard>),
}

/// One primary of a cluster source and what it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// The slots it serves.
    pub slots: SlotRanges,
    /// `host:port` of its primary.
    pub primary: String,
    /// `host:port` of each of its replicas.
    pub replicas: Vec<String>,
}

impl Shard {
    /// A name for the shard that a failover does not change: its first slot (`slots-0`).
    pub fn label(&self) -> String {
        format!("slots-{}", self.slots.first().unwrap_or(0))
    }
}

/// Reads the source's shape through an ordinary connection. A source that cannot be reached is
/// taken as standalone: the replica link that follows reports the real fault.
pub fn discover(config: &SourceConfig) -> Result<SourceShape, CaptureError> {
    let addr = crate::config::parse_source_url(&config.url)?.to_string();
    let mut conn = match config.client_connection() {
        Ok(conn) => conn,
        Err(_) => return Ok(SourceShape::Standalone),
    };
    let info: String = match redis::cmd("INFO").arg("cluster").query(&mut conn) {
        Ok(info) => info,
        Err(err) => {
            tracing::warn!(source = %addr, %err, "cannot read INFO cluster; assuming a standalone source");
            return Ok(SourceShape::Standalone);
        }
    };
    if !is_cluster_node(&info) {
        return Ok(SourceShape::Standalone);
    }
    let failed = |what: String| CaptureError::Unsupported {
        addr: addr.clone(),
        what,
    };
    let state: String = redis::cmd("CLUSTER")
        .arg("INFO")
        .query(&mut conn)
        .map_err(|err| failed(format!("CLUSTER INFO failed: {err}")))?;
    if state
        .lines()
        .any(|line| line.trim() == "cluster_state:fail")
    {
        return Err(failed(
            "the cluster says cluster_state:fail: a copy of it would miss the slots it cannot \
             serve. Bring every shard up (CLUSTER INFO on any node), then start again"
                .into(),
        ));
    }
    let slots: redis::Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query(&mut conn)
        .map_err(|err| failed(format!("CLUSTER SLOTS failed: {err}")))?;
    let host = crate::config::parse_source_url(&config.url)?.host;
    let shards = shards_of(&slots, &host).map_err(|why| failed(format!("CLUSTER SLOTS: {why}")))?;
    let mut covered = SlotRanges::default();
    for shard in &shards {
        covered.extend(&shard.slots);
    }
    let uncovered = covered.complement();
    if !uncovered.is_empty() {
        return Err(failed(format!(
            "slots {uncovered} are served by no primary: a copy would miss their keys. Assign \
             them (redis-cli --cluster fix), then start again"
        )));
    }
    Ok(SourceShape::Cluster(shards))
}

/// One replica of the node `primary` points at that has finished its initial sync
/// (`state=online` in the primary's `INFO replication`), as `host:port`; `None` when it has
/// none or cannot be asked. (`CLUSTER SLOTS` lists a replica only once the cluster has heard
/// of its progress, which can take a while.)
pub fn online_replica(primary: &SourceConfig) -> Option<String> {
    let mut conn = primary.client_connection().ok()?;
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut conn)
        .ok()?;
    online_replicas(&info).into_iter().next()
}

/// The `host:port` of every `slaveN:ip=…,port=…,state=online,…` line.
fn online_replicas(info: &str) -> Vec<String> {
    info.lines()
        .filter(|line| line.starts_with("slave") && line.contains(':'))
        .filter_map(|line| {
            let fields = line.split_once(':')?.1;
            let field = |name: &str| {
                fields
                    .split(',')
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            };
            (field("state")? == "online").then(|| {
                let (ip, port) = (field("ip")?, field("port")?);
                Some(if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                })
            })?
        })
        .collect()
}

/// Whether a slot is in the middle of moving: a primary of `shards` marks it migrating or
/// importing in its own `CLUSTER NODES` line (`[slot->-node]`, `[slot-<-node]`). A primary that
/// cannot be asked counts as moving (asked again later).
pub fn slots_moving(config: &SourceConfig, shards: &[Shard]) -> bool {
    shards.iter().any(|shard| {
        let nodes: Result<String, _> = config
            .for_node(&shard.primary)
            .client_connection()
            .and_then(|mut conn| redis::cmd("CLUSTER").arg("NODES").query(&mut conn));
        match nodes {
            Ok(nodes) => nodes
                .lines()
                .filter(|line| line.contains("myself"))
                .any(|line| line.contains("->-") || line.contains("-<-")),
            Err(_) => true,
        }
    })
}

/// Whether `INFO cluster` text says the server runs in cluster mode.
pub fn is_cluster_node(info: &str) -> bool {
    info.lines().any(|line| line.trim() == "cluster_enabled:1")
}

/// The shards in a `CLUSTER SLOTS` reply, ordered by first slot. A node whose address is empty
/// (a node that does not know its own IP) is at `host`, the node asked.
fn shards_of(reply: &redis::Value, host: &str) -> Result<Vec<Shard>, String> {
    use redis::Value;
    let Value::Array(ranges) = reply else {
        return Err(format!("not an array: {reply:?}"));
    };
    let mut shards: Vec<Shard> = Vec::new();
    for range in ranges {
        let Value::Array(parts) = range else {
            return Err(format!("a range is not an array: {range:?}"));
        };
        let (start, end) = match (parts.first(), parts.get(1)) {
            (Some(Value::Int(start)), Some(Value::Int(end))) => (*start, *end),
            _ => return Err(format!("a range without its bounds: {range:?}")),
        };
        let in_range = |n: i64| u16::try_from(n).ok().filter(|&s| s < SLOTS);
        let (Some(start), Some(end)) = (in_range(start), in_range(end)) else {
            return Err(format!("slots {start}-{end} out of range"));
        };
        let mut nodes = parts[2..].iter().map(|node| node_addr(node, host));
        let primary = nodes
            .next()
            .ok_or_else(|| format!("slots {start}-{end} have no primary"))??;
        let replicas = nodes.collect::<Result<Vec<_>, _>>()?;
        match shards.iter_mut().find(|s| s.primary == primary) {
            Some(shard) => shard.slots.push(start..=end),
            None => {
                let mut slots = SlotRanges::default();
                slots.push(start..=end);
                shards.push(Shard {
                    slots,
                    primary,
                    replicas,
                })
            }
        }
    }
    shards.sort_by_key(|s| s.slots.first());
    Ok(shards)
}

/// `host:port` of one node entry of `CLUSTER SLOTS` (`[ip, port, id, …]`).
fn node_addr(node: &redis::Value, host: &str) -> Result<String, String> {
    use redis::Value;
    let Value::Array(fields) = node else {
        return Err(format!("a node is not an array: {node:?}"));
    };
    let ip = match fields.first() {
        Some(Value::BulkString(ip)) => String::from_utf8_lossy(ip).into_owned(),
        Some(Value::SimpleString(ip)) => ip.clone(),
        _ => return Err(format!("a node without its address: {node:?}")),
    };
    let Some(Value::Int(port)) = fields.get(1) else {
        return Err(format!("a node without its port: {node:?}"));
    };
    let ip = if ip.is_empty() || ip == "?" {
        host.to_string()
    } else {
        ip
    };
    if ip.contains(':') {
        Ok(format!("[{ip}]:{port}"))
    } else {
        Ok(format!("{ip}:{port}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn node(ip: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::BulkString(ip.as_bytes().to_vec()),
            Value::Int(port),
            Value::BulkString(b"id".to_vec()),
        ])
    }

    fn range(start: i64, end: i64, nodes: Vec<Value>) -> Value {
        let mut parts = vec![Value::Int(start), Value::Int(end)];
        parts.extend(nodes);
        Value::Array(parts)
    }

    #[test]
    fn groups_ranges_by_primary_and_orders_by_first_slot() {
        let reply = Value::Array(vec![
            range(
                10923,
                16383,
                vec![node("10.0.0.3", 7002), node("10.0.0.6", 7005)],
            ),
            range(0, 5460, vec![node("10.0.0.1", 7000)]),
            range(5461, 10922, vec![node("", 7001)]),
            range(16000, 16000, vec![node("10.0.0.1", 7000)]),
        ]);
        let shards = shards_of(&reply, "seed").unwrap();
        assert_eq!(shards.len(), 3);
        assert_eq!(shards[0].primary, "10.0.0.1:7000");
        assert_eq!(shards[0].slots.to_string(), "0-5460,16000");
        assert_eq!(shards[0].label(), "slots-0");
        assert_eq!(shards[1].primary, "seed:7001");
        assert_eq!(shards[2].replicas, vec!["10.0.0.6:7005".to_string()]);
    }

    #[test]
    fn refuses_a_malformed_reply() {
        assert!(shards_of(&Value::Int(1), "h").is_err());
        let reply = Value::Array(vec![range(0, 99999, vec![node("h", 1)])]);
        assert!(shards_of(&reply, "h").unwrap_err().contains("out of range"));
        let reply = Value::Array(vec![range(0, 10, vec![])]);
        assert!(shards_of(&reply, "h").unwrap_err().contains("no primary"));
    }

    #[test]
    fn finds_online_replicas_in_info_replication() {
        let info = "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
                    slave0:ip=10.0.0.7,port=7003,state=wait_bgsave,offset=0,lag=0\r\n\
                    slave1:ip=10.0.0.8,port=7004,state=online,offset=99,lag=1\r\n\
                    master_failover_state:no-failover\r\n";
        assert_eq!(online_replicas(info), vec!["10.0.0.8:7004".to_string()]);
        assert!(online_replicas("role:master\r\nconnected_slaves:0\r\n").is_empty());
    }

    #[test]
    fn reads_cluster_enabled() {
        assert!(is_cluster_node("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(!is_cluster_node("# Cluster\r\ncluster_enabled:0\r\n"));
        assert!(!is_cluster_node(""));
    }
}
