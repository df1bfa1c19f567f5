//! Before a copy starts: what the source holds that the target cannot, found before anything
//! is written. Values of modules the target has not loaded (named, with the source's key count
//! of their types), and hashes with field TTLs for a target without them (counted per database
//! from `INFO keyspace`, with some of their names).

use anyhow::Context;
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::collections::BTreeSet;

/// Data modules and the value types they define (as `TYPE` names them).
const MODULE_TYPES: &[(&str, &[&str])] = &[
    ("ReJSON", &["ReJSON-RL"]),
    (
        "bf",
        &[
            "MBbloom--",
            "MBbloomCF",
            "TopK-TYPE",
            "CMSk-TYPE",
            "TDIS-TYPE",
        ],
    ),
    ("timeseries", &["TSDB-TYPE"]),
    ("graph", &["graphdata"]),
];

/// Runs every check; fails on the first that finds something the target cannot hold. A check
/// that cannot run (a server unreachable, a password missing) is passed over: the copy itself
/// reports such problems, with its own messages.
pub async fn check(
    source_url: &str,
    target_url: &str,
    fail_on_field_ttls: bool,
) -> anyhow::Result<()> {
    let modules = check_modules(source_url, target_url).await;
    let field_ttls = if fail_on_field_ttls {
        check_field_ttls(source_url, target_url).await
    } else {
        Ok(None)
    };
    for outcome in [modules, field_ttls] {
        match outcome {
            Ok(Some(finding)) => anyhow::bail!(finding),
            Ok(None) => {}
            Err(err) => tracing::debug!(%err, "a check before the copy could not run"),
        }
    }
    Ok(())
}

/// What is wrong when the source has keys of a module type whose module the target lacks.
async fn check_modules(source_url: &str, target_url: &str) -> anyhow::Result<Option<String>> {
    let mut source = connect(source_url).await?;
    let mut target = connect(target_url).await?;
    let on_source = module_names(&mut source).await;
    let on_target = module_names(&mut target).await;
    let missing: Vec<&String> = on_source.difference(&on_target).collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let mut blocking = Vec::new();
    for name in missing {
        let Some((_, types)) = MODULE_TYPES.iter().find(|(module, _)| module == name) else {
            tracing::warn!(
                module = %name,
                "the source has a module the target has not loaded; slotstream knows no value \
                 types of it, so keys of such types (if any) will fail when they are written"
            );
            continue;
        };
        let count = count_keys_of_types(&mut source, types).await?;
        if count > 0 {
            blocking.push(format!(
                "{name} ({count} keys of types {})",
                types.join(", ")
            ));
        }
    }
    if blocking.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "the target has not loaded modules whose values the source holds: {}; nothing was \
         written. Load them on the target (--loadmodule) and start again",
        blocking.join("; ")
    )))
}

async fn connect(url: &str) -> anyhow::Result<MultiplexedConnection> {
    let client = redis::Client::open(url).context("opening a connection for the module check")?;
    client
        .get_multiplexed_async_connection()
        .await
        .context("connecting for the module check")
}

/// `MODULE LIST` names; none when the server has no modules (or no `MODULE` command).
async fn module_names(conn: &mut MultiplexedConnection) -> BTreeSet<String> {
    let reply: Value = match redis::cmd("MODULE").arg("LIST").query_async(conn).await {
        Ok(reply) => reply,
        Err(err) => {
            tracing::debug!(%err, "MODULE LIST failed; taking it as no modules");
            return BTreeSet::new();
        }
    };
    let Value::Array(modules) = reply else {
        return BTreeSet::new();
    };
    modules
        .iter()
        .filter_map(|module| {
            let fields: Vec<&Value> = match module {
                Value::Array(items) => items.iter().collect(),
                Value::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
                _ => return None,
            };
            fields.chunks(2).find_map(|pair| match pair {
                [Value::BulkString(k), Value::BulkString(v)] if k == b"name" => {
                    Some(String::from_utf8_lossy(v).into_owned())
                }
                _ => None,
            })
        })
        .collect()
}

/// Keys of the given types in every database of the source (`SCAN … TYPE`).
async fn count_keys_of_types(
    conn: &mut MultiplexedConnection,
    types: &[&str],
) -> anyhow::Result<u64> {
    let mut count = 0u64;
    for (db, _) in keyspace(conn, "keys").await? {
        redis::cmd("SELECT")
            .arg(db)
            .query_async::<()>(conn)
            .await
            .context("SELECT on the source")?;
        for kind in types {
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(1000)
                    .arg("TYPE")
                    .arg(*kind)
                    .query_async(conn)
                    .await
                    .context("SCAN on the source")?;
                count += keys.len() as u64;
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
    }
    Ok(count)
}

/// What is wrong when the target has no hash field TTLs and the source has hashes with some.
async fn check_field_ttls(source_url: &str, target_url: &str) -> anyhow::Result<Option<String>> {
    let mut source = connect(source_url).await?;
    let mut target = connect(target_url).await?;
    let probe: redis::RedisResult<Value> = redis::cmd("HPEXPIRETIME")
        .arg("__slotstream:probe")
        .arg(&["FIELDS", "1", "f"])
        .query_async(&mut target)
        .await;
    match probe {
        Ok(_) => return Ok(None),
        Err(err) if err.kind() == redis::ErrorKind::AuthenticationFailed => return Err(err.into()),
        Err(err)
            if !err
                .to_string()
                .to_ascii_lowercase()
                .contains("unknown command") =>
        {
            return Err(err.into())
        }
        Err(_) => {}
    }
    // Redis 7.4 counts them as `subexpiry`, Valkey 9 as `keys_with_volatile_items`.
    let mut counts = keyspace(&mut source, "subexpiry").await?;
    counts.extend(keyspace(&mut source, "keys_with_volatile_items").await?);
    counts.retain(|&(_, n)| n > 0);
    if counts.is_empty() {
        return Ok(None);
    }
    let total: u64 = counts.iter().map(|&(_, n)| n).sum();
    let per_db: Vec<String> = counts
        .iter()
        .map(|(db, n)| format!("db {db}: {n}"))
        .collect();
    let mut names = Vec::new();
    for &(db, _) in &counts {
        names.extend(some_hashes_with_field_ttls(&mut source, db, 10 - names.len()).await?);
    }
    Ok(Some(format!(
        "the source has {total} hashes with field TTLs ({}){}, and the target has no hash field \
         TTLs (HEXPIRE needs Redis 7.4+ or Valkey 9+); nothing was written. Use such a target, \
         or pass --on-unsupported=skip-with-warning to copy everything else and leave these \
         keys out",
        per_db.join(", "),
        if names.is_empty() {
            String::new()
        } else {
            format!(", e.g. {}", names.join(", "))
        }
    )))
}

/// Up to `most` names of hashes in `db` with a field TTL (among hashes of up to 1,000 fields:
/// examples for the message, not a census).
async fn some_hashes_with_field_ttls(
    conn: &mut MultiplexedConnection,
    db: u32,
    most: usize,
) -> anyhow::Result<Vec<String>> {
    const SCANNED: usize = 10_000;
    redis::cmd("SELECT")
        .arg(db)
        .query_async::<()>(conn)
        .await
        .context("SELECT on the source")?;
    let (mut names, mut scanned, mut cursor) = (Vec::new(), 0, 0u64);
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg(&["COUNT", "1000", "TYPE", "hash"])
            .query_async(conn)
            .await
            .context("SCAN on the source")?;
        for key in keys {
            scanned += 1;
            let fields: Vec<Vec<u8>> = redis::cmd("HKEYS").arg(&key).query_async(conn).await?;
            if fields.is_empty() || fields.len() > 1000 {
                continue;
            }
            let ttls: Vec<i64> = redis::cmd("HPEXPIRETIME")
                .arg(&key)
                .arg("FIELDS")
                .arg(fields.len())
                .arg(&fields)
                .query_async(conn)
                .await?;
            if ttls.iter().any(|&t| t > 0) {
                names.push(slotstream_schemas::display::show_key(&key).to_string());
                if names.len() >= most {
                    return Ok(names);
                }
            }
        }
        if next == 0 || scanned >= SCANNED {
            return Ok(names);
        }
        cursor = next;
    }
}

/// `(db, value of field)` for each database in `INFO keyspace` that reports `field`.
async fn keyspace(
    conn: &mut MultiplexedConnection,
    field: &str,
) -> anyhow::Result<Vec<(u32, u64)>> {
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query_async(conn)
        .await
        .context("INFO keyspace on the source")?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (db, stats) = line.strip_prefix("db")?.split_once(':')?;
            let value = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix(field)?.strip_prefix('='))?;
            Some((db.parse().ok()?, value.trim().parse().ok()?))
        })
        .collect())
}
