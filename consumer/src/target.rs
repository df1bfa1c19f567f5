//! Connections to the destination: the `redis` crate's multiplexed connection for the
//! occasional query, and [`Wire`] for batches; and what the destination is ([`info`]).

mod info;

pub use info::{parse_info, TargetInfo};

use crate::config::TargetConfig;
use crate::error::ApplyError;
use crate::wire::{Endpoint, Wire};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, Value};
use slotstream_schemas::display::redact_url;
use std::collections::HashMap;

/// A handle that opens connections to the destination.
#[derive(Clone)]
pub struct Target {
    client: Client,
    config: AsyncConnectionConfig,
    /// Where batch connections go.
    endpoint: Endpoint,
    /// `host:port`, for messages (never the password).
    pub addr: String,
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
        let redis::ConnectionAddr::Tcp(host, port) = info.addr() else {
            return Err(bad("expected a TCP address (host:port)".into()));
        };
        let settings = info.redis_settings();
        let endpoint = Endpoint {
            host: host.clone(),
            port: *port,
            username: settings.username().map(str::to_string),
            password: settings.password().map(str::to_string),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        };
        let addr = format!("{host}:{port}");
        let client = Client::open(info).map_err(|e| bad(e.to_string()))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout));
        Ok(Self {
            client,
            config,
            endpoint,
            addr,
        })
    }

    /// Opens a batch connection ([`Wire`]).
    pub async fn wire(&self) -> Result<Wire, ApplyError> {
        Wire::connect(&self.endpoint)
            .await
            .map_err(|cause| ApplyError::Connect {
                addr: self.addr.clone(),
                cause,
            })
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
