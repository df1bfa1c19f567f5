//! Settings of the capture side: where the source is and how patient to be with it.

use crate::error::CaptureError;
use slotstream_schemas::display::redact_url;
use std::time::Duration;

/// How to reach the source and what to call it in the records.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// `redis://[user:password@]host:port`
    pub url: String,
    /// Name written into every record; defaults to `host:port`.
    pub source_id: Option<String>,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// The source sends keepalives at least every few seconds while it prepares a snapshot and
    /// pings every 10 s afterwards; silence longer than this means the link is dead.
    pub read_timeout: Duration,
    /// Largest single value held in memory while cutting the snapshot.
    pub max_object_bytes: usize,
    /// Collections that grow past this many bytes are sent as `SnapshotChunk`s of about
    /// this size, so no whole big value is held anywhere.
    pub chunk_bytes: usize,
}

impl SourceConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            source_id: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_object_bytes: 1 << 30,
            chunk_bytes: slotstream_rdb::DEFAULT_CHUNK_BYTES,
        }
    }
}

/// A parsed source address with credentials.
#[derive(Clone)]
pub struct SourceAddr {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for SourceAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for SourceAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl SourceAddr {
    /// Parses `redis://[user:password@]host:port`, with the same rules as the redis crate.
    pub fn parse(url: &str) -> Result<Self, CaptureError> {
        use redis::IntoConnectionInfo;
        let bad = |why: String| CaptureError::BadUrl {
            url: redact_url(url),
            why,
        };
        if !url.starts_with("redis://") {
            return Err(bad("expected redis://[user:password@]host:port".into()));
        }
        let info = url.into_connection_info().map_err(|e| bad(e.to_string()))?;
        let (host, port) = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            _ => return Err(bad("only plain TCP sources are supported".into())),
        };
        let settings = info.redis_settings();
        Ok(Self {
            host,
            port,
            username: settings.username().map(str::to_owned),
            password: settings.password().map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_password_host_port() {
        let addr = SourceAddr::parse("redis://alice:s3cret@10.0.0.5:6380").unwrap();
        assert_eq!(addr.host, "10.0.0.5");
        assert_eq!(addr.port, 6380);
        assert_eq!(addr.username.as_deref(), Some("alice"));
        assert_eq!(addr.password.as_deref(), Some("s3cret"));
        let addr = SourceAddr::parse("redis://:pw@h:1").unwrap();
        assert_eq!(addr.username, None);
        assert_eq!(addr.password.as_deref(), Some("pw"));
    }

    #[test]
    fn rejects_other_schemes_without_leaking_the_password() {
        let err = SourceAddr::parse("http://u:pw@h:1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("redis://"), "{err}");
        assert!(!err.contains("pw@"), "{err}");
    }
}
