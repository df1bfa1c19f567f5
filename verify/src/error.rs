//! [`VerifyError`]: why a comparison could not be made (a server that cannot be reached, refuses
//! the credentials or answers in a way verify does not understand), naming the side and address.
//! Differences between the servers are not errors: they are in the report.

use redis::RedisError;
use std::fmt;

/// Which of the two servers something is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Source,
    Target,
}

impl Role {
    /// `source` or `target`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Target => "target",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A comparison that could not be made. Each variant names the side, and where there is one
/// its `host:port` (never the password), and says what to check.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `--map-db` and the filters describe no comparison verify can make.
    #[error("cannot compare: {0}")]
    Scope(String),
    #[error(
        "the {role} URL is not valid ({error}); expected redis://[user:password@]host:port or \
         rediss://… for TLS"
    )]
    InvalidUrl { role: Role, error: RedisError },
    /// The side's TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] slotstream_link::TlsError),
    /// The side's TLS handshake failed.
    #[error("cannot connect to the {role} over TLS: {error}")]
    Handshake {
        role: Role,
        error: slotstream_link::LinkError,
    },
    #[error(
        "{role} {addr}: authentication failed ({error}); check the user and password in the \
         --{role} URL"
    )]
    Authentication {
        role: Role,
        addr: String,
        error: RedisError,
    },
    #[error(
        "cannot reach the {role} at {addr} ({error}); check that the server is running and that \
         --{role} has the right host and port"
    )]
    Unreachable {
        role: Role,
        addr: String,
        error: RedisError,
    },
    /// Any other error reply or failure of a command.
    #[error("{role} {addr}: {error}")]
    Server {
        role: Role,
        addr: String,
        error: RedisError,
    },
    /// A reply of a shape the command never gives.
    #[error("{role} {addr}: unexpected {command} reply {reply}")]
    UnexpectedReply {
        role: Role,
        addr: String,
        command: &'static str,
        reply: String,
    },
}
