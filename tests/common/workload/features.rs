//! What the server under test can do, found once before the run, so one workload covers
//! Redis 5.0 through Valkey 9: commands come from `COMMAND INFO`, options from the version.

use redis::{Connection, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `redis_version` from `INFO server` (Valkey reports the Redis version it is compatible
    /// with, 7.2.4, which is what option support follows).
    pub version: (u64, u64, u64),
    /// SWAPDB (4.0).
    pub swapdb: bool,
    /// COPY (6.2).
    pub copy: bool,
    /// LMOVE (6.2); RPOPLPUSH otherwise.
    pub lmove: bool,
    /// FUNCTION LOAD and FCALL (7.0).
    pub functions: bool,
    /// SET ... KEEPTTL (6.0). Before it, INCRBYFLOAT replicates as a plain SET, which drops
    /// the key's TTL on the replica but not on the source.
    pub keepttl: bool,
    /// 6.2 options: SET ... GET, LPOP/RPOP/SPOP counts, XTRIM MINID, XGROUP CREATECONSUMER.
    pub redis_62: bool,
}

impl Features {
    pub fn detect(conn: &mut Connection) -> Features {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query(conn)
            .expect("INFO server");
        let version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .map(parse_version)
            .unwrap_or_else(|| panic!("no redis_version in INFO:\n{info}"));
        Features {
            version,
            swapdb: has_command(conn, "swapdb"),
            copy: has_command(conn, "copy"),
            lmove: has_command(conn, "lmove"),
            functions: has_command(conn, "fcall") && has_command(conn, "function"),
            keepttl: version >= (6, 0, 0),
            redis_62: version >= (6, 2, 0),
        }
    }
}

/// `COMMAND INFO name` answers `[nil]` for a command the server does not have.
fn has_command(conn: &mut Connection, name: &str) -> bool {
    let reply: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg(name)
        .query(conn)
        .unwrap_or_else(|err| panic!("COMMAND INFO {name}: {err}"));
    match reply {
        Value::Array(items) => items.first().is_some_and(|item| *item != Value::Nil),
        _ => false,
    }
}

fn parse_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.trim().split('.').map(|p| p.parse().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next(), next(), next())
}
