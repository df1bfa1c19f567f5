//! Before a copy starts: the source's data modules that the target has not loaded, and how many
//! keys of their types the source holds. A copy that would meet such keys stops here, before
//! anything is written, naming the modules and the counts.

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

/// Fails when the source has keys of a module type whose module the target lacks.
pub async fn check_modules(source_url: &str, target_url: &str) -> anyhow::Result<()> {
    // A server that cannot be reached is reported by the copy itself, with its own message.
    let (Ok(mut source), Ok(mut target)) = (connect(source_url).await, connect(target_url).await)
    else {
        return Ok(());
    };
    let on_source = module_names(&mut source).await;
    let on_target = module_names(&mut target).await;
    let missing: Vec<&String> = on_source.difference(&on_target).collect();
    if missing.is_empty() {
        return Ok(());
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
        return Ok(());
    }
    anyhow::bail!(
        "the target has not loaded modules whose values the source holds: {}; nothing was \
         written. Load them on the target (--loadmodule) and start again",
        blocking.join("; ")
    )
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
    let info: String = redis::cmd("INFO")
        .arg("keyspace")
        .query_async(conn)
        .await
        .context("INFO keyspace on the source")?;
    let dbs: Vec<u32> = info
        .lines()
        .filter_map(|line| line.strip_prefix("db")?.split(':').next()?.parse().ok())
        .collect();
    let mut count = 0u64;
    for db in dbs {
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
