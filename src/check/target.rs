//! The target's items: reachable, its version against the source's, a cluster's slots, its
//! eviction policy and memory against what the source holds, `proto-max-bulk-len`, modules,
//! and keys of its own (the same look `sync` and `consume` take before their first write).

use super::source::SourceSeen;
use super::{bytes, info_field, Item};
use redis::aio::MultiplexedConnection;
use slotstream_consumer::existing;
use slotstream_consumer::target::{Target, TargetInfo, Topology};
use slotstream_consumer::{OnExisting, TargetConfig};
use slotstream_schemas::BOOKKEEPING_PREFIX;

/// Memory use past this share of what the target has free is warned about.
const TIGHT: f64 = 0.8;

/// Checks the target `config` names, against what was seen of the source; keys of its own only
/// with `own_keys` (a look over every key, which the copy's first write takes anyway).
pub async fn check(
    config: &TargetConfig,
    source: Option<&SourceSeen>,
    own_keys: bool,
) -> Vec<Item> {
    let mut items = Vec::new();
    let unreachable = |why: String| {
        Item::fail(
            "reachable",
            why,
            "check the URL, the password (--target-password-file or \
             SLOTSTREAM_TARGET_PASSWORD), TLS files for rediss://, and that the server listens \
             there",
        )
    };
    let target = match Target::new(config) {
        Ok(target) => target,
        Err(err) => return vec![unreachable(err.to_string())],
    };
    let mut conn = match target.connect().await {
        Ok(conn) => conn,
        Err(err) => return vec![unreachable(err.to_string())],
    };
    let info = match target.info(&mut conn).await {
        Ok(info) => info,
        Err(err) => return vec![unreachable(err.to_string())],
    };
    let shape = match &info.topology {
        Topology::Standalone => "standalone".to_string(),
        Topology::Cluster(map) => format!("cluster of {} primaries", map.nodes.len()),
    };
    items.push(Item::pass(
        "reachable",
        format!("{}, {shape}, reads RDB {}", info.version, info.rdb_version),
    ));
    if let Some(source) = source {
        items.push(versions(&source.version, &info.version));
    }
    if let Topology::Cluster(map) = &info.topology {
        items.push(
            match slotstream_consumer::apply::check_cluster(&target.addr, map, &mut conn).await {
                Ok(()) => Item::pass("cluster slots", "every slot served, cluster_state ok"),
                Err(err) => Item::fail("cluster slots", err.to_string(), "fix the cluster first"),
            },
        );
    }
    let mut nodes = match target.node_connections(&info.topology).await {
        Ok(nodes) => nodes,
        Err(err) => {
            items.push(unreachable(err.to_string()));
            return items;
        }
    };
    items.push(eviction(&mut nodes).await);
    items.push(memory(&mut nodes, source.map(|s| s.used_memory)).await);
    if let Some(limit) = source.and_then(|s| s.proto_max_bulk_len) {
        items.push(bulk_len(&mut conn, limit).await);
    }
    if let Some(source) = source {
        items.push(modules(&source.modules, &info.modules));
        let skip = config.on_unsupported == slotstream_consumer::OnUnsupported::SkipWithWarning;
        items.push(functions(&source.functions, &info, skip));
        items.push(field_ttls(source.field_ttl_hashes, &info, skip));
    }
    if own_keys {
        items.push(keys_of_its_own(&mut nodes, &mut conn, config.on_existing).await);
    }
    items
}

/// An older target takes the source's newer commands rewritten, or refuses them.
fn versions(source: &str, target: &str) -> Item {
    let number = |v: &str| -> Vec<u32> {
        v.split_whitespace()
            .last()
            .unwrap_or("")
            .split('.')
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let same_kind = source.split_whitespace().next() == target.split_whitespace().next();
    if same_kind && number(target) < number(source) {
        return Item::warn(
            "version",
            format!("{target} is older than the source's {source}"),
            "newer commands are rewritten into older forms or refused as --on-unsupported \
             says; COMPATIBILITY.md lists this pair's limits",
        );
    }
    Item::pass("version", format!("source {source} → target {target}"))
}

async fn eviction(nodes: &mut [MultiplexedConnection]) -> Item {
    for conn in nodes.iter_mut() {
        let policy: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(conn)
            .await;
        match policy.ok().and_then(|pair| pair.get(1).cloned()) {
            Some(policy) if policy == "noeviction" => {}
            Some(policy) => {
                return Item::warn(
                    "maxmemory-policy",
                    policy,
                    "a full target evicts copied keys without a word: set maxmemory-policy \
                     noeviction (a full target then answers OOM, and the copy waits and says so)",
                )
            }
            None => {
                return Item::warn(
                    "maxmemory-policy",
                    "cannot be read (CONFIG GET refused)",
                    "check it is noeviction by hand",
                )
            }
        }
    }
    Item::pass("maxmemory-policy", "noeviction")
}

/// What the target has free (over every primary) against what the source holds.
async fn memory(nodes: &mut [MultiplexedConnection], needed: Option<u64>) -> Item {
    let mut free: u64 = 0;
    for conn in nodes.iter_mut() {
        let info: String = match redis::cmd("INFO").arg("memory").query_async(conn).await {
            Ok(info) => info,
            Err(err) => return Item::warn("memory", format!("INFO memory: {err}"), ""),
        };
        let used: u64 = info_field(&info, "used_memory")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        match config_async(conn, "maxmemory").await {
            Some(0) | None => return Item::pass("memory", "no maxmemory set"),
            Some(max) => free += max.saturating_sub(used),
        }
    }
    let Some(needed) = needed else {
        return Item::pass("memory", format!("{} free under maxmemory", bytes(free)));
    };
    let found = format!(
        "{} free under maxmemory; the source uses {}",
        bytes(free),
        bytes(needed)
    );
    if needed > free {
        Item::fail(
            "memory",
            found,
            "the copy would run out of memory: raise maxmemory or copy into a bigger target",
        )
    } else if needed as f64 > free as f64 * TIGHT {
        Item::warn(
            "memory",
            found,
            "little room for growth while the copy runs: raise maxmemory",
        )
    } else {
        Item::pass("memory", found)
    }
}

async fn bulk_len(conn: &mut MultiplexedConnection, source_limit: u64) -> Item {
    match config_async(conn, "proto-max-bulk-len").await {
        Some(target) if target < source_limit => Item::warn(
            "proto-max-bulk-len",
            format!(
                "{} on the target, {} on the source",
                bytes(target),
                bytes(source_limit)
            ),
            "a value bigger than the target's limit is refused: raise proto-max-bulk-len on the \
             target to the source's",
        ),
        Some(target) => Item::pass("proto-max-bulk-len", bytes(target)),
        None => Item::warn(
            "proto-max-bulk-len",
            "cannot be read (CONFIG GET refused)",
            "check it is at least the source's by hand",
        ),
    }
}

fn modules(source: &[String], target: &[String]) -> Item {
    let missing: Vec<&String> = source.iter().filter(|m| !target.contains(m)).collect();
    if missing.is_empty() {
        return Item::pass(
            "modules",
            if source.is_empty() {
                "none on the source".to_string()
            } else {
                format!("{} on both", source.join(", "))
            },
        );
    }
    Item::warn(
        "modules",
        format!(
            "the source loads {} and the target does not",
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "keys of those types cannot be written: load the modules on the target (the copy stops \
         at the first such key, or leaves them out with --on-unsupported skip-with-warning)",
    )
}

/// Function libraries need Redis 7.0+ (or Valkey) on the target.
fn functions(libraries: &[String], info: &TargetInfo, skip: bool) -> Item {
    if libraries.is_empty() {
        return Item::pass("functions", "none on the source");
    }
    let named = libraries
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let found = format!(
        "{} on the source ({named})",
        count(libraries.len(), "library", "libraries")
    );
    if info.at_least(7, 0) {
        return Item::pass("functions", found);
    }
    let found = format!("{found}; {} has no functions", info.version);
    cannot_hold("functions", found, skip, "Redis 7.0+ or Valkey", "them")
}

/// Hashes with field TTLs need Redis 7.4+ or Valkey 9+ on the target.
fn field_ttls(hashes: u64, info: &TargetInfo, skip: bool) -> Item {
    if hashes == 0 {
        return Item::pass("field TTLs", "no hash on the source has them");
    }
    let found = format!(
        "{} with field TTLs on the source",
        count(hashes as usize, "hash", "hashes")
    );
    if info.has_field_ttls() {
        return Item::pass("field TTLs", found);
    }
    let found = format!("{found}; {} has no field TTLs", info.version);
    cannot_hold(
        "field TTLs",
        found,
        skip,
        "Redis 7.4+ or Valkey 9+",
        "those hashes",
    )
}

/// What the target cannot hold: a failure, or a warning when `--on-unsupported
/// skip-with-warning` (`skip`) leaves `what` out.
fn cannot_hold(name: &'static str, found: String, skip: bool, holds: &str, what: &str) -> Item {
    if skip {
        let advice = format!("--on-unsupported skip-with-warning: the copy leaves {what} out");
        Item::warn(name, found, advice)
    } else {
        let advice = format!(
            "copy into {holds}, or pass --on-unsupported skip-with-warning to leave {what} out"
        );
        Item::fail(name, found, advice)
    }
}

/// `1 library`, `3 libraries`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Keys the target holds of its own, as the copy's first write would judge them.
async fn keys_of_its_own(
    nodes: &mut [MultiplexedConnection],
    store: &mut MultiplexedConnection,
    policy: slotstream_consumer::OnExisting,
) -> Item {
    let found = match existing::check(nodes, store, OnExisting::Fail, "check", 1).await {
        Ok(found) if found.count == 0 => {
            return Item::pass("keys of its own", "none: the target is empty")
        }
        Ok(found) => found,
        Err(err) => return Item::warn("keys of its own", format!("cannot look: {err}"), ""),
    };
    if let Some(claim) = first_claim(store).await {
        return Item::pass(
            "keys of its own",
            format!(
                "none: it holds a copy slotstream started ({claim}), which a restart continues"
            ),
        );
    }
    match policy {
        OnExisting::Fail => Item::fail(
            "keys of its own",
            found.summary(),
            "empty the target, or pass --on-existing overwrite to copy over them (no sweep \
             ever deletes them)",
        ),
        OnExisting::Overwrite => Item::warn(
            "keys of its own",
            found.summary(),
            "--on-existing overwrite: the copy writes over them, and no sweep deletes them",
        ),
    }
}

/// A key that says slotstream claimed the target for a log (db 0).
async fn first_claim(conn: &mut MultiplexedConnection) -> Option<String> {
    let mut pattern = BOOKKEEPING_PREFIX.to_vec();
    pattern.extend_from_slice(b"claim:*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .ok()?;
        if let Some(key) = keys.first() {
            return Some(String::from_utf8_lossy(key).into_owned());
        }
        if next == 0 {
            return None;
        }
        cursor = next;
    }
}

async fn config_async(conn: &mut MultiplexedConnection, name: &str) -> Option<u64> {
    let pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(conn)
        .await
        .ok()?;
    pair.get(1)?.parse().ok()
}
