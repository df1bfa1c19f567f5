//! The source's items: reachable, replication allowed, and how long it lets its replica fall
//! behind (backlog, replica output buffer, `repl-timeout`) against the rate it writes.

use super::{bytes, info_field, Item};
use slotstream_producer::headroom::Headroom;
use slotstream_producer::SourceConfig;
use std::time::Duration;

/// Seconds of writes the backlog should hold: a link down for less continues without a full
/// sync.
const BACKLOG_SECS: f64 = 60.0;
/// A snapshot's pace, for the estimate of how long one takes (a conservative figure: the
/// transfer and the target's writes together; BENCHMARKS.md has measured ones).
const SNAPSHOT_BYTES_PER_SEC: f64 = 50e6;
/// Below this, a capture held back by a slow target for a while has its link dropped.
const MIN_REPL_TIMEOUT_SECS: u64 = 60;

/// What the target's items need to know of the source.
#[derive(Debug, Clone, Default)]
pub struct SourceSeen {
    /// `redis 7.0.15`, `valkey 9.1.2`.
    pub version: String,
    pub used_memory: u64,
    pub proto_max_bulk_len: Option<u64>,
    pub modules: Vec<String>,
    /// Names of its function libraries.
    pub functions: Vec<String>,
    /// Hashes with field TTLs (`INFO keyspace`: `subexpiry`, Valkey's
    /// `keys_with_volatile_items`).
    pub field_ttl_hashes: u64,
}

impl SourceSeen {
    /// What two shards of a cluster source hold together.
    pub fn with(mut self, shard: SourceSeen) -> SourceSeen {
        self.used_memory += shard.used_memory;
        self.proto_max_bulk_len = self.proto_max_bulk_len.max(shard.proto_max_bulk_len);
        for module in shard.modules {
            if !self.modules.contains(&module) {
                self.modules.push(module);
            }
        }
        for library in shard.functions {
            if !self.functions.contains(&library) {
                self.functions.push(library);
            }
        }
        self.field_ttl_hashes += shard.field_ttl_hashes;
        self
    }
}

/// Checks the source `config` names, sampling its write rate for `sample` (`None`: no sample,
/// and no backlog and replica buffer items, which need it).
pub fn check(config: &SourceConfig, sample: Option<Duration>) -> (Vec<Item>, Option<SourceSeen>) {
    let mut items = Vec::new();
    let mut conn = match config.client_connection() {
        Ok(conn) => conn,
        Err(err) => {
            items.push(Item::fail(
                "reachable",
                err.to_string(),
                "check the URL, the password (--source-password-file or \
                 SLOTSTREAM_SOURCE_PASSWORD), TLS files for rediss://, and that the server \
                 listens there",
            ));
            return (items, None);
        }
    };
    let info: String = match redis::cmd("INFO").query(&mut conn) {
        Ok(info) => info,
        Err(err) => {
            items.push(Item::fail(
                "reachable",
                format!("INFO refused: {err}"),
                "the source user needs +info (README, \"Least privilege\")",
            ));
            return (items, None);
        }
    };
    let seen = SourceSeen {
        version: server_version(&info),
        used_memory: number(&info, "used_memory").unwrap_or(0),
        proto_max_bulk_len: config_number(&mut conn, "proto-max-bulk-len"),
        modules: module_names(&mut conn),
        functions: libraries(&mut conn),
        field_ttl_hashes: ["subexpiry", "keys_with_volatile_items"]
            .iter()
            .flat_map(|field| slotstream_schemas::info::keyspace(&info, field))
            .map(|(_, hashes)| hashes)
            .sum(),
    };
    let role = info_field(&info, "role").unwrap_or("?");
    items.push(Item::pass(
        "reachable",
        format!(
            "{}, {role}, {} in use",
            seen.version,
            bytes(seen.used_memory)
        ),
    ));
    items.push(replication(&mut conn));
    if let Some(sample) = sample {
        sampled(config, sample, &info, &seen, &mut conn, &mut items);
    }
    items.push(match config_number(&mut conn, "repl-timeout") {
        Some(secs) if secs < MIN_REPL_TIMEOUT_SECS => Item::warn(
            "repl-timeout",
            format!("{secs} s"),
            format!(
                "a capture held back by a slow target stops acknowledging; the source drops it \
                 after repl-timeout: raise it to {MIN_REPL_TIMEOUT_SECS} s or more"
            ),
        ),
        Some(secs) => Item::pass("repl-timeout", format!("{secs} s")),
        None => Item::warn(
            "repl-timeout",
            "cannot be read (CONFIG GET refused)",
            "allow +config|get, or check repl-timeout by hand (60 s or more)",
        ),
    });
    (items, Some(seen))
}

/// The items that need the write rate, sampled for `sample`: backlog and replica buffer.
fn sampled(
    config: &SourceConfig,
    sample: Duration,
    info: &str,
    seen: &SourceSeen,
    conn: &mut redis::Connection,
    items: &mut Vec<Item>,
) {
    let input_before = (net_input(conn), std::time::Instant::now());
    match Headroom::measure(config, sample) {
        Ok(mut headroom) => {
            // A source no replica ever attached to keeps no backlog, and its replication
            // offset stands still: its network input is the write rate's upper bound.
            let no_backlog = info_field(info, "repl_backlog_active") == Some("0");
            let estimated = headroom.bytes_per_sec == 0.0 && no_backlog;
            if estimated {
                if let (Some(before), Some(after)) = (input_before.0, net_input(conn)) {
                    let secs = input_before.1.elapsed().as_secs_f64().max(0.001);
                    headroom.bytes_per_sec = after.saturating_sub(before) as f64 / secs;
                }
            }
            items.push(backlog(&headroom, estimated));
            items.push(replica_buffer(&headroom, seen.used_memory));
        }
        Err(err) => items.push(Item::warn(
            "backlog",
            format!("cannot read repl-backlog-size and the replica buffer limit: {err}"),
            "allow CONFIG GET to the source user (+config|get), or check these settings by hand",
        )),
    }
}

/// Whether the server offers replication to this user: `PSYNC` exists (managed services may
/// rename it away) and `REPLCONF` is allowed.
fn replication(conn: &mut redis::Connection) -> Item {
    let psync: redis::RedisResult<redis::Value> =
        redis::cmd("COMMAND").arg("INFO").arg("PSYNC").query(conn);
    let missing = match &psync {
        Ok(redis::Value::Array(entries)) => entries.first().is_none_or(|e| *e == redis::Value::Nil),
        _ => false,
    };
    if missing {
        return Item::fail(
            "replication",
            "PSYNC is not offered (renamed or disabled, as some managed services do)",
            "slotstream reads the source as a replica: enable PSYNC, or ask the provider for \
             replication access",
        );
    }
    let replconf: redis::RedisResult<()> = redis::cmd("REPLCONF")
        .arg("listening-port")
        .arg(0)
        .query(conn);
    match replconf {
        Ok(()) => Item::pass(
            "replication",
            "PSYNC offered, REPLCONF allowed (PSYNC itself runs when the copy starts)",
        ),
        Err(err) => Item::fail(
            "replication",
            format!("REPLCONF refused: {err}"),
            "the source user needs +psync +replconf +ping +info +command (README, \"Least \
             privilege\")",
        ),
    }
}

/// `estimated`: the rate is the source's network input (no replica attached yet).
fn backlog(headroom: &Headroom, estimated: bool) -> Item {
    let size = bytes(headroom.backlog_bytes);
    let rate = format!(
        "{}/s{}",
        bytes(headroom.bytes_per_sec as u64),
        if estimated {
            ", estimated from its network input: no replica attached yet"
        } else {
            ""
        }
    );
    match headroom.backlog_secs() {
        None => Item::pass("backlog", format!("{size}; no writes while sampled")),
        Some(secs) if secs < BACKLOG_SECS => Item::warn(
            "backlog",
            format!("{size} holds {secs:.1} s of writes ({rate})"),
            format!(
                "a link down longer costs a full sync: raise repl-backlog-size to {} or more \
                 ({BACKLOG_SECS:.0} s of writes)",
                bytes((headroom.bytes_per_sec * BACKLOG_SECS) as u64)
            ),
        ),
        Some(secs) => Item::pass(
            "backlog",
            format!("{size} holds {secs:.0} s of writes ({rate})"),
        ),
    }
}

fn replica_buffer(headroom: &Headroom, used_memory: u64) -> Item {
    let snapshot_secs = used_memory as f64 / SNAPSHOT_BYTES_PER_SEC;
    match headroom.buffer_secs() {
        None => Item::pass("replica buffer", "no limit, or no writes while sampled"),
        Some(secs) if secs < snapshot_secs => Item::warn(
            "replica buffer",
            format!(
                "client-output-buffer-limit replica holds {secs:.0} s of writes; a snapshot of \
                 {} takes about {snapshot_secs:.0} s",
                bytes(used_memory)
            ),
            "the source cuts the link when the limit is reached mid-snapshot, and the copy \
             starts over: raise the replica class's limits (CONFIG SET client-output-buffer-limit \
             \"replica 0 0 0\" removes them)",
        ),
        Some(secs) => Item::pass(
            "replica buffer",
            format!("holds {secs:.0} s of writes; a snapshot takes about {snapshot_secs:.0} s"),
        ),
    }
}

/// `redis 7.0.15` or `valkey 9.1.2` from `INFO server`.
pub fn server_version(info: &str) -> String {
    match info_field(info, "valkey_version") {
        Some(v) => format!("valkey {v}"),
        None => format!("redis {}", info_field(info, "redis_version").unwrap_or("?")),
    }
}

/// `total_net_input_bytes`: every byte clients sent, reads included.
fn net_input(conn: &mut redis::Connection) -> Option<u64> {
    let info: String = redis::cmd("INFO").arg("stats").query(conn).ok()?;
    number(&info, "total_net_input_bytes")
}

fn number(info: &str, field: &str) -> Option<u64> {
    info_field(info, field)?.trim().parse().ok()
}

/// A numeric setting from `CONFIG GET` (`None` when refused or absent).
fn config_number(conn: &mut impl redis::ConnectionLike, name: &str) -> Option<u64> {
    let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(conn).ok()?;
    pair.get(1)?.parse().ok()
}

/// Names of the modules the server has loaded (none when `MODULE LIST` is refused).
fn module_names(conn: &mut redis::Connection) -> Vec<String> {
    names(conn, &["MODULE", "LIST"], "name")
}

/// Names of the function libraries (none before Redis 7.0, or when `FUNCTION LIST` is refused).
fn libraries(conn: &mut redis::Connection) -> Vec<String> {
    names(conn, &["FUNCTION", "LIST"], "library_name")
}

/// Field `field` of each map a listing command (`MODULE LIST`, `FUNCTION LIST`) answers; none
/// when it is refused.
fn names(conn: &mut redis::Connection, command: &[&str], field: &str) -> Vec<String> {
    let list: redis::RedisResult<Vec<std::collections::HashMap<String, redis::Value>>> =
        redis::cmd(command[0]).arg(&command[1..]).query(conn);
    list.unwrap_or_default()
        .into_iter()
        .filter_map(|mut entry| redis::from_redis_value(entry.remove(field)?).ok())
        .collect()
}
