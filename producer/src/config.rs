//! Settings of the capture side: where the source is and how patient to be with it.

use crate::error::CaptureError;
use crate::read_limit::ReadRate;
use slotstream_link::{Stream, Tls, TlsError};
use slotstream_schemas::display::redact_url;
use slotstream_schemas::filter::KeyFilter;
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
    /// TLS settings for a `rediss://` URL (`None`: the system's CAs).
    pub tls: Option<Tls>,
    /// Which databases and keys are captured (snapshot and live commands).
    pub filter: KeyFilter,
    /// Most bytes a second read from the replication link (0: unlimited); changeable while
    /// the capture runs.
    pub max_read_bytes: ReadRate,
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
            tls: None,
            filter: KeyFilter::default(),
            max_read_bytes: ReadRate::default(),
        }
    }

    /// A plain client connection to the source, beside the replication link. Its setup (the
    /// client's handshake) waits no longer than a read would: a stalled source costs an attempt
    /// `--source-timeout-secs`, not the connect timeout for each such connection.
    pub fn client_connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = self.client()?;
        if let redis::ConnectionAddr::TcpTls { host, port, .. } =
            client.get_connection_info().addr()
        {
            // The `redis` crate bounds the TCP connect but not the TLS handshake: a server that
            // never answers it would hold this call forever. slotstream's own handshake, bounded,
            // goes first (and names a certificate problem better).
            let tls = self.tls_or_system().map_err(std::io::Error::other)?;
            let timeout = self.connect_timeout.min(self.read_timeout);
            Stream::connect(host, *port, Some(&tls), timeout).map_err(std::io::Error::from)?;
        }
        let timeout = self.connect_timeout.min(self.read_timeout);
        let conn = client.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(self.read_timeout))?;
        Ok(conn)
    }

    /// A `redis` crate client for the source, over TLS for a `rediss://` URL.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        use redis::IntoConnectionInfo;
        let info = self.url.as_str().into_connection_info()?;
        if !self.url.starts_with("rediss://") {
            return redis::Client::open(info);
        }
        match &self.tls {
            Some(tls) => tls.client(info),
            None => redis::Client::open(info),
        }
    }

    /// The TLS settings of a `rediss://` link: the configured ones, else the system's CAs.
    fn tls_or_system(&self) -> Result<Tls, TlsError> {
        match &self.tls {
            Some(tls) => Ok(tls.clone()),
            None => Tls::system("source"),
        }
    }

    /// The TLS settings a link to the source uses: `None` for `redis://`, else
    /// [`Self::tls_or_system`].
    pub fn tls_for(&self, addr: &SourceAddr) -> Result<Option<Tls>, CaptureError> {
        if !addr.tls {
            return Ok(None);
        }
        self.tls_or_system()
            .map(Some)
            .map_err(|err| CaptureError::BadUrl {
                url: redact_url(&self.url),
                why: err.to_string(),
            })
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

/// A parsed source address with credentials; `tls` for a `rediss://` URL.
pub use slotstream_link::ServerUrl as SourceAddr;

/// Parses the source's `redis://` or `rediss://` URL; the error shows it redacted.
pub fn parse_source_url(url: &str) -> Result<SourceAddr, CaptureError> {
    SourceAddr::parse(url).map_err(|why| CaptureError::BadUrl {
        url: redact_url(url),
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_password_host_port() {
        let addr = parse_source_url("redis://alice:s3cret@10.0.0.5:6380").unwrap();
        assert_eq!(addr.host, "10.0.0.5");
        assert_eq!(addr.port, 6380);
        assert_eq!(addr.username.as_deref(), Some("alice"));
        assert_eq!(addr.password.as_deref(), Some("s3cret"));
        let addr = parse_source_url("redis://:pw@h:1").unwrap();
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
        let err = parse_source_url("http://u:pw@h:1").unwrap_err().to_string();
        assert!(err.contains("rediss://"), "{err}");
        assert!(!err.contains("pw@"), "{err}");
    }
}
