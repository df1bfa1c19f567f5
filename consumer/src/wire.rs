//! The batch path to the destination: a plain connection that writes a batch as RESP and reads
//! back exactly as many replies, without building an object per command (the `redis` crate's
//! pipelines did, and that was most of the apply side's CPU time on small keys).
//!
//! A leaf: it knows an [`Endpoint`] (address, credentials, timeouts) and RESP, nothing of the
//! rest of the consumer. Errors are `redis::RedisError`s, so they are classified like those of
//! the other connections: an I/O error or timeout is a dropped link, retried; an error reply is
//! data.

mod encode;
pub mod reply;

#[cfg(test)]
pub use encode::decode;
pub use encode::{split_commands, Commands};

use redis::{RedisError, Value};
use slotstream_link::{AsyncStream, LinkError, Tls};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

/// Where a connection goes and as whom.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// A reply slower than this fails the round trip.
    pub response_timeout: Duration,
    /// TLS, for a `rediss://` URL.
    pub tls: Option<Tls>,
}

/// One connection to the destination, in db 0 when it starts.
pub struct Wire {
    /// Writes are gathered (64 KiB) and flushed once per batch: over TLS every write is a
    /// record of its own, encrypted and sent apart, and a batch is many small parts.
    stream: BufWriter<AsyncStream>,
    input: Vec<u8>,
    response_timeout: Duration,
}

impl Wire {
    /// Connects (TLS when the endpoint says so), authenticates with the endpoint's
    /// credentials, and checks the server answers. A failed TLS handshake is a
    /// [`WireError::Tls`]: a setting to change, not a blip to retry.
    pub async fn connect(endpoint: &Endpoint) -> Result<Wire, WireError> {
        let stream = AsyncStream::connect(
            &endpoint.host,
            endpoint.port,
            endpoint.tls.as_ref(),
            endpoint.connect_timeout,
        )
        .await
        .map_err(|err| match err {
            LinkError::Connect { cause, .. } => WireError::Redis(cause.into()),
            handshake => WireError::Tls(handshake),
        })?;
        let mut wire = Wire {
            stream: BufWriter::with_capacity(64 << 10, stream),
            input: Vec::with_capacity(64 * 1024),
            response_timeout: endpoint.response_timeout,
        };
        let mut hello = Commands::default();
        if let Some(password) = &endpoint.password {
            match &endpoint.username {
                Some(user) => hello.push(&[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => hello.push(&[b"AUTH", password.as_bytes()]),
            }
        }
        hello.push(&[b"PING"]);
        let count = hello.len();
        let replies = wire.round_trip(&[hello.bytes()], count).await?;
        match replies.into_iter().find_map(error_of) {
            Some(err) => Err(err.into()),
            None => Ok(wire),
        }
    }

    /// Writes `parts` in order and reads `replies` replies (within the response timeout).
    pub async fn round_trip(
        &mut self,
        parts: &[&[u8]],
        replies: usize,
    ) -> Result<Vec<Value>, RedisError> {
        self.send(parts).await?;
        self.receive(replies).await
    }

    /// Writes `parts` in order (within the response timeout), without waiting for replies: a
    /// caller with several connections writes to each before it reads from any.
    pub async fn send(&mut self, parts: &[&[u8]]) -> Result<(), RedisError> {
        let timeout = self.response_timeout;
        tokio::time::timeout(timeout, async {
            for part in parts {
                self.stream.write_all(part).await?;
            }
            self.stream.flush().await?;
            Ok(())
        })
        .await
        .map_err(|_| timed_out("writing"))?
    }

    /// Reads `replies` replies (within the response timeout).
    pub async fn receive(&mut self, replies: usize) -> Result<Vec<Value>, RedisError> {
        let timeout = self.response_timeout;
        tokio::time::timeout(timeout, self.read_replies(replies))
            .await
            .map_err(|_| timed_out("waiting for replies"))?
    }

    async fn read_replies(&mut self, count: usize) -> Result<Vec<Value>, RedisError> {
        let mut replies = Vec::with_capacity(count);
        let mut pos = 0;
        while replies.len() < count {
            match reply::parse(&self.input[pos..])? {
                Some((value, used)) => {
                    replies.push(value);
                    pos += used;
                }
                None => {
                    self.input.drain(..pos);
                    pos = 0;
                    self.input.reserve(64 * 1024);
                    if self.stream.read_buf(&mut self.input).await? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "the target closed the connection",
                        )
                        .into());
                    }
                }
            }
        }
        self.input.drain(..pos);
        Ok(replies)
    }
}

/// Why a [`Wire`] could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error("{0}")]
    Tls(LinkError),
}

fn error_of(reply: Value) -> Option<RedisError> {
    match reply {
        Value::ServerError(err) => Some(err.into()),
        _ => None,
    }
}

fn timed_out(doing: &str) -> RedisError {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {doing}")).into()
}
