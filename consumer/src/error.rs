//! Errors of the apply side, each naming the destination, partition and key involved, and
//! each saying whether a new attempt can help ([`Retryable`]).

use slotstream_schemas::log::LogError;
use slotstream_schemas::retry::{Retry, Retryable};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("bad target URL {url}: {why}")]
    BadUrl { url: String, why: String },

    #[error(
        "cannot connect to target {addr} (check --target and that the server is up; a port that \
         speaks TLS needs a rediss:// URL)"
    )]
    Connect {
        addr: String,
        #[source]
        cause: redis::RedisError,
    },

    /// The TLS handshake failed: a certificate, a CA or a TLS version to change.
    #[error("cannot connect to the target over TLS: {0}")]
    Tls(slotstream_link::LinkError),

    /// The `--target-tls-*` files cannot be used.
    #[error(transparent)]
    TlsSettings(#[from] slotstream_link::TlsError),

    /// The account may not run a command the apply side needs (found with `ACL DRYRUN`).
    #[error("target {addr}: {why}")]
    Permission { addr: String, why: String },

    #[error("target {addr} failed {doing}{hint}", hint = redis_hint(cause))]
    Redis {
        addr: String,
        doing: String,
        #[source]
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

    #[error("target {addr} cannot take this copy: {why}")]
    Incompatible { addr: String, why: String },

    /// A cluster destination that cannot take every slot right now (`cluster_state:fail`,
    /// slots without a primary): refused before the first write, waited out after it.
    #[error("target {addr} is a cluster that cannot take every slot: {why}")]
    ClusterDown { addr: String, why: String },

    #[error("target {addr} is not empty: {why}")]
    NotEmpty { addr: String, why: String },

    #[error(transparent)]
    Unsupported(Box<UnsupportedCommand>),

    #[error(transparent)]
    Stray(Box<StrayRecord>),

    #[error("partition {partition}: {what}")]
    Log { partition: u32, what: String },

    /// The partition that applied a barrier this one waited at failed; `retry` is that
    /// failure's, so the run is retried as it would be for the partition that failed.
    #[error("partition {partition}: a barrier at offset {offset} was not applied: {why}")]
    Barrier {
        partition: u32,
        offset: u64,
        why: String,
        retry: Retry,
    },

    #[error("partition {partition}: reading the log failed")]
    Read {
        partition: u32,
        #[source]
        cause: LogError,
    },
}

/// A live command no form the destination knows can express, with
/// `--on-unsupported=fail`.
#[derive(Debug, thiserror::Error)]
#[error(
    "target {addr} ({version}) cannot apply the live command {command} on key {key} (db {db}, \
     partition {partition}): {what} need {needs}; nothing of its batch was written. Use such a \
     target, or pass --on-unsupported=skip-with-warning to leave such commands out (each is \
     logged and counted as left out)"
)]
pub struct UnsupportedCommand {
    pub addr: String,
    pub version: String,
    pub partition: u32,
    pub db: u32,
    pub key: String,
    pub command: String,
    pub what: &'static str,
    pub needs: &'static str,
}

/// A record that cannot follow what its partition read: another source's, an older epoch's
/// after a newer one, or a newer epoch's without its `EpochBegin`. Some other writer feeds the log (two producers, or one that lost
/// its resume point and started its epochs over); applying it would mix two histories.
#[derive(Debug, thiserror::Error)]
pub enum StrayRecord {
    #[error(
        "the record at {log}[{partition}] offset {offset} comes from source {found:?}, but this \
         partition applies source {expected:?}; nothing from it on was applied in this \
         partition. Another producer writes into this topic: stop it and give each source a \
         topic of its own (if it is the same source under a new address, produce with \
         --source-id {expected:?})"
    )]
    OtherSource {
        log: String,
        partition: u32,
        offset: String,
        expected: String,
        found: String,
    },

    #[error(
        "the record at {log}[{partition}] offset {offset} is of epoch {found}, older than epoch \
         {applied} this partition has already reached; nothing from it on was applied in this \
         partition. A second producer writes into this topic, or the producer lost its resume \
         point ({log}.resume) and started its epochs over: stop every other producer, and \
         after a lost resume point produce into a new topic and consume that one"
    )]
    OlderEpoch {
        log: String,
        partition: u32,
        offset: String,
        found: u64,
        applied: u64,
    },

    #[error(
        "the record at {log}[{partition}] offset {offset} is of epoch {found}, newer than epoch \
         {applied} this partition has reached, but this consumer never read the EpochBegin that \
         opens it: this is not the log the target's checkpoints came from (the topic was \
         deleted and created again, or its broker lost its data). Nothing from it on was \
         applied in this partition. Find out which; to copy afresh, produce into a new topic \
         and consume that into an emptied target"
    )]
    UnannouncedEpoch {
        log: String,
        partition: u32,
        offset: String,
        found: u64,
        applied: u64,
    },
}

impl Retryable for ApplyError {
    fn retry(&self) -> Retry {
        match self {
            ApplyError::Connect { cause, .. } if refused_credentials(cause) => Retry::Fatal,
            ApplyError::Connect { .. } => Retry::Unreachable,
            ApplyError::Redis { cause, .. } => {
                if cause.is_io_error()
                    || cause.is_connection_dropped()
                    || cause.is_timeout()
                    || cause.code().is_some_and(moved)
                {
                    Retry::Reconnect
                } else if cause.code().is_some_and(passes) {
                    Retry::Later
                } else {
                    Retry::Fatal
                }
            }
            ApplyError::Rejected { reply, .. } => {
                let code = reply.split(' ').next().unwrap_or_default();
                if moved(code) {
                    Retry::Reconnect
                } else if passes(code) {
                    Retry::Later
                } else {
                    Retry::Fatal
                }
            }
            ApplyError::Read { cause, .. } => cause.retry(),
            // Like a server that is down: an error on the first attempt, waited out later.
            ApplyError::ClusterDown { .. } => Retry::Unreachable,
            ApplyError::Tls(err) => err.retry(),
            ApplyError::TlsSettings(_) | ApplyError::Permission { .. } => Retry::Fatal,
            ApplyError::Barrier { retry, .. } => *retry,
            ApplyError::BadUrl { .. }
            | ApplyError::Incompatible { .. }
            | ApplyError::NotEmpty { .. }
            | ApplyError::Unsupported(_)
            | ApplyError::Stray(_)
            | ApplyError::Log { .. } => Retry::Fatal,
        }
    }
}

/// Whether an error code is a state of the destination that passes on its own or once an
/// operator acts (loading its data, a script running, a failover, memory freed), rather than
/// a refusal of the data.
fn passes(code: &str) -> bool {
    matches!(
        code,
        "LOADING"
            | "BUSY"
            | "TRYAGAIN"
            | "MASTERDOWN"
            | "CLUSTERDOWN"
            | "NOREPLICAS"
            | "READONLY"
            | "OOM"
    )
}

/// Whether a cluster moved the slot elsewhere: the run starts again, reading the slot map
/// afresh, from the checkpoints (which moved with their slots).
fn moved(code: &str) -> bool {
    matches!(code, "MOVED" | "ASK")
}

/// Whether the server refused the credentials: waiting does not fix a wrong password.
fn refused_credentials(err: &redis::RedisError) -> bool {
    matches!(
        err.kind(),
        redis::ErrorKind::AuthenticationFailed
            | redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm)
    ) || err
        .code()
        .is_some_and(|c| matches!(c, "WRONGPASS" | "NOAUTH" | "NOPERM"))
}

/// An error and its sources, joined as `anyhow` shows them (`what: why: root cause`).
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// [`hint_for`] an error the target answered.
fn redis_hint(cause: &redis::RedisError) -> &'static str {
    cause.code().map_or("", hint_for)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn server_error(text: &str) -> redis::RedisError {
        match redis::parse_redis_value(format!("-{text}\r\n").as_bytes()) {
            Ok(redis::Value::ServerError(err)) => err.into(),
            other => panic!("not an error reply: {other:?}"),
        }
    }

    fn redis(cause: redis::RedisError) -> ApplyError {
        ApplyError::Redis {
            addr: "t:1".into(),
            doing: "x".into(),
            cause,
        }
    }

    fn rejected(reply: &str) -> ApplyError {
        ApplyError::Rejected {
            addr: "t:1".into(),
            partition: 0,
            db: 0,
            key: "k".into(),
            reply: reply.into(),
            hint: hint_for(reply),
        }
    }

    #[test]
    fn each_error_says_whether_to_retry() {
        let dropped = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "slow");
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let cases = [
            (redis(dropped.into()), Retry::Reconnect),
            (redis(timed_out.into()), Retry::Reconnect),
            (
                redis(server_error("LOADING Redis is loading")),
                Retry::Later,
            ),
            (redis(server_error("ERR unknown command")), Retry::Fatal),
            (
                ApplyError::Connect {
                    addr: "t:1".into(),
                    cause: refused.into(),
                },
                Retry::Unreachable,
            ),
            (
                ApplyError::Connect {
                    addr: "t:1".into(),
                    cause: server_error("WRONGPASS invalid username-password pair"),
                },
                Retry::Fatal,
            ),
            (rejected("OOM command not allowed"), Retry::Later),
            (
                ApplyError::ClusterDown {
                    addr: "t:1".into(),
                    why: "cluster_state fail".into(),
                },
                Retry::Unreachable,
            ),
            (
                rejected("READONLY You can't write against a read only replica."),
                Retry::Later,
            ),
            (
                rejected("BUSY Redis is busy running a script"),
                Retry::Later,
            ),
            (rejected("ERR Bad data format"), Retry::Fatal),
            (rejected("MOVED 3999 127.0.0.1:7002"), Retry::Reconnect),
            (rejected("CLUSTERDOWN The cluster is down"), Retry::Later),
            (
                rejected("NOPERM this user has no permissions"),
                Retry::Fatal,
            ),
            (
                ApplyError::Incompatible {
                    addr: "t:1".into(),
                    why: "modules".into(),
                },
                Retry::Fatal,
            ),
            (
                ApplyError::BadUrl {
                    url: "x".into(),
                    why: "y".into(),
                },
                Retry::Fatal,
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(err.retry(), expected, "{err:?}");
        }
    }

    #[test]
    fn causes_are_sources_not_repeated_in_the_message() {
        let err = redis(server_error("LOADING Redis is loading"));
        assert!(std::error::Error::source(&err).is_some());
        assert!(!err.to_string().contains("loading"), "{err}");
    }
}
