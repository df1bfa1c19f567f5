//! The connection for the occasional query (checkpoints, marks, the keys a sweep keeps): one
//! server's, or, on a cluster, the `redis` crate's cluster connection, which sends each command
//! to the primary owning its key's slot and follows `MOVED` and `ASK` itself.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Queries to the destination, routed by key on a cluster.
#[derive(Clone)]
pub enum Queries {
    One(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Queries {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Queries::One(conn) => conn.req_packed_command(cmd),
            Queries::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Queries::One(conn) => conn.req_packed_commands(pipeline, offset, count),
            Queries::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Queries::One(conn) => conn.get_db(),
            Queries::Cluster(conn) => conn.get_db(),
        }
    }
}
