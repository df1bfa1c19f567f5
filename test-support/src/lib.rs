//! Test helpers shared by every crate of the workspace: throwaway servers of every version,
//! where the servers are installed, a RESP2 client, Kafka brokers, and child processes.
//!
//! One rule for a server binary a test needs but cannot find ([`missing`]): with `CI=true` the
//! test fails, naming the binary, the directory searched and the install command; elsewhere it
//! prints the same and is skipped. The one exception is `redis-server` on `PATH` for
//! [`RedisServer::start`]: every end-to-end test needs it, so it always fails without it
//! ([`RedisServer::try_start`] follows the rule).
//!
//! # Layout
//! - [`server`]: [`RedisServer`], a `redis-server`/`valkey-server` on a free loopback port in
//!   its own temp dir, stopped on `Drop`.
//! - [`cluster`]: [`Cluster`], a Redis Cluster of throwaway servers (primaries and replicas),
//!   ready once every node says `cluster_state:ok`, stopped on `Drop`.
//! - [`versions`]: the seven server versions (`SERVERS_DIR`, default the user's cache dir),
//!   found and started by name.
//! - [`missing`]: what a test does about a server binary it cannot find (fail in CI, skip
//!   elsewhere).
//! - [`resp`]: [`RespClient`] and [`Reply`], plain RESP2 for crates without the `redis` crate.
//! - [`process`]: [`Proc`], a child process with its stderr in a file, killed with the test.
//! - `broker` (feature `kafka`): a test broker, external (`SLOTSTREAM_TEST_BROKERS`) or a
//!   `slotstream dev-broker` process, and unique topic names.
//! - `kafka` (feature `kafka`): raw clients to create topics, write and read messages.
//! - [`sentinel`]: [`Sentinels`], three Redis Sentinels watching a test's primaries, and a
//!   failover that waits until the new primary is in place.
//! - [`tls`]: [`TestCerts`] (a CA, server and client certificates made with the `openssl`
//!   command) and [`TlsServer`], a server that also listens for TLS.
//! - [`proxy`]: a TCP proxy in front of a server that cuts, stalls and slows the link.

#![forbid(unsafe_code)]

#[cfg(feature = "kafka")]
pub mod broker;
pub mod cluster;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod missing;
pub mod process;
pub mod proxy;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod tls;
pub mod versions;

pub use cluster::Cluster;
pub use process::Proc;
pub use resp::{Reply, RespClient};
pub use sentinel::Sentinels;
pub use server::RedisServer;
pub use tls::{TestCerts, TlsServer};
