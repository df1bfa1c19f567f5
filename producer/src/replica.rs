//! The replica side of the replication handshake: AUTH, REPLCONF, PSYNC, and the header of the
//! snapshot payload that follows `+FULLRESYNC`.
//!
//! Everything here is blocking I/O on one socket: the capture side runs on its own thread and
//! reads the source sequentially, so a blocking [`Stream`] (plain TCP, or TLS for `rediss://`)
//! is the simplest exact tool. Writes (the handshake's commands, later `REPLCONF ACK`) go
//! through the same buffered reader's stream: a TLS session has one owner.

use crate::config::{SourceAddr, SourceConfig};
use crate::error::CaptureError;
use crate::fork::History;
use crate::read_limit::ReadLimit;
use slotstream_link::{LinkError, Stream};
use slotstream_schemas::display::show_key;
use slotstream_schemas::resume::ResumePoint;
use std::io::{BufRead, BufReader, Read, Write};

/// The server version announced to the source (`REPLCONF version`): the newest whose RDB
/// format the snapshot parser reads.
const ANNOUNCED_VERSION: &str = "9.1.2";

/// How the source answered `PSYNC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStart {
    /// A snapshot follows; the command stream starts at `offset`.
    Full {
        replid: String,
        offset: u64,
        transfer: Transfer,
    },
    /// The source kept enough backlog: the command stream continues where we asked.
    Continue { replid: String },
}

/// How the snapshot payload is framed on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// `$<len>`: exactly `len` bytes of RDB follow (disk-based sync).
    Sized(u64),
    /// `$EOF:<mark>`: the RDB is followed by the same 40-byte mark (diskless sync).
    Eof([u8; EOF_MARK_LEN]),
}

pub const EOF_MARK_LEN: usize = 40;

impl std::fmt::Display for Transfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transfer::Sized(len) => write!(f, "{len} bytes"),
            Transfer::Eof(_) => write!(f, "diskless, length unknown"),
        }
    }
}

/// A connection to the source that speaks the replica side of the protocol.
pub struct ReplicaLink {
    addr: SourceAddr,
    reader: BufReader<Stream>,
}

impl ReplicaLink {
    /// Connects to the source (first address that answers; TLS for `rediss://`) and sets the
    /// read timeout.
    pub fn connect(addr: &SourceAddr, config: &SourceConfig) -> Result<Self, CaptureError> {
        let tls = config.tls_for(addr)?;
        let stream = Stream::connect(&addr.host, addr.port, tls.as_ref(), config.connect_timeout)
            .map_err(|err| match err {
            LinkError::Connect { addr, cause } => CaptureError::Connect { addr, cause },
            handshake => CaptureError::Tls(handshake),
        })?;
        stream
            .set_read_timeout(Some(config.read_timeout))
            .map_err(|cause| CaptureError::Io {
                addr: addr.to_string(),
                doing: "setting up the socket".into(),
                cause,
            })?;
        Ok(Self {
            addr: addr.clone(),
            reader: BufReader::with_capacity(256 << 10, stream),
        })
    }

    /// Authenticates and announces the replica's capabilities: everything before `PSYNC`.
    pub fn hello(&mut self) -> Result<(), CaptureError> {
        if let Some(password) = self.addr.password.clone() {
            let reply = match self.addr.username.clone() {
                Some(user) => self.command(&[b"AUTH", user.as_bytes(), password.as_bytes()]),
                None => self.command(&[b"AUTH", password.as_bytes()]),
            }
            .map_err(closed_at_start)?;
            if reply.starts_with('-') {
                return Err(CaptureError::Auth {
                    addr: self.addr.to_string(),
                    reply,
                });
            }
        }
        let reply = self.command(&[b"PING"]).map_err(closed_at_start)?;
        if reply.starts_with("-NOAUTH") || reply.starts_with("-WRONGPASS") {
            return Err(CaptureError::Auth {
                addr: self.addr.to_string(),
                reply: format!(
                    "{reply} (the source needs a password: redis://[user]:PASSWORD@host:port)"
                ),
            });
        }
        self.expect_ok(&[b"REPLCONF", b"listening-port", b"0"])?;
        self.expect_ok(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])?;
        // Valkey 9 sends its own format (VALKEY080) only to replicas that say they are 9.0 or
        // newer; to others it sends RDB 11, and fails the sync when the data holds what RDB 11
        // cannot (a hash with field TTLs). Redis does not know the option and refuses it.
        let reply = self.command(&[b"REPLCONF", b"version", ANNOUNCED_VERSION.as_bytes()])?;
        tracing::debug!(%reply, "REPLCONF version {ANNOUNCED_VERSION}");
        Ok(())
    }

    /// The replication histories the source can continue (`INFO replication`, on this link
    /// before `PSYNC`, so it describes the server that answers it).
    pub fn history(&mut self) -> Result<History, CaptureError> {
        let header = self.command(&[b"INFO", b"replication"])?;
        let len = header
            .strip_prefix('$')
            .and_then(|len| len.parse::<usize>().ok())
            .filter(|len| *len < 1 << 20)
            .ok_or_else(|| CaptureError::Refused {
                addr: self.addr.to_string(),
                command: "INFO replication".into(),
                reply: header.clone(),
            })?;
        let mut body = vec![0; len + 2];
        self.reader
            .read_exact(&mut body)
            .map_err(|cause| self.io_error("reading INFO replication", cause))?;
        let info = String::from_utf8_lossy(&body[..len]);
        History::parse(&info).ok_or_else(|| {
            self.protocol(
                "INFO replication without master_replid, master_replid2 or second_repl_offset"
                    .into(),
            )
        })
    }

    /// Sends `PSYNC`: with a resume point `PSYNC <replid> <offset + 1>` (continue after the
    /// last handled byte), else `PSYNC ? -1`.
    pub fn psync(&mut self, resume: Option<&ResumePoint>) -> Result<SyncStart, CaptureError> {
        let (replid, offset) = match resume {
            Some(point) => (point.replid.clone(), (point.offset + 1).to_string()),
            None => ("?".to_string(), "-1".to_string()),
        };
        let reply = self.command(&[b"PSYNC", replid.as_bytes(), offset.as_bytes()])?;
        self.parse_psync_reply(&reply)
    }

    fn parse_psync_reply(&mut self, reply: &str) -> Result<SyncStart, CaptureError> {
        let mut words = reply.split_ascii_whitespace();
        match words.next() {
            Some("+FULLRESYNC") => {
                let replid = words.next().unwrap_or_default().to_string();
                let offset = words.next().and_then(|w| w.parse::<u64>().ok());
                let Some(offset) = offset.filter(|_| replid.len() == 40) else {
                    return Err(self.protocol(format!("malformed PSYNC reply {reply:?}")));
                };
                let transfer = read_payload_header(&mut self.reader, &self.addr)?;
                Ok(SyncStart::Full {
                    replid,
                    offset,
                    transfer,
                })
            }
            Some("+CONTINUE") => Ok(SyncStart::Continue {
                replid: words.next().unwrap_or_default().to_string(),
            }),
            Some(word) if word.starts_with('-') => Err(CaptureError::Refused {
                addr: self.addr.to_string(),
                command: "PSYNC".into(),
                reply: reply.to_string(),
            }),
            _ => Err(self.protocol(format!(
                "unexpected reply to PSYNC {}",
                quote(reply.as_bytes())
            ))),
        }
    }

    fn expect_ok(&mut self, args: &[&[u8]]) -> Result<(), CaptureError> {
        let reply = self.command(args)?;
        if reply.starts_with('+') {
            return Ok(());
        }
        Err(CaptureError::Refused {
            addr: self.addr.to_string(),
            command: args
                .iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
                .join(" "),
            reply,
        })
    }

    /// Sends one command and reads its one-line reply.
    fn command(&mut self, args: &[&[u8]]) -> Result<String, CaptureError> {
        let mut frame = Vec::with_capacity(64);
        encode_command(args, &mut frame);
        let doing = format!("sending {}", String::from_utf8_lossy(args[0]));
        self.reader
            .get_mut()
            .write_all(&frame)
            .map_err(|cause| self.io_error(&doing, cause))?;
        let doing = format!(
            "waiting for the reply to {}",
            String::from_utf8_lossy(args[0])
        );
        read_line(&mut self.reader, &self.addr, &doing)
    }

    fn io_error(&self, doing: &str, cause: std::io::Error) -> CaptureError {
        io_error(&self.addr, doing, cause)
    }

    fn protocol(&self, what: String) -> CaptureError {
        protocol(&self.addr, what)
    }

    pub fn addr(&self) -> &SourceAddr {
        &self.addr
    }

    /// The buffered stream (it may already hold payload bytes); writes go to its inner stream.
    pub fn into_reader(self) -> BufReader<Stream> {
        self.reader
    }
}

/// A link dropped at its first command, as a TLS port does with a plain client.
fn closed_at_start(err: CaptureError) -> CaptureError {
    match err {
        CaptureError::Io { addr, cause, .. }
            if matches!(
                cause.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            CaptureError::ClosedAtStart { addr, cause }
        }
        other => other,
    }
}

/// Reads `$<len>` or `$EOF:<mark>`, skipping the bare newlines the source sends as keepalives
/// while it prepares the snapshot. What [`ReplicaLink::psync`] reads after `+FULLRESYNC`.
pub fn read_payload_header(
    reader: &mut impl BufRead,
    addr: &SourceAddr,
) -> Result<Transfer, CaptureError> {
    let line = read_line(reader, addr, "waiting for the snapshot")?;
    let Some(rest) = line.strip_prefix('$') else {
        return Err(protocol(
            addr,
            format!("expected a snapshot header, got {}", quote(line.as_bytes())),
        ));
    };
    if let Some(mark) = rest.strip_prefix("EOF:") {
        let mark: [u8; EOF_MARK_LEN] = mark.as_bytes().try_into().map_err(|_| {
            protocol(
                addr,
                format!("EOF mark of {} bytes, expected 40", mark.len()),
            )
        })?;
        return Ok(Transfer::Eof(mark));
    }
    rest.parse::<u64>().map(Transfer::Sized).map_err(|_| {
        protocol(
            addr,
            format!("bad snapshot length {}", quote(line.as_bytes())),
        )
    })
}

/// Reads one `\r\n`-terminated line, skipping bare `\n` keepalives.
fn read_line(
    reader: &mut impl BufRead,
    addr: &SourceAddr,
    doing: &str,
) -> Result<String, CaptureError> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .take(64 << 10)
            .read_until(b'\n', &mut line)
            .map_err(|cause| io_error(addr, doing, cause))?;
        if read == 0 {
            return Err(io_error(
                addr,
                doing,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the source closed the connection",
                ),
            ));
        }
        if line == b"\n" {
            continue;
        }
        if !line.ends_with(b"\r\n") {
            return Err(protocol(
                addr,
                format!("unterminated reply line {}", quote(&line)),
            ));
        }
        line.truncate(line.len() - 2);
        return Ok(String::from_utf8_lossy(&line).into_owned());
    }
}

/// A line for an error message: its start, escaped, and its length when that was cut.
fn quote(line: &[u8]) -> String {
    let shown = show_key(line);
    if line.len() > 200 {
        format!("{shown} ({} bytes)", line.len())
    } else {
        shown
    }
}

fn io_error(addr: &SourceAddr, doing: &str, cause: std::io::Error) -> CaptureError {
    CaptureError::Io {
        addr: addr.to_string(),
        doing: doing.to_string(),
        cause,
    }
}

fn protocol(addr: &SourceAddr, what: String) -> CaptureError {
    CaptureError::Protocol {
        addr: addr.to_string(),
        what,
    }
}

/// The snapshot bytes after the header: exactly `len` bytes for a sized transfer, or everything
/// up to the end mark for a diskless one (the RDB's own EOF opcode tells where it ends). The
/// RDB parser reads through it; [`Payload::finish`] then checks the framing's end.
pub struct Payload<R> {
    framing: Framing<R>,
    /// Bytes handed to the RDB parser so far.
    handed: u64,
    limit: Option<ReadLimit>,
}

enum Framing<R> {
    Sized { take: std::io::Take<R>, len: u64 },
    Eof { reader: R, mark: [u8; EOF_MARK_LEN] },
}

impl<R: Read> Payload<R> {
    pub fn new(reader: R, transfer: &Transfer) -> Self {
        let framing = match transfer {
            Transfer::Sized(len) => Framing::Sized {
                take: reader.take(*len),
                len: *len,
            },
            Transfer::Eof(mark) => Framing::Eof {
                reader,
                mark: *mark,
            },
        };
        Payload {
            framing,
            handed: 0,
            limit: None,
        }
    }

    /// Reads no faster than `limit` allows.
    pub fn limited(mut self, limit: Option<ReadLimit>) -> Self {
        self.limit = limit;
        self
    }

    /// Checks the transfer ended where the framing says: no bytes left of a sized payload, or
    /// the end mark right after the RDB. `leftover` is what the RDB parser read past the RDB.
    /// Returns the reader and the stream bytes already read past the payload (the start of
    /// the command stream). Errors name the payload byte where the RDB ended.
    pub fn finish(
        self,
        leftover: Vec<u8>,
        addr: &SourceAddr,
    ) -> Result<(R, Vec<u8>), CaptureError> {
        let rdb_len = self.handed.saturating_sub(leftover.len() as u64);
        match self.framing {
            Framing::Sized { take, len } => {
                let unread = take.limit() + leftover.len() as u64;
                if unread != 0 {
                    return Err(protocol(
                        addr,
                        format!(
                            "the snapshot's RDB ended at payload byte {rdb_len}, {unread} bytes \
                             before its announced length {len}"
                        ),
                    ));
                }
                Ok((take.into_inner(), Vec::new()))
            }
            Framing::Eof { mut reader, mark } => {
                let mut tail = leftover;
                if tail.len() < EOF_MARK_LEN {
                    let mut rest = vec![0; EOF_MARK_LEN - tail.len()];
                    reader.read_exact(&mut rest).map_err(|cause| {
                        let doing =
                            format!("reading the snapshot's end mark at payload byte {rdb_len}");
                        io_error(addr, &doing, cause)
                    })?;
                    tail.extend_from_slice(&rest);
                }
                if tail[..EOF_MARK_LEN] != mark[..] {
                    return Err(protocol(
                        addr,
                        format!(
                            "the snapshot's end mark does not match its start mark: at payload \
                             byte {rdb_len}, after the RDB, came {} instead of {}",
                            quote(&tail[..EOF_MARK_LEN]),
                            quote(&mark)
                        ),
                    ));
                }
                // Bytes after the mark are the start of the command stream.
                Ok((reader, tail.split_off(EOF_MARK_LEN)))
            }
        }
    }
}

impl<R: Read> Read for Payload<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let len = self
            .limit
            .as_mut()
            .map_or(buf.len(), |l| l.grant(buf.len()));
        let buf = &mut buf[..len];
        let n = match &mut self.framing {
            Framing::Sized { take, .. } => take.read(buf)?,
            Framing::Eof { reader, .. } => reader.read(buf)?,
        };
        if let Some(limit) = &mut self.limit {
            limit.spent(n);
        }
        self.handed += n as u64;
        Ok(n)
    }
}

/// RESP encoding of one command as an array of bulk strings.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}
