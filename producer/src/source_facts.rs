//! What the source holds that some targets cannot: data modules (with the number of keys of
//! each one's value types) and hashes with field TTLs. Read over an ordinary connection before a
//! full sync and carried in `EpochBegin`, so a consumer can refuse a snapshot before it writes
//! any of it.

use redis::{Connection, RedisResult, Value};
use slotstream_schemas::{DbCount, Element, SourceModule};
use std::collections::HashMap;

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

/// At most this many hashes are read looking for examples of field TTLs.
const EXAMPLES_SCANNED: usize = 10_000;
/// At most this many examples are named.
const EXAMPLES: usize = 10;

/// What is read from the source before its snapshot: the facts `EpochBegin` carries, and how
/// many keys it holds (for the snapshot's progress).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFacts {
    pub modules: Vec<SourceModule>,
    pub field_ttl_hashes: Vec<DbCount>,
    pub field_ttl_examples: Vec<Element>,
    /// Keys of every database (`INFO keyspace`), as the snapshot begins.
    pub keys: u64,
}

impl SourceFacts {
    /// Reads the facts from the source. Leaves the connection on database 0.
    pub fn read(conn: &mut Connection) -> RedisResult<Self> {
        let mut facts = SourceFacts::default();
        for name in module_names(conn) {
            let keys = match MODULE_TYPES.iter().find(|(module, _)| *module == name) {
                Some((_, types)) => Some(count_keys_of_types(conn, types)?),
                None => None,
            };
            facts.modules.push(SourceModule { name, keys });
        }
        let info: String = redis::cmd("INFO").arg("keyspace").query(conn)?;
        // Redis 7.4 counts them as `subexpiry`, Valkey 9 as `keys_with_volatile_items`.
        let mut counts = counts_in(&info, "subexpiry");
        counts.extend(counts_in(&info, "keys_with_volatile_items"));
        counts.retain(|count| count.keys > 0);
        for count in &counts {
            let most = EXAMPLES - facts.field_ttl_examples.len();
            if most == 0 {
                break;
            }
            facts
                .field_ttl_examples
                .extend(hashes_with_field_ttls(conn, count.db, most)?);
        }
        facts.field_ttl_hashes = counts;
        facts.keys = counts_in(&info, "keys")
            .iter()
            .map(|count| count.keys)
            .sum();
        redis::cmd("SELECT").arg(0).query::<()>(conn)?;
        Ok(facts)
    }
}

/// `MODULE LIST` names; none when the server has no modules (or no `MODULE` command).
fn module_names(conn: &mut Connection) -> Vec<String> {
    let modules: Vec<HashMap<String, Value>> = match redis::cmd("MODULE").arg("LIST").query(conn) {
        Ok(modules) => modules,
        Err(err) => {
            tracing::debug!(%err, "MODULE LIST failed; taking it as no modules");
            return Vec::new();
        }
    };
    modules
        .iter()
        .filter_map(|module| redis::from_redis_value(module.get("name")?.clone()).ok())
        .collect()
}

/// Keys of the given types in every database (`SCAN … TYPE`).
fn count_keys_of_types(conn: &mut Connection, types: &[&str]) -> RedisResult<u64> {
    let mut count = 0u64;
    for DbCount { db, .. } in keyspace(conn, "keys")? {
        redis::cmd("SELECT").arg(db).query::<()>(conn)?;
        for kind in types {
            scan(conn, kind, |_, _| {
                count += 1;
                Ok(true)
            })?;
        }
    }
    Ok(count)
}

/// Calls `each` with every key of type `kind` in the selected database, until it says stop.
fn scan(
    conn: &mut Connection,
    kind: &str,
    mut each: impl FnMut(&mut Connection, Vec<u8>) -> RedisResult<bool>,
) -> RedisResult<()> {
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg(&["COUNT", "1000", "TYPE", kind])
            .query(conn)?;
        for key in keys {
            if !each(conn, key)? {
                return Ok(());
            }
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Up to `most` names of hashes in `db` with a field TTL, among the first hashes of up to 1,000
/// fields: examples for messages, not a census.
fn hashes_with_field_ttls(
    conn: &mut Connection,
    db: u32,
    most: usize,
) -> RedisResult<Vec<Element>> {
    redis::cmd("SELECT").arg(db).query::<()>(conn)?;
    let (mut names, mut scanned) = (Vec::new(), 0);
    scan(conn, "hash", |conn, key| {
        scanned += 1;
        let fields: Vec<Vec<u8>> = redis::cmd("HKEYS").arg(&key).query(conn)?;
        if !fields.is_empty() && fields.len() <= 1000 {
            let ttls: Vec<i64> = redis::cmd("HPEXPIRETIME")
                .arg(&key)
                .arg("FIELDS")
                .arg(fields.len())
                .arg(&fields)
                .query(conn)?;
            if ttls.iter().any(|&t| t > 0) {
                names.push(Element(key));
            }
        }
        Ok(names.len() < most && scanned < EXAMPLES_SCANNED)
    })?;
    Ok(names)
}

/// `field` of each database in `INFO keyspace` that reports it.
fn keyspace(conn: &mut Connection, field: &str) -> RedisResult<Vec<DbCount>> {
    let info: String = redis::cmd("INFO").arg("keyspace").query(conn)?;
    Ok(counts_in(&info, field))
}

/// `field` of each database in an `INFO keyspace` reply that reports it.
fn counts_in(info: &str, field: &str) -> Vec<DbCount> {
    slotstream_schemas::info::keyspace(info, field)
        .into_iter()
        .map(|(db, keys)| DbCount { db, keys })
        .collect()
}
