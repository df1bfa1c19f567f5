//! The batch path to the destination: a plain connection that writes a batch as RESP and reads
//! back exactly as many replies, without building an object per command (the `redis` crate's
//! pipelines did, and that was most of the apply side's CPU time on small keys).
//!
//! Errors are `redis::RedisError`s, so they are classified like those of the other
//! connections: an I/O error or timeout is a dropped link, retried; an error reply is data.

mod encode;
pub mod reply;

#[cfg(test)]
pub use encode::decode;
pub use encode::Commands;

use crate::error::ApplyError;
use crate::target::Target;
use redis::{ConnectionAddr, RedisError, Value};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to the destination, in db 0 when it starts.
pub struct Wire {
    stream: TcpStream,
    input: Vec<u8>,
    response_timeout: Duration,
}

impl Wire {
    /// Connects, authenticates with the URL's credentials, and checks the server answers.
    pub async fn connect(target: &Target) -> Result<Wire, ApplyError> {
        let failed = |cause: RedisError| ApplyError::Connect {
            addr: target.addr.clone(),
            cause,
        };
        let info = target.connection_info();
        let (host, port) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            other => {
                return Err(failed(RedisError::from(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("only plain TCP targets are supported, not {other}"),
                ))))
            }
        };
        let stream = tokio::time::timeout(
            target.connect_timeout,
            TcpStream::connect((host.as_str(), port)),
        )
        .await
        .map_err(|_| failed(timed_out("connecting")))?
        .map_err(|e| failed(e.into()))?;
        stream.set_nodelay(true).map_err(|e| failed(e.into()))?;
        let mut wire = Wire {
            stream,
            input: Vec::with_capacity(64 * 1024),
            response_timeout: target.response_timeout,
        };
        let mut hello = Commands::default();
        let settings = info.redis_settings();
        if let Some(password) = settings.password() {
            match settings.username() {
                Some(user) => {
                    hello.command(3);
                    hello.arg(b"AUTH");
                    hello.arg(user.as_bytes());
                }
                None => {
                    hello.command(2);
                    hello.arg(b"AUTH");
                }
            }
            hello.arg(password.as_bytes());
        }
        hello.command(1);
        hello.arg(b"PING");
        let count = hello.len();
        let replies = wire.round_trip(&[hello.bytes()], count).await;
        match replies.map_err(failed)?.into_iter().find_map(error_of) {
            Some(err) => Err(failed(err)),
            None => Ok(wire),
        }
    }

    /// Writes `parts` in order and reads `replies` replies (within the response timeout).
    pub async fn round_trip(
        &mut self,
        parts: &[&[u8]],
        replies: usize,
    ) -> Result<Vec<Value>, RedisError> {
        let timeout = self.response_timeout;
        tokio::time::timeout(timeout, async {
            for part in parts {
                self.stream.write_all(part).await?;
            }
            self.read_replies(replies).await
        })
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

fn error_of(reply: Value) -> Option<RedisError> {
    match reply {
        Value::ServerError(err) => Some(err.into()),
        _ => None,
    }
}

fn timed_out(doing: &str) -> RedisError {
    io::Error::new(io::ErrorKind::TimedOut, format!("timed out {doing}")).into()
}
