//! Connections to the destination: [`Wire`]s for batches (one per primary of a cluster), a
//! [`Queries`] connection for the occasional query, and what the destination is ([`info`],
//! [`topology`]).

mod info;
mod queries;
pub mod topology;

pub use info::{parse_info, TargetInfo};
pub use queries::Queries;
pub use topology::{Node, SlotMap, Topology};

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
    /// The URL, for the cluster client.
    url: String,
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
        let config_url = config.url.clone();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout));
        Ok(Self {
            client,
            config,
            endpoint,
            url: config_url,
            addr,
        })
    }

    /// Opens a batch connection ([`Wire`]) to the server of the URL.
    pub async fn wire(&self) -> Result<Wire, ApplyError> {
        Wire::connect(&self.endpoint)
            .await
            .map_err(|cause| ApplyError::Connect {
                addr: self.addr.clone(),
                cause,
            })
    }

    /// The batch connections a partition needs: one to the server, or one to each primary of a
    /// cluster (in the order of [`SlotMap::nodes`]).
    pub async fn wires(&self, topology: &Topology) -> Result<Vec<Wire>, ApplyError> {
        let Topology::Cluster(map) = topology else {
            return Ok(vec![self.wire().await?]);
        };
        let mut wires = Vec::with_capacity(map.nodes.len());
        for node in &map.nodes {
            let endpoint = self.endpoint_of(node);
            let wire = Wire::connect(&endpoint)
                .await
                .map_err(|cause| ApplyError::Connect {
                    addr: node.to_string(),
                    cause,
                })?;
            wires.push(wire);
        }
        Ok(wires)
    }

    /// The connection for queries: the server's, or a cluster connection routed by key.
    pub async fn queries(&self, topology: &Topology) -> Result<Queries, ApplyError> {
        if !matches!(topology, Topology::Cluster(_)) {
            return Ok(Queries::One(self.connect().await?));
        }
        let failed = |cause| ApplyError::Connect {
            addr: self.addr.clone(),
            cause,
        };
        let client = redis::cluster::ClusterClientBuilder::new(vec![self.url.as_str()])
            .connection_timeout(self.endpoint.connect_timeout)
            .response_timeout(self.endpoint.response_timeout)
            .build()
            .map_err(failed)?;
        let conn = client.get_async_connection().await.map_err(failed)?;
        Ok(Queries::Cluster(conn))
    }

    /// A connection to each server that holds keys: the server, or every primary of a cluster
    /// (for what goes over all keys: sweeps, the look for keys of the target's own).
    pub async fn node_connections(
        &self,
        topology: &Topology,
    ) -> Result<Vec<MultiplexedConnection>, ApplyError> {
        let Topology::Cluster(map) = topology else {
            return Ok(vec![self.connect().await?]);
        };
        let mut conns = Vec::with_capacity(map.nodes.len());
        for node in &map.nodes {
            let endpoint = self.endpoint_of(node);
            let mut info = self.client.get_connection_info().clone();
            info = info.set_addr(redis::ConnectionAddr::Tcp(
                endpoint.host.clone(),
                endpoint.port,
            ));
            let client = Client::open(info).map_err(|cause| ApplyError::Connect {
                addr: node.to_string(),
                cause,
            })?;
            let conn = client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await
                .map_err(|cause| ApplyError::Connect {
                    addr: node.to_string(),
                    cause,
                })?;
            conns.push(conn);
        }
        Ok(conns)
    }

    /// The endpoint of a cluster primary: the URL's credentials and timeouts, its address.
    fn endpoint_of(&self, node: &Node) -> Endpoint {
        Endpoint {
            host: node.host.clone(),
            port: node.port,
            ..self.endpoint.clone()
        }
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
        let host = self.endpoint.host.clone();
        info.topology = topology::read(conn, &host)
            .await
            .map_err(|cause| ApplyError::Redis {
                addr: self.addr.clone(),
                doing: "reading whether it is a cluster (INFO cluster, CLUSTER SHARDS)".into(),
                cause,
            })?;
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
