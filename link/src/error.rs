//! Errors of making a link: TLS files that cannot be used, and connections or handshakes that
//! fail. Each names the file or the server and what to change.

use std::io;

/// TLS settings that cannot be used: found when they are loaded, before any connection.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {what} {path} given with --{flag}: {cause}")]
    ReadFile {
        what: &'static str,
        flag: String,
        path: String,
        #[source]
        cause: io::Error,
    },

    #[error("the {what} {path} given with --{flag} is not usable: {why}")]
    BadFile {
        what: &'static str,
        flag: String,
        path: String,
        why: String,
    },

    #[error("--{side}-tls-cert and --{side}-tls-key go together: give both files, or neither")]
    HalfIdentity { side: &'static str },

    #[error(
        "--{side}-tls-insecure cannot be combined with a client certificate \
         (--{side}-tls-cert): give the server's CA with --{side}-tls-ca-cert instead"
    )]
    InsecureWithIdentity { side: &'static str },

    #[error(
        "TLS options (--{side}-tls-*) were given, but the {side} URL {url} is not a rediss:// \
         URL; use rediss://host:port to connect over TLS"
    )]
    NotTlsUrl { side: &'static str, url: String },

    #[error("cannot set up TLS for the {side}: {why}")]
    Setup { side: &'static str, why: String },
}

/// A connection that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot connect to {addr}")]
    Connect {
        addr: String,
        #[source]
        cause: io::Error,
    },

    #[error("the TLS handshake with {addr} failed: {why}; {advice}")]
    Handshake {
        addr: String,
        why: String,
        advice: String,
    },

    /// The server dropped the link right after the handshake: with TLS 1.3 that is how a
    /// server refuses a client certificate, but a network fault looks the same.
    #[error("{addr} closed the TLS link right after the handshake ({why}); {advice}")]
    Closed {
        addr: String,
        why: String,
        advice: String,
    },
}

impl LinkError {
    /// A failed handshake is a setting to change, not a blip to retry.
    pub fn is_handshake(&self) -> bool {
        matches!(self, LinkError::Handshake { .. })
    }

    /// Whether a new attempt can help: never after a failed handshake; after a link closed
    /// at once, as after an unreachable server (not on a run's first attempt).
    pub fn retry(&self) -> slotstream_schemas::retry::Retry {
        use slotstream_schemas::retry::Retry;
        match self {
            LinkError::Handshake { .. } => Retry::Fatal,
            LinkError::Connect { .. } | LinkError::Closed { .. } => Retry::Unreachable,
        }
    }
}

impl From<LinkError> for io::Error {
    fn from(err: LinkError) -> io::Error {
        match err {
            LinkError::Connect { cause, .. } => cause,
            handshake => io::Error::new(io::ErrorKind::InvalidData, handshake.to_string()),
        }
    }
}
