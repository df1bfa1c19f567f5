//! Errors of the apply side, each naming the destination, partition and key involved.

use slotstream_schemas::log::LogError;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("bad target URL {url}: {why}")]
    BadUrl { url: String, why: String },

    #[error("cannot connect to target {addr}: {cause}; check --target and that the server is up")]
    Connect {
        addr: String,
        cause: redis::RedisError,
    },

    #[error("target {addr} failed {doing}: {cause}")]
    Redis {
        addr: String,
        doing: String,
        cause: redis::RedisError,
    },

    #[error(
        "target {addr} rejected key {key} (db {db}, partition {partition}): {reply}{hint}; \
         nothing after this record was applied in this partition"
    )]
    Rejected {
        addr: String,
        partition: u32,
        db: u32,
        key: String,
        reply: String,
        hint: &'static str,
    },

    #[error("target {addr} cannot take this snapshot: {why}")]
    Incompatible { addr: String, why: String },

    #[error("partition {partition}: {what}")]
    Log { partition: u32, what: String },

    #[error("partition {partition}")]
    Read {
        partition: u32,
        #[source]
        cause: LogError,
    },
}

/// What an operator should do about a rejected command, judged from the reply.
pub fn hint_for(reply: &str) -> &'static str {
    if reply.starts_with("OOM") {
        " (the target is out of memory: raise its maxmemory or free space, then run again)"
    } else if reply.starts_with("NOAUTH") || reply.starts_with("NOPERM") {
        " (the target user lacks permission: check the credentials in --target and its ACL)"
    } else if reply.contains("payload version or checksum") {
        " (the target is older than the source and cannot read its format)"
    } else if reply.starts_with("READONLY") {
        " (the target is a replica: point --target at its primary)"
    } else {
        ""
    }
}

/// Whether an error reply is the destination's own trouble (memory, permissions, role, state)
/// rather than the command's outcome. A source replicates a `MULTI` block whole even when one
/// of its commands failed there; the same failure on the destination is the same outcome and is
/// not a fault, while any of these is.
pub fn is_target_fault(err: &redis::ServerError) -> bool {
    let code = err.code();
    let details = err.details().unwrap_or_default();
    matches!(
        code,
        "OOM"
            | "NOAUTH"
            | "NOPERM"
            | "WRONGPASS"
            | "READONLY"
            | "LOADING"
            | "MISCONF"
            | "BUSY"
            | "MASTERDOWN"
            | "NOREPLICAS"
            | "EXECABORT"
            | "CROSSSLOT"
            | "MOVED"
            | "ASK"
            | "CLUSTERDOWN"
            | "TRYAGAIN"
            | "NOSCRIPT"
    ) || details.contains("payload version or checksum")
        || details.starts_with("unknown command")
}
