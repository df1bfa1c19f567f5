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
use crate::wire::{Endpoint, Wire, WireError};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, Value};
use slotstream_link::{AsyncStream, ServerUrl, Tls};
use slotstream_schemas::display::redact_url;
use std::collections::HashMap;

/// A `redis` crate client for `info` (its address is the endpoint's), over TLS when the
/// endpoint says so.
fn client_for(endpoint: &Endpoint, info: redis::ConnectionInfo) -> redis::RedisResult<Client> {
    match &endpoint.tls {
        Some(tls) => tls.client(info),
        None => Client::open(info),
    }
}

/// A batch connection that could not be opened, as an [`ApplyError`].
fn wire_error(addr: &str, err: WireError) -> ApplyError {
    match err {
        WireError::Redis(cause) => ApplyError::Connect {
            addr: addr.to_string(),
            cause,
        },
        WireError::Tls(err) => ApplyError::Tls(err),
    }
}

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
        let server = ServerUrl::parse(&config.url).map_err(bad)?;
        let tls = match (server.tls, &config.tls) {
            (false, _) => None,
            (true, Some(tls)) => Some(tls.clone()),
            (true, None) => Some(Tls::system("target")?),
        };
        let info = config
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| bad(e.to_string()))?;
        let endpoint = Endpoint {
            host: server.host.clone(),
            port: server.port,
            username: server.username.clone(),
            password: server.password.clone(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
            tls,
        };
        let client = client_for(&endpoint, info).map_err(|e| bad(e.to_string()))?;
        let config_url = config.url.clone();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout));
        Ok(Self {
            client,
            config,
            addr: server.addr(),
            endpoint,
            url: config_url,
        })
    }

    /// The account the URL logs in as, when it names one.
    pub fn username(&self) -> Option<&str> {
        self.endpoint.username.as_deref()
    }

    /// Opens a batch connection ([`Wire`]) to the server of the URL.
    pub async fn wire(&self) -> Result<Wire, ApplyError> {
        Wire::connect(&self.endpoint)
            .await
            .map_err(|err| wire_error(&self.addr, err))
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
                .map_err(|err| wire_error(&node.to_string(), err))?;
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
        if self
            .endpoint
            .tls
            .as_ref()
            .is_some_and(|tls| !tls.is_system())
        {
            return Err(slotstream_link::TlsError::Setup {
                side: "target",
                why: "a cluster target over TLS is verified with the system's CAs only, for now: \
                      --target-tls-ca-cert, --target-tls-cert and --target-tls-insecure do not \
                      work with a cluster target yet; add the CA to the system's store \
                      (update-ca-certificates) instead"
                    .into(),
            }
            .into());
        }
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
            let info =
                self.client
                    .get_connection_info()
                    .clone()
                    .set_addr(redis::ConnectionAddr::Tcp(
                        endpoint.host.clone(),
                        endpoint.port,
                    ));
            let conn =
                self.multiplexed(&endpoint, info)
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

    /// Over TLS, opens a [`Wire`] and drops it: slotstream's own handshake names a certificate
    /// or CA problem as a fatal [`ApplyError::Tls`], where the `redis` crate's connection would
    /// report a retryable I/O error. Done once, before the first connection of a run.
    pub async fn check_tls(&self) -> Result<(), ApplyError> {
        if self.endpoint.tls.is_some() {
            self.wire().await?;
        }
        Ok(())
    }

    /// A `redis` crate connection to `endpoint` (`info` names it). Over TLS the stream is
    /// slotstream's own, made with the one connector of the run: the `redis` crate would build
    /// a connector for each connection, and OpenSSL loads the system's CA bundle for each
    /// (~30 ms of CPU; BENCHMARKS.md, "TLS").
    async fn multiplexed(
        &self,
        endpoint: &Endpoint,
        info: redis::ConnectionInfo,
    ) -> redis::RedisResult<MultiplexedConnection> {
        let Some(tls) = &endpoint.tls else {
            return Client::open(info)?
                .get_multiplexed_async_connection_with_config(&self.config)
                .await;
        };
        let stream = AsyncStream::connect(
            &endpoint.host,
            endpoint.port,
            Some(tls),
            endpoint.connect_timeout,
        )
        .await
        .map_err(std::io::Error::from)?;
        let (conn, driver) = MultiplexedConnection::new_with_config(
            info.redis_settings(),
            stream,
            self.config.clone(),
        )
        .await?;
        tokio::spawn(driver);
        Ok(conn)
    }

    /// The connection for queries to the server of the URL.
    pub async fn connect(&self) -> Result<MultiplexedConnection, ApplyError> {
        let info = self.client.get_connection_info().clone();
        let mut conn = self
            .multiplexed(&self.endpoint, info)
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
