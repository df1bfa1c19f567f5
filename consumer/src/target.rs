//! Connections to the destination, and what it is: server, version, and the newest RDB format
//! it reads (which decides whether a snapshot can be applied with `RESTORE`), and its modules.

use crate::config::TargetConfig;
use crate::error::ApplyError;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, Value};
use slotstream_schemas::display::redact_url;
use std::collections::HashMap;

/// The destination's identity, read from `INFO server`.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    /// e.g. `redis 7.0.15` or `valkey 9.1.2`
    pub version: String,
    /// Newest RDB version the server reads: `RESTORE` of a newer payload fails.
    pub rdb_version: u16,
    /// The Redis version whose commands it speaks, as (major, minor): Valkey says 7.2.
    pub redis_compat: (u32, u32),
    /// Names of the modules it has loaded (`MODULE LIST`).
    pub modules: Vec<String>,
}

impl TargetInfo {
    /// Whether `RESTORE` takes a payload of `rdb_version`: one no newer than the server's own
    /// format, except that Valkey 9 (RDB 80) refuses Redis's 12 to 79 (measured on all pairs).
    pub fn restores(&self, rdb_version: u16) -> bool {
        let foreign = self.rdb_version >= 80 && (12..80).contains(&rdb_version);
        rdb_version <= self.rdb_version && !foreign
    }

    /// Whether hash fields can have TTLs of their own (`HPEXPIREAT`): Redis 7.4+, Valkey 9+.
    pub fn has_field_ttls(&self) -> bool {
        self.rdb_version >= 12
    }

    /// Whether streams keep entries-added, max-deleted-ID and entries-read (Redis 7.0+).
    pub fn has_stream_counters(&self) -> bool {
        self.rdb_version >= 10
    }

    /// Whether the server speaks Redis `major.minor`'s commands.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.redis_compat >= (major, minor)
    }
}

/// A handle that opens connections to the destination.
#[derive(Clone)]
pub struct Target {
    client: Client,
    config: AsyncConnectionConfig,
    /// `host:port`, for messages (never the password).
    pub addr: String,
    pub connect_timeout: std::time::Duration,
    pub response_timeout: std::time::Duration,
}

impl Target {
    pub fn new(config: &TargetConfig) -> Result<Self, ApplyError> {
        let bad = |why: String| ApplyError::BadUrl {
            url: redact_url(&config.url),
            why,
        };
        if !config.url.starts_with("redis://") {
            return Err(bad("expected redis://[user:password@]host:port".into()));
        }
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| bad(e.to_string()))?;
        let addr = match info.addr() {
            redis::ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            other => other.to_string(),
        };
        let client = Client::open(info).map_err(|e| bad(e.to_string()))?;
        let (connect_timeout, response_timeout) = (config.connect_timeout, config.response_timeout);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(response_timeout));
        Ok(Self {
            client,
            config,
            addr,
            connect_timeout,
            response_timeout,
        })
    }

    /// Where and as whom to connect (for [`crate::wire::Wire`]).
    pub fn connection_info(&self) -> &redis::ConnectionInfo {
        self.client.get_connection_info()
    }

    pub async fn connect(&self) -> Result<MultiplexedConnection, ApplyError> {
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|cause| ApplyError::Connect {
                addr: self.addr.clone(),
                cause,
            })?;
        // A wrong password surfaces on the first command; make it surface here.
        redis::cmd("PING")
            .query_async::<()>(&mut conn)
            .await
            .map_err(|cause| ApplyError::Connect {
                addr: self.addr.clone(),
                cause,
            })?;
        Ok(conn)
    }

    /// Reads the server's name, version and modules.
    pub async fn info(&self, conn: &mut MultiplexedConnection) -> Result<TargetInfo, ApplyError> {
        let text: String = redis::cmd("INFO")
            .arg("server")
            .query_async(conn)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.addr.clone(),
                doing: "INFO server".into(),
                cause,
            })?;
        let mut info = parse_info(&text);
        let modules: redis::RedisResult<Vec<HashMap<String, Value>>> =
            redis::cmd("MODULE").arg("LIST").query_async(conn).await;
        match modules {
            Ok(modules) => {
                info.modules = modules
                    .into_iter()
                    .filter_map(|mut module| redis::from_redis_value(module.remove("name")?).ok())
                    .collect()
            }
            Err(err) => tracing::debug!(%err, "MODULE LIST failed; taking it as no modules"),
        }
        Ok(info)
    }
}

/// Extracts server name, version and RDB version from `INFO server` text.
pub fn parse_info(text: &str) -> TargetInfo {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    let (flavour, version) = match field("valkey_version") {
        Some(v) => ("valkey", v),
        None => ("redis", field("redis_version").unwrap_or_default()),
    };
    let major_minor = |version: &str| {
        let mut numbers = version.split('.').map(|n| n.parse::<u32>().unwrap_or(0));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
    };
    let (major, minor) = major_minor(&version);
    let redis_compat = major_minor(&field("redis_version").unwrap_or_default());
    let rdb_version = match (flavour, major, minor) {
        ("valkey", m, _) if m >= 9 => 80,
        ("valkey", _, _) => 11,
        (_, m, _) if m >= 8 => 12,
        (_, 7, n) if n >= 4 => 12,
        (_, 7, n) if n >= 2 => 11,
        (_, 7, _) => 10,
        _ => 9,
    };
    TargetInfo {
        version: format!("{flavour} {version}"),
        rdb_version,
        redis_compat,
        modules: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_versions_to_rdb_formats() {
        let rdb = |text: &str| parse_info(text).rdb_version;
        assert_eq!(rdb("redis_version:5.0.10\r\n"), 9);
        assert_eq!(rdb("redis_version:6.2.14\r\n"), 9);
        assert_eq!(rdb("redis_version:7.0.15\r\n"), 10);
        assert_eq!(rdb("redis_version:7.4.1\r\n"), 12);
        assert_eq!(rdb("redis_version:7.2.4\r\nvalkey_version:8.1.8\r\n"), 11);
        assert_eq!(rdb("redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n"), 80);
        assert_eq!(
            parse_info("redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n").version,
            "valkey 9.1.2"
        );
    }

    #[test]
    fn restores_what_the_measured_pairs_restore() {
        let target = |text: &str| parse_info(text);
        let redis5 = target("redis_version:5.0.10\r\n");
        let redis74 = target("redis_version:7.4.1\r\n");
        let valkey8 = target("redis_version:7.2.4\r\nvalkey_version:8.1.8\r\n");
        let valkey9 = target("redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n");
        assert!(redis5.restores(9) && !redis5.restores(10));
        assert!(redis74.restores(12) && !redis74.restores(80));
        assert!(valkey8.restores(11) && !valkey8.restores(12) && !valkey8.restores(80));
        assert!(valkey9.restores(11) && valkey9.restores(80) && !valkey9.restores(12));
        assert!(valkey8.at_least(6, 2) && !redis5.at_least(6, 2));
        assert!(!redis5.has_field_ttls() && valkey9.has_field_ttls());
    }
}
