//! [`ServerUrl`]: a server's address, whether it speaks TLS, and the credentials, read from a
//! `redis://` or `rediss://` URL with the `redis` crate's rules.

use redis::{ConnectionAddr, IntoConnectionInfo};

/// The schemes slotstream connects with, for messages.
pub const EXPECTED: &str = "redis://[user:password@]host:port or rediss://… for TLS";

/// Where a server is and as whom to log in. Never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub host: String,
    pub port: u16,
    /// `rediss://`: the link runs over TLS.
    pub tls: bool,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl ServerUrl {
    /// Parses `redis://` or `rediss://`; the error says why, without the URL (the caller names
    /// it, redacted).
    pub fn parse(url: &str) -> Result<ServerUrl, String> {
        if !url.starts_with("redis://") && !url.starts_with("rediss://") {
            return Err(format!("expected {EXPECTED}"));
        }
        let info = url.into_connection_info().map_err(|e| e.to_string())?;
        let (host, port, tls) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
            ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, true),
            _ => return Err("expected a TCP address (host:port)".into()),
        };
        let settings = info.redis_settings();
        Ok(ServerUrl {
            host,
            port,
            tls,
            username: settings.username().map(str::to_owned),
            password: settings.password().map(str::to_owned),
        })
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl std::fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_schemes_and_the_credentials() {
        let url = ServerUrl::parse("rediss://alice:s3cret@10.0.0.5:6380").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls),
            ("10.0.0.5", 6380, true)
        );
        assert_eq!(url.username.as_deref(), Some("alice"));
        assert_eq!(url.password.as_deref(), Some("s3cret"));
        let url = ServerUrl::parse("redis://:pw@h:1").unwrap();
        assert!(!url.tls);
        assert_eq!(url.username, None);
        assert_eq!(url.password.as_deref(), Some("pw"));
        assert_eq!(format!("{url} {url:?}"), "h:1 h:1");
    }

    #[test]
    fn other_schemes_are_refused_naming_the_expected_ones() {
        let err = ServerUrl::parse("http://u:pw@h:1").unwrap_err();
        assert!(err.contains("rediss://"), "{err}");
        assert!(!err.contains("pw"), "{err}");
    }
}
