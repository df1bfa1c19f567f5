//! The servers behind one side: the server itself, or a Redis Cluster's primaries with the
//! slots each serves, so each key is read on the node that holds it.

use redis::aio::MultiplexedConnection;
use redis::{RedisResult, Value};
use slotstream_schemas::slot::{key_slot, SLOTS};
use std::collections::BTreeMap;

/// One server, or a cluster's primaries.
#[derive(Debug, Clone, Default)]
pub struct Nodes {
    /// A cluster's primaries (`host`, `port`); empty for one server.
    primaries: Vec<(String, u16)>,
    /// For a cluster: the index in `primaries` of each slot's owner.
    owners: Vec<usize>,
}

impl Nodes {
    /// What `conn` (connected to `host`) is: one server, or a node of a cluster, whose
    /// primaries and slots `CLUSTER SLOTS` gives. Slots no primary serves are an error.
    pub async fn discover(conn: &mut MultiplexedConnection, host: &str) -> RedisResult<Nodes> {
        let info: String = redis::cmd("INFO").arg("cluster").query_async(conn).await?;
        if !info.lines().any(|line| line.trim() == "cluster_enabled:1") {
            return Ok(Nodes::default());
        }
        let reply: Value = redis::cmd("CLUSTER").arg("SLOTS").query_async(conn).await?;
        let mut nodes = Nodes {
            primaries: Vec::new(),
            owners: vec![usize::MAX; usize::from(SLOTS)],
        };
        for range in as_array(&reply) {
            let range = as_array(range);
            let (Some(start), Some(end), Some(primary)) = (
                range.first().and_then(as_int),
                range.get(1).and_then(as_int),
                range.get(2).map(as_array),
            ) else {
                continue;
            };
            let ip = primary.first().and_then(as_text).unwrap_or_default();
            let port = primary.get(1).and_then(as_int).unwrap_or(0);
            // An empty address means "the one you reached me at".
            let addr = (
                if ip.is_empty() { host.to_string() } else { ip },
                u16::try_from(port).unwrap_or(0),
            );
            let index = match nodes.primaries.iter().position(|known| *known == addr) {
                Some(index) => index,
                None => {
                    nodes.primaries.push(addr);
                    nodes.primaries.len() - 1
                }
            };
            for slot in start.max(0)..=end.min(i64::from(SLOTS) - 1) {
                nodes.owners[slot as usize] = index;
            }
        }
        if let Some(slot) = nodes.owners.iter().position(|&o| o == usize::MAX) {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "the cluster does not serve every slot",
                format!("slot {slot} has no primary (CLUSTER SLOTS); fix the cluster first"),
            )));
        }
        Ok(nodes)
    }

    /// How many servers hold keys: 1, or the cluster's primaries.
    pub fn len(&self) -> usize {
        self.primaries.len().max(1)
    }

    /// The address of node `node` of a cluster; `None` for one server.
    pub fn addr(&self, node: usize) -> Option<&(String, u16)> {
        self.primaries.get(node)
    }

    /// The node that holds `key`.
    pub fn of_key(&self, key: &[u8]) -> usize {
        if self.primaries.is_empty() {
            0
        } else {
            self.owners[usize::from(key_slot(key))]
        }
    }

    /// `keys` by the node that holds them, each group in the order given.
    pub fn group(&self, keys: Vec<Vec<u8>>) -> BTreeMap<usize, Vec<Vec<u8>>> {
        let mut groups: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for key in keys {
            groups.entry(self.of_key(&key)).or_default().push(key);
        }
        groups
    }
}

fn as_array(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        _ => &[],
    }
}

fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_holds_every_key() {
        let nodes = Nodes::default();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes.of_key(b"a"), 0);
        let groups = nodes.group(vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(groups.len(), 1);
    }

    #[test]
    fn a_cluster_groups_keys_by_their_slots_owner() {
        let mut owners = vec![0; usize::from(SLOTS)];
        owners[usize::from(key_slot(b"b"))] = 1;
        let nodes = Nodes {
            primaries: vec![("h".into(), 1), ("h".into(), 2)],
            owners,
        };
        let groups = nodes.group(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(groups[&0], vec![b"a".to_vec(), b"c".to_vec()]);
        assert_eq!(groups[&1], vec![b"b".to_vec()]);
    }
}
