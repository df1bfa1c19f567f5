//! [`Stream`]: a blocking connection to a server, plain TCP or TLS, for code that speaks the
//! protocol itself on one thread (the replication link).

use crate::error::LinkError;
use crate::tls::Tls;
use native_tls::HandshakeError;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A connected stream; reads and writes go through TLS when it was asked for.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Stream {
    /// Connects to `host:port` (the first address that answers within `timeout`), with
    /// `TCP_NODELAY`, then runs the TLS handshake when `tls` is given (SNI and the certificate
    /// check use `host`). A TLS link is confirmed with an inline `PING` before it is returned,
    /// so a server that refuses the client after the handshake (TLS 1.3 sends that refusal
    /// late) is reported here, as a handshake error, and not at the caller's first command.
    pub fn connect(
        host: &str,
        port: u16,
        tls: Option<&Tls>,
        timeout: Duration,
    ) -> Result<Stream, LinkError> {
        let addr = format!("{host}:{port}");
        let connect_error = |cause| LinkError::Connect {
            addr: addr.clone(),
            cause,
        };
        let mut last_error = io::Error::new(
            io::ErrorKind::NotFound,
            "the host name resolved to no address",
        );
        let mut tcp = None;
        for candidate in (host, port).to_socket_addrs().map_err(connect_error)? {
            match TcpStream::connect_timeout(&candidate, timeout) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(err) => last_error = err,
            }
        }
        let tcp = tcp.ok_or_else(|| connect_error(last_error))?;
        tcp.set_nodelay(true).map_err(connect_error)?;
        let Some(tls) = tls else {
            return Ok(Stream::Plain(tcp));
        };
        tcp.set_read_timeout(Some(timeout)).map_err(connect_error)?;
        tcp.set_write_timeout(Some(timeout))
            .map_err(connect_error)?;
        let mut stream = match tls.connector().connect(host, tcp) {
            Ok(stream) => stream,
            Err(HandshakeError::Failure(err)) => {
                return Err(tls.handshake_error(&addr, err.to_string()))
            }
            Err(HandshakeError::WouldBlock(_)) => {
                return Err(connect_error(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "timed out in the TLS handshake (a port that does not speak TLS never \
                     answers it: use redis:// for a plain port)",
                )))
            }
        };
        confirm(&mut stream).map_err(|err| classify(tls, &addr, err))?;
        stream
            .get_ref()
            .set_write_timeout(None)
            .map_err(connect_error)?;
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// The TCP socket under the stream (for timeouts).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref(),
        }
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// The inline command that confirms a TLS link; its one-line reply (`+PONG`, or `-NOAUTH` from
/// a server that wants a password first) is read and dropped.
pub(crate) const CONFIRM: &[u8] = b"PING\r\n";

/// Sends [`CONFIRM`] and reads its reply line, byte by byte so nothing after it is taken.
fn confirm(stream: &mut impl ReadWrite) -> io::Result<()> {
    stream.write_all(CONFIRM)?;
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte)? == 0 {
            return Err(closed_after_handshake());
        }
        if byte[0] == b'\n' {
            return Ok(());
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

pub(crate) fn closed_after_handshake() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "end of stream")
}

/// A failure while confirming a link: a TLS alert is the handshake's; a close or reset right
/// after it most likely the server refusing the client (TLS 1.3 refuses a missing client
/// certificate only then); a timeout is the network's.
pub(crate) fn classify(tls: &Tls, addr: &str, err: io::Error) -> LinkError {
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("alert") || lower.contains("ssl") {
        return tls.handshake_error(addr, text);
    }
    if matches!(
        err.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    ) {
        return tls.closed_error(addr, text);
    }
    LinkError::Connect {
        addr: addr.to_string(),
        cause: err,
    }
}
