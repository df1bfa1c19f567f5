//! Settings of the capture side: where the source is and how patient to be with it.

use crate::error::CaptureError;
use slotstream_schemas::display::redact_url;
use slotstream_schemas::slot::SlotRanges;
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
    /// The source is one shard of a cluster, captured on purpose (its other shards by other
    /// links): a cluster node is not refused, and commands that would reach past its slots on
    /// the target (`FLUSHALL`, `FLUSHDB`, `SWAPDB`) stop the capture.
    pub shard: Option<SlotRanges>,
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
            shard: None,
        }
    }

    /// A plain client connection to the source, beside the replication link. Its setup (the
    /// client's handshake) waits no longer than a read would: a stalled source costs an attempt
    /// `--source-timeout-secs`, not the connect timeout for each such connection.
    pub fn client_connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = redis::Client::open(self.url.as_str())?;
        let timeout = self.connect_timeout.min(self.read_timeout);
        let conn = client.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(self.read_timeout))?;
        Ok(conn)
    }

    /// The same settings for another node of the source, `host:port` (a shard's primary): the
    /// URL keeps its scheme, credentials and path.
    pub fn for_node(&self, node: &str) -> SourceConfig {
        let mut config = self.clone();
        config.url = with_authority(&self.url, node);
        config
    }
}

/// `url` with its `host:port` replaced by `node`.
fn with_authority(url: &str, node: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let user = authority.rfind('@').map_or("", |at| &authority[..=at]);
    format!(
        "{}{user}{node}{}",
        &url[..scheme_end],
        &rest[authority_end..]
    )
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
    fn another_node_keeps_credentials_and_path() {
        let config = SourceConfig::new("redis://alice:p%40ss@seed:7000/0");
        assert_eq!(
            config.for_node("10.0.0.2:7001").url,
            "redis://alice:p%40ss@10.0.0.2:7001/0"
        );
        assert_eq!(
            SourceConfig::new("redis://h:1").for_node("[::1]:2").url,
            "redis://[::1]:2"
        );
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
