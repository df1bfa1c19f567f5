//! [`AsyncStream`]: a tokio connection to a server, plain TCP or TLS, for code that speaks the
//! protocol itself (the consumer's batch connections).

use crate::error::LinkError;
use crate::stream::{classify, closed_after_handshake, CONFIRM};
use crate::tls::Tls;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// A connected stream; reads and writes go through TLS when it was asked for.
pub enum AsyncStream {
    Plain(TcpStream),
    Tls(Box<tokio_native_tls::TlsStream<TcpStream>>),
}

impl AsyncStream {
    /// Connects to `host:port` within `timeout` (the TLS handshake included), with
    /// `TCP_NODELAY`; TLS when `tls` is given, confirmed as [`crate::Stream::connect`] does.
    pub async fn connect(
        host: &str,
        port: u16,
        tls: Option<&Tls>,
        timeout: Duration,
    ) -> Result<AsyncStream, LinkError> {
        let addr = format!("{host}:{port}");
        let timed_out = |doing: &str| LinkError::Connect {
            addr: addr.clone(),
            cause: io::Error::new(io::ErrorKind::TimedOut, format!("timed out {doing}")),
        };
        let connect_error = |cause| LinkError::Connect {
            addr: addr.clone(),
            cause,
        };
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| timed_out("connecting"))?
            .map_err(connect_error)?;
        tcp.set_nodelay(true).map_err(connect_error)?;
        let Some(tls) = tls else {
            return Ok(AsyncStream::Plain(tcp));
        };
        let connector = tokio_native_tls::TlsConnector::from(tls.connector().clone());
        let handshake = async {
            let mut stream = connector
                .connect(host, tcp)
                .await
                .map_err(|err| tls.handshake_error(&addr, err.to_string()))?;
            confirm(&mut stream)
                .await
                .map_err(|err| classify(tls, &addr, err))?;
            Ok(stream)
        };
        let stream = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| {
                timed_out(
                    "in the TLS handshake (a port that does not speak TLS never answers it: use \
                     redis:// for a plain port)",
                )
            })??;
        Ok(AsyncStream::Tls(Box::new(stream)))
    }
}

async fn confirm<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
    stream.write_all(CONFIRM).await?;
    loop {
        match stream.read_u8().await {
            Ok(b'\n') => return Ok(()),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(closed_after_handshake())
            }
            Err(err) => return Err(err),
        }
    }
}

impl AsyncRead for AsyncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AsyncStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            AsyncStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
