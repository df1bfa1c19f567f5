//! Errors of the capture side, each naming the source and what the operator can do, and each
//! saying whether a new attempt can help ([`Retryable`]).

use slotstream_link::{LinkError, TlsError};
use slotstream_rdb::{RdbError, RdbErrorKind};
use slotstream_schemas::log::LogError;
use slotstream_schemas::retry::{Retry, Retryable};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("bad source URL {url}: {why}")]
    BadUrl { url: String, why: String },

    #[error("cannot connect to source {addr} (check --source and that the server is up)")]
    Connect {
        addr: String,
        #[source]
        cause: std::io::Error,
    },

    /// The TLS handshake failed: a certificate, a CA or a TLS version to change.
    #[error("cannot connect to the source over TLS: {0}")]
    Tls(LinkError),

    /// The `--source-tls-*` files cannot be used.
    #[error(transparent)]
    TlsSettings(#[from] TlsError),

    /// The link dropped at its first command: a TLS port given a `redis://` URL does this.
    #[error(
        "source {addr} closed the connection at the first command ({cause}); if that port speaks \
         TLS, use a rediss:// URL; else check --source and the server's log"
    )]
    ClosedAtStart {
        addr: String,
        #[source]
        cause: std::io::Error,
    },

    #[error(
        "source {addr} refused the credentials: {reply}; check the user and password in --source"
    )]
    Auth { addr: String, reply: String },

    /// The account may not run a command the capture needs (found with `ACL DRYRUN`).
    #[error("source {addr}: {why}")]
    Permission { addr: String, why: String },

    #[error("source {addr} refused {command}: {reply}")]
    Refused {
        addr: String,
        command: String,
        reply: String,
    },

    #[error("source {addr} is not supported: {what}")]
    Unsupported { addr: String, what: String },

    /// A live command the key filter cannot cut exactly.
    #[error("a command from source {addr} cannot be filtered exactly: {what}")]
    Filtered { addr: String, what: String },

    /// Slots move between the shards of a cluster source: the moved keys' writes are on two
    /// shards' streams, which are applied independently.
    #[error(
        "slots of source {addr}'s cluster are moving between its shards ({what}); the copy \
         starts again once the resharding is over, with a new snapshot of every shard"
    )]
    SlotsMoved { addr: String, what: String },

    #[error(
        "source {addr} broke the replication protocol: {what}; check that --source points at a \
         Redis or Valkey server and that nothing else (a proxy, another service) answers on \
         that port"
    )]
    Protocol { addr: String, what: String },

    #[error("lost the link to source {addr} while {doing}{}", silence(.cause))]
    Io {
        addr: String,
        doing: String,
        #[source]
        cause: std::io::Error,
    },

    #[error("snapshot from source {addr} is unusable{}", stalled(.cause))]
    Rdb {
        addr: String,
        #[source]
        cause: RdbError,
    },

    #[error("cannot write to the log")]
    Log(#[from] LogError),

    /// Not a fault: the run was asked to stop (SIGTERM) before `during` ended. What is in the
    /// log stands; the caller decides what a restart does with it.
    #[error("stopped on request during {during}")]
    Stopped { during: &'static str },
}

impl Retryable for CaptureError {
    fn retry(&self) -> Retry {
        match self {
            CaptureError::Connect { .. } | CaptureError::ClosedAtStart { .. } => Retry::Unreachable,
            CaptureError::Io { .. } => Retry::Reconnect,
            // The transfer stopped: the source dropped the link (its output buffer limit for
            // replicas, a network blip), not a fault of the snapshot itself.
            CaptureError::Rdb { cause, .. }
                if matches!(cause.kind, RdbErrorKind::Truncated | RdbErrorKind::Io(_)) =>
            {
                Retry::Reconnect
            }
            CaptureError::Refused { reply, .. } => {
                let code = reply
                    .trim_start_matches('-')
                    .split(' ')
                    .next()
                    .unwrap_or_default();
                if matches!(
                    code,
                    "LOADING" | "BUSY" | "MASTERDOWN" | "NOMASTERLINK" | "TRYAGAIN"
                ) {
                    Retry::Later
                } else {
                    Retry::Fatal
                }
            }
            CaptureError::Log(err) => err.retry(),
            CaptureError::Tls(err) => err.retry(),
            CaptureError::SlotsMoved { .. } => Retry::Later,
            CaptureError::BadUrl { .. }
            | CaptureError::TlsSettings(_)
            | CaptureError::Permission { .. }
            | CaptureError::Auth { .. }
            | CaptureError::Protocol { .. }
            | CaptureError::Unsupported { .. }
            | CaptureError::Filtered { .. }
            | CaptureError::Rdb { .. }
            | CaptureError::Stopped { .. } => Retry::Fatal,
        }
    }
}

/// What a read timeout means, said in words: the OS calls it "Resource temporarily
/// unavailable".
fn silence(cause: &std::io::Error) -> &'static str {
    match cause.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            " (nothing came for longer than the read timeout, --source-timeout-secs)"
        }
        _ => "",
    }
}

/// A snapshot whose bytes stopped coming: the read timeout, said as [`silence`] says it.
fn stalled(cause: &RdbError) -> &'static str {
    match &cause.kind {
        RdbErrorKind::Io(io) => silence(io),
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn rdb(kind: RdbErrorKind) -> CaptureError {
        CaptureError::Rdb {
            addr: "s:1".into(),
            cause: RdbError {
                offset: 10,
                key: None,
                kind,
            },
        }
    }

    #[test]
    fn each_error_says_whether_to_retry() {
        let io = |kind| io::Error::new(kind, "x");
        let cases = [
            (
                CaptureError::Connect {
                    addr: "s:1".into(),
                    cause: io(io::ErrorKind::ConnectionRefused),
                },
                Retry::Unreachable,
            ),
            (
                CaptureError::Io {
                    addr: "s:1".into(),
                    doing: "reading".into(),
                    cause: io(io::ErrorKind::ConnectionReset),
                },
                Retry::Reconnect,
            ),
            (rdb(RdbErrorKind::Truncated), Retry::Reconnect),
            (
                rdb(RdbErrorKind::Io(io(io::ErrorKind::UnexpectedEof))),
                Retry::Reconnect,
            ),
            (rdb(RdbErrorKind::UnknownType(200)), Retry::Fatal),
            (
                rdb(RdbErrorKind::Checksum {
                    stored: 1,
                    computed: 2,
                }),
                Retry::Fatal,
            ),
            (
                CaptureError::Auth {
                    addr: "s:1".into(),
                    reply: "WRONGPASS".into(),
                },
                Retry::Fatal,
            ),
            (
                CaptureError::Refused {
                    addr: "s:1".into(),
                    command: "PSYNC".into(),
                    reply: "LOADING Redis is loading the dataset in memory".into(),
                },
                Retry::Later,
            ),
            (
                CaptureError::Refused {
                    addr: "s:1".into(),
                    command: "PSYNC".into(),
                    reply: "NOPERM this user has no permissions to run the 'psync' command".into(),
                },
                Retry::Fatal,
            ),
            (
                CaptureError::Protocol {
                    addr: "s:1".into(),
                    what: "garbage".into(),
                },
                Retry::Fatal,
            ),
            (
                CaptureError::Unsupported {
                    addr: "s:1".into(),
                    what: "a cluster node".into(),
                },
                Retry::Fatal,
            ),
            (
                CaptureError::Stopped {
                    during: "the snapshot",
                },
                Retry::Fatal,
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(err.retry(), expected, "{err:?}");
        }
    }

    #[test]
    fn a_read_timeout_says_so() {
        let err = |kind| CaptureError::Io {
            addr: "s:1".into(),
            doing: "waiting for the command stream".into(),
            cause: io::Error::new(kind, "os words"),
        };
        assert_eq!(
            err(io::ErrorKind::WouldBlock).to_string(),
            "lost the link to source s:1 while waiting for the command stream (nothing came for \
             longer than the read timeout, --source-timeout-secs)"
        );
        assert_eq!(
            err(io::ErrorKind::ConnectionReset).to_string(),
            "lost the link to source s:1 while waiting for the command stream"
        );
    }
}
