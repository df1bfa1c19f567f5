//! After the snapshot: keep the replication link alive, acknowledge the offset every second and
//! read the command stream, tracking the replication offset byte by byte.
//!
//! This version forwards no live writes: on the first one it stops, leaving the resume point
//! before it, so nothing is lost and a later run continues from there with `PSYNC`.

use crate::command::parse_frame;
use crate::error::CaptureError;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ACK_EVERY: Duration = Duration::from_secs(1);

/// The live link after the snapshot.
pub struct Follower {
    pub addr: String,
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
    /// Stream bytes already read past the snapshot.
    pub pending: Vec<u8>,
    /// Replication offset of the first byte of `pending`.
    pub offset: u64,
    /// Silence longer than this means the link is dead.
    pub idle_timeout: Duration,
}

impl Follower {
    /// Reads the stream until `stop` is set or a live write arrives. `on_offset` is called about
    /// every second with the offset up to which everything has been handled.
    pub fn run(
        mut self,
        stop: &AtomicBool,
        mut on_offset: impl FnMut(u64) -> Result<(), CaptureError>,
    ) -> Result<(), CaptureError> {
        let addr = self.addr.clone();
        let io = |doing: &str, cause| CaptureError::Io {
            addr: addr.clone(),
            doing: doing.to_string(),
            cause,
        };
        self.reader
            .get_ref()
            .set_read_timeout(Some(ACK_EVERY))
            .map_err(|e| io("setting up the live link", e))?;
        let mut last_ack = Instant::now() - ACK_EVERY;
        let mut last_data = Instant::now();
        let mut acked = u64::MAX;
        while !stop.load(Ordering::Relaxed) {
            while let Some(frame) =
                parse_frame(&self.pending).map_err(|e| CaptureError::Protocol {
                    addr: self.addr.clone(),
                    what: format!("{e} (replication offset {})", self.offset),
                })?
            {
                self.handle(&frame.args)?;
                self.offset += frame.len as u64;
                self.pending.drain(..frame.len);
            }
            if last_ack.elapsed() >= ACK_EVERY {
                let ack = format!(
                    "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{}\r\n",
                    self.offset.to_string().len(),
                    self.offset
                );
                self.writer
                    .write_all(ack.as_bytes())
                    .map_err(|e| io("acknowledging the replication offset", e))?;
                last_ack = Instant::now();
                if acked != self.offset {
                    on_offset(self.offset)?;
                    acked = self.offset;
                }
            }
            match self.reader.fill_buf() {
                Ok([]) => {
                    return Err(io(
                        "reading the command stream",
                        std::io::Error::new(ErrorKind::UnexpectedEof, "the source closed the link"),
                    ))
                }
                Ok(bytes) => {
                    let len = bytes.len();
                    self.pending.extend_from_slice(bytes);
                    self.reader.consume(len);
                    last_data = Instant::now();
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if last_data.elapsed() > self.idle_timeout {
                        return Err(io("waiting for the command stream", e));
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io("reading the command stream", e)),
            }
        }
        Ok(())
    }

    /// Liveness and bookkeeping commands are consumed here; a write stops the follower.
    fn handle(&mut self, args: &[Vec<u8>]) -> Result<(), CaptureError> {
        let name = args
            .first()
            .map(|a| a.to_ascii_uppercase())
            .unwrap_or_default();
        match name.as_slice() {
            b"PING" | b"REPLCONF" | b"SELECT" => Ok(()),
            _ => Err(CaptureError::LiveWrite {
                addr: self.addr.clone(),
                command: String::from_utf8_lossy(&name).into_owned(),
                offset: self.offset,
            }),
        }
    }
}
