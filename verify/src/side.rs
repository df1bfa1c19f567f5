//! [`Side`]: one of the two sides being compared (a server, or a Redis Cluster given by any
//! node), and everything verify reads of its keyspace as a whole: connecting and what the
//! server supports, its nodes ([`Nodes`]), the databases that hold keys, SCAN pages, and each
//! key's type and expiry. Values are read by the modules above it, through a connection a
//! `Side` opened to the node that holds the keys.

use crate::error::{Role, VerifyError};
use crate::nodes::Nodes;
use crate::reply::{int_of, is_unknown_command, is_wrong_type, text_of};
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError,
    RedisResult, Value,
};
use slotstream_link::{AsyncStream, Tls};
use slotstream_schemas::{now_ms, BOOKKEEPING_PREFIX};
use std::collections::BTreeSet;
use std::time::Duration;

/// Keys asked for per SCAN call, and so the size of one pipelined batch.
pub const SCAN_COUNT: usize = 1000;

/// The Redis type of a key, as `TYPE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    None,
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
    /// A module type (`ReJSON-RL`, `MBbloom--`, ...), compared by its module's reader command
    /// or its `DUMP` payload.
    Other(String),
}

impl KeyType {
    fn parse(name: &str) -> Self {
        match name {
            "none" => Self::None,
            "string" => Self::String,
            "list" => Self::List,
            "set" => Self::Set,
            "zset" => Self::ZSet,
            "hash" => Self::Hash,
            "stream" => Self::Stream,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::None => "none",
            Self::String => "string",
            Self::List => "list",
            Self::Set => "set",
            Self::ZSet => "zset",
            Self::Hash => "hash",
            Self::Stream => "stream",
            Self::Other(name) => name,
        }
    }
}

/// What one side says about a key before its value is read.
#[derive(Debug, Clone)]
pub struct KeyMeta {
    pub kind: KeyType,
    /// Absolute expiry time in Unix milliseconds; `None` when the key does not expire.
    pub expire_at: Option<i64>,
}

/// One of the two servers being compared.
pub struct Side {
    /// Source or target, named in every error.
    pub role: Role,
    /// `host:port`, never the password.
    pub addr: String,
    info: ConnectionInfo,
    /// TLS, for a `rediss://` URL.
    tls: Option<Tls>,
    /// `PEXPIRETIME` exists from 7.0; older servers are asked `PTTL` and the local clock is added.
    pub has_pexpiretime: bool,
    /// `XINFO STREAM key FULL` exists from 6.0.
    pub has_xinfo_full: bool,
    /// Hash fields with their own TTLs (`HPEXPIRETIME`): Redis 7.4+, Valkey 9+.
    pub has_field_ttls: bool,
    pub version: String,
    /// The server, or the cluster's primaries.
    pub nodes: Nodes,
}

impl Side {
    /// Connects once to check the address and the credentials, and reads the server version.
    pub async fn connect(role: Role, url: &str, tls: Option<&Tls>) -> Result<Self, VerifyError> {
        let client = Client::open(url).map_err(|error| VerifyError::InvalidUrl { role, error })?;
        let info = client.get_connection_info().clone();
        let tls = match (info.addr(), tls) {
            (ConnectionAddr::TcpTls { .. }, Some(tls)) => Some(tls.clone()),
            (ConnectionAddr::TcpTls { .. }, None) => Some(Tls::system(role.name())?),
            _ => None,
        };
        let addr = info.addr().to_string();
        if let (Some(tls), ConnectionAddr::TcpTls { host, port, .. }) = (&tls, info.addr()) {
            // slotstream's own handshake first: it names a certificate or CA problem and the
            // flag that fixes it, where the `redis` crate reports an I/O error.
            let timeout = Duration::from_secs(10);
            if let Err(error) = AsyncStream::connect(host, *port, Some(tls), timeout).await {
                if error.is_handshake() {
                    return Err(VerifyError::Handshake { role, error });
                }
            }
        }
        let mut side = Side {
            role,
            addr,
            info,
            tls,
            has_pexpiretime: false,
            has_xinfo_full: false,
            has_field_ttls: false,
            version: String::new(),
            nodes: Nodes::default(),
        };
        let mut conn = side.open(0).await?;
        let server: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .map_err(|err| side.explain(err))?;
        let version = info_field(&server, "redis_version").unwrap_or("0.0.0");
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|major| major.parse().ok())
            .unwrap_or(0);
        side.version = version.to_string();
        side.has_pexpiretime = major >= 7;
        side.has_xinfo_full = major >= 6;
        side.has_field_ttls = has_field_ttls(&mut conn)
            .await
            .map_err(|err| side.explain(err))?;
        let host = match side.info.addr() {
            ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } => host.clone(),
            _ => String::new(),
        };
        side.nodes = Nodes::discover(&mut conn, &host)
            .await
            .map_err(|err| side.explain(err))?;
        tracing::info!(
            role = %role,
            addr = %side.addr,
            version = %side.version,
            field_ttls = side.has_field_ttls,
            cluster_primaries = side.nodes.addr(0).map(|_| side.nodes.len()),
            "verify connected"
        );
        Ok(side)
    }

    /// A connection with db `db` selected. Responses have no timeout: a 50 MB string or a page
    /// of a million-field hash may take a while to arrive, and a dead peer still fails the read.
    pub async fn open(&self, db: i64) -> Result<MultiplexedConnection, VerifyError> {
        self.open_node(0, db).await
    }

    /// A connection to every node (one for a server), db `db` selected, in node order.
    pub async fn open_all(&self, db: i64) -> Result<Vec<MultiplexedConnection>, VerifyError> {
        let mut conns = Vec::with_capacity(self.nodes.len());
        for node in 0..self.nodes.len() {
            conns.push(self.open_node(node, db).await?);
        }
        Ok(conns)
    }

    /// [`Self::open`] on node `node` of a cluster (the server itself otherwise).
    async fn open_node(&self, node: usize, db: i64) -> Result<MultiplexedConnection, VerifyError> {
        let settings = self.info.redis_settings().clone().set_db(db);
        let mut info = self.info.clone().set_redis_settings(settings);
        if let Some((host, port)) = self.nodes.addr(node) {
            info = info.set_addr(ConnectionAddr::Tcp(host.clone(), *port));
        }
        let client = match &self.tls {
            Some(tls) => tls.client(info),
            None => Client::open(info),
        }
        .map_err(|err| self.explain(err))?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(10)))
            .set_response_timeout(None);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|err| self.explain(err))
    }

    /// Turns a Redis error into one that names this side, its address and what to check.
    pub fn explain(&self, error: RedisError) -> VerifyError {
        let (role, addr) = (self.role, self.addr.clone());
        let auth = error.kind() == ErrorKind::AuthenticationFailed
            || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"));
        if auth {
            VerifyError::Authentication { role, addr, error }
        } else if error.is_connection_refusal() || error.is_io_error() || error.is_timeout() {
            VerifyError::Unreachable { role, addr, error }
        } else {
            VerifyError::Server { role, addr, error }
        }
    }

    /// A reply of a shape `command` never gives (`reply` shown as debug text).
    pub fn unexpected(&self, command: &'static str, reply: &dyn std::fmt::Debug) -> VerifyError {
        VerifyError::UnexpectedReply {
            role: self.role,
            addr: self.addr.clone(),
            command,
            reply: format!("{reply:?}"),
        }
    }

    /// The databases that hold at least one key on any node, from `INFO keyspace`.
    pub async fn dbs_with_keys(&self) -> Result<BTreeSet<i64>, VerifyError> {
        let mut dbs = BTreeSet::new();
        for mut conn in self.open_all(0).await? {
            let keyspace: String = redis::cmd("INFO")
                .arg("keyspace")
                .query_async(&mut conn)
                .await
                .map_err(|err| self.explain(err))?;
            dbs.extend(
                slotstream_schemas::info::keyspace(&keyspace, "keys")
                    .into_iter()
                    .map(|(db, _)| i64::from(db)),
            );
        }
        Ok(dbs)
    }

    /// [`Self::exists`] for keys of any node, each asked where it lives (`conns` in node order).
    pub async fn exists_anywhere(
        &self,
        conns: &[MultiplexedConnection],
        keys: &[Vec<u8>],
    ) -> Result<Vec<bool>, VerifyError> {
        if self.nodes.len() == 1 {
            return self.exists(&mut conns[0].clone(), keys).await;
        }
        let mut found = vec![false; keys.len()];
        let mut by_node: Vec<(usize, usize)> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (self.nodes.of_key(key), i))
            .collect();
        by_node.sort_unstable();
        for group in by_node.chunk_by(|a, b| a.0 == b.0) {
            let node_keys: Vec<&Vec<u8>> = group.iter().map(|&(_, i)| &keys[i]).collect();
            let mut conn = conns[group[0].0].clone();
            let answers = self.exists(&mut conn, &node_keys).await?;
            for (&(_, i), answer) in group.iter().zip(answers) {
                found[i] = answer;
            }
        }
        Ok(found)
    }

    /// One `SCAN cursor COUNT 1000` call: the next cursor (0 when done) and the keys it returned.
    pub async fn scan_page(
        &self,
        conn: &mut MultiplexedConnection,
        cursor: u64,
    ) -> Result<(u64, Vec<Vec<u8>>), VerifyError> {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await
            .map_err(|err| self.explain(err))?;
        Ok((next, keys))
    }

    /// `TYPE` and the expiry time of each key, in one pipeline.
    pub async fn meta(
        &self,
        conn: &mut MultiplexedConnection,
        keys: &[Vec<u8>],
    ) -> Result<Vec<KeyMeta>, VerifyError> {
        let mut pipe = redis::pipe();
        let expiry = if self.has_pexpiretime {
            "PEXPIRETIME"
        } else {
            "PTTL"
        };
        for key in keys {
            pipe.cmd("TYPE").arg(key).cmd(expiry).arg(key);
        }
        let replies: Vec<Value> = pipe
            .query_async(conn)
            .await
            .map_err(|err| self.explain(err))?;
        let now = now_ms();
        replies
            .chunks(2)
            .map(|pair| {
                let kind = KeyType::parse(&text_of(&pair[0]));
                let raw = int_of(&pair[1]).ok_or_else(|| self.unexpected(expiry, &pair[1]))?;
                let expire_at = match raw {
                    ms if ms < 0 => None,
                    ms if self.has_pexpiretime => Some(ms),
                    ms => Some(now + ms),
                };
                Ok(KeyMeta { kind, expire_at })
            })
            .collect()
    }

    /// `EXISTS` for each key, in one pipeline.
    pub async fn exists<K: redis::ToRedisArgs>(
        &self,
        conn: &mut MultiplexedConnection,
        keys: &[K],
    ) -> Result<Vec<bool>, VerifyError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("EXISTS").arg(key);
        }
        let found: Vec<i64> = pipe
            .query_async(conn)
            .await
            .map_err(|err| self.explain(err))?;
        Ok(found.into_iter().map(|n| n > 0).collect())
    }
}

/// Whether the server has hash field TTLs: it knows `HPEXPIRETIME`, asked once on a key that need not exist.
async fn has_field_ttls(conn: &mut MultiplexedConnection) -> RedisResult<bool> {
    let mut probe = BOOKKEEPING_PREFIX.to_vec();
    probe.extend_from_slice(b"verify:field-ttl-probe");
    let reply: RedisResult<Value> = redis::cmd("HPEXPIRETIME")
        .arg(probe)
        .arg("FIELDS")
        .arg(1)
        .arg("f")
        .query_async(conn)
        .await;
    match reply {
        Ok(_) => Ok(true),
        Err(err) if is_wrong_type(&err) => Ok(true),
        Err(err) if is_unknown_command(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The value of `name:value` in an `INFO` section.
fn info_field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}
