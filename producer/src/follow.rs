//! After the snapshot: keep the replication link alive, acknowledge the offset every second and
//! turn the command stream into records, tracking the replication offset byte by byte.

use crate::command::FrameParser;
use crate::error::CaptureError;
use crate::read_limit::ReadLimit;
use crate::route::Router;
use crate::source_clock::SourceClock;
use slotstream_link::Stream;
use slotstream_schemas::log::LogWriter;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ACK_EVERY: Duration = Duration::from_secs(1);
/// Heartbeats move idle partitions' checkpoints along, so they bound how soon a destination
/// can be seen to have caught up: more often than ACKs, and cheap (one small record each).
const HEARTBEAT_EVERY: Duration = Duration::from_millis(100);

/// The live link after the snapshot.
pub struct Follower {
    pub addr: String,
    /// The link; `REPLCONF ACK`s are written to its inner stream.
    pub reader: BufReader<Stream>,
    /// Stream bytes already read past the snapshot.
    pub pending: Vec<u8>,
    /// Replication offset of the first byte of `pending`.
    pub offset: u64,
    /// Silence longer than this means the link is dead.
    pub idle_timeout: Duration,
    /// `--source-max-bytes`.
    pub limit: Option<ReadLimit>,
    /// Dates each command by when the source wrote it.
    pub clock: SourceClock,
}

/// Where the stream has been handled up to: every record before it is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub offset: u64,
    /// The database selected at that offset (a continued stream does not repeat its `SELECT`).
    pub db: u32,
}

impl Follower {
    /// Reads the stream until `stop` is set, appending records to `log`. Every 100 ms it writes
    /// heartbeats; about every second it acknowledges the offset and calls `on_progress`.
    pub fn run<W: LogWriter>(
        mut self,
        stop: &AtomicBool,
        router: &mut Router,
        log: &mut W,
        mut on_progress: impl FnMut(Progress, &mut W) -> Result<(), CaptureError>,
    ) -> Result<(), CaptureError> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(HEARTBEAT_EVERY))
            .map_err(|e| self.io("setting up the live link", e))?;
        let mut clock = Clock::default();
        let mut reported = None;
        // Parsed bytes are dropped from the front of `pending` in bulk, not per command. A
        // command that has arrived only in part stays there, and `parser` resumes it where it
        // stopped when more arrives instead of parsing it again from its start on every read.
        let mut parser = FrameParser::default();
        while !stop.load(Ordering::Relaxed) {
            self.route_pending(&mut parser, router, log)?;
            if clock.heartbeat_due() {
                self.clock.refresh();
                let offset = router.safe_offset(self.offset);
                router.written_at(self.clock.written_past(offset));
                router.heartbeat(offset, log)?;
            }
            if clock.ack_due() {
                self.acknowledge()?;
                let progress = Progress {
                    offset: router.safe_offset(self.offset),
                    db: router.db(),
                };
                if reported != Some(progress) {
                    on_progress(progress, log)?;
                    reported = Some(progress);
                }
            }
            if self.read_more()? {
                clock.last_data = Instant::now();
            } else if clock.last_data.elapsed() > self.idle_timeout {
                return Err(self.io(
                    "waiting for the command stream",
                    std::io::Error::new(ErrorKind::TimedOut, "the source sent nothing"),
                ));
            }
        }
        Ok(())
    }

    /// Turns every whole frame in `pending` into records, advancing the offset by each.
    fn route_pending<W: LogWriter>(
        &mut self,
        parser: &mut FrameParser,
        router: &mut Router,
        log: &mut W,
    ) -> Result<(), CaptureError> {
        let mut consumed = 0;
        self.clock.refresh();
        while let Some(frame) =
            parser
                .parse(&self.pending[consumed..])
                .map_err(|e| CaptureError::Protocol {
                    addr: self.addr.clone(),
                    what: format!("{e} (replication offset {})", self.offset),
                })?
        {
            let start = self.offset;
            self.offset += frame.len as u64;
            consumed += frame.len;
            router.written_at(self.clock.written_by(self.offset));
            router.command(frame.args, start, self.offset, log)?;
        }
        self.pending.drain(..consumed);
        Ok(())
    }

    /// `REPLCONF ACK <offset>`: tells the source how far the stream was read.
    fn acknowledge(&mut self) -> Result<(), CaptureError> {
        let ack = format!(
            "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n${}\r\n{}\r\n",
            self.offset.to_string().len(),
            self.offset
        );
        self.reader
            .get_mut()
            .write_all(ack.as_bytes())
            .map_err(|e| self.io("acknowledging the replication offset", e))
    }

    /// Reads what the source sent within one heartbeat interval into `pending`; false when
    /// nothing came.
    fn read_more(&mut self) -> Result<bool, CaptureError> {
        match self.reader.fill_buf() {
            Ok([]) => Err(self.io(
                "reading the command stream",
                std::io::Error::new(ErrorKind::UnexpectedEof, "the source closed the link"),
            )),
            Ok(bytes) => {
                let len = match &mut self.limit {
                    Some(limit) => limit.grant(bytes.len()),
                    None => bytes.len(),
                };
                self.pending.extend_from_slice(&bytes[..len]);
                self.reader.consume(len);
                if let Some(limit) = &mut self.limit {
                    limit.spent(len);
                }
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(self.io("reading the command stream", e)),
        }
    }

    fn io(&self, doing: &str, cause: std::io::Error) -> CaptureError {
        CaptureError::Io {
            addr: self.addr.clone(),
            doing: doing.to_string(),
            cause,
        }
    }
}

/// When the follow loop last sent heartbeats and acknowledgements and last heard the source.
struct Clock {
    last_heartbeat: Instant,
    last_ack: Instant,
    last_data: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            last_heartbeat: now,
            last_ack: now,
            last_data: now,
        }
    }
}

impl Clock {
    fn heartbeat_due(&mut self) -> bool {
        due(&mut self.last_heartbeat, HEARTBEAT_EVERY)
    }

    fn ack_due(&mut self) -> bool {
        due(&mut self.last_ack, ACK_EVERY)
    }
}

/// True (and `last` reset to now) once `every` has passed since `last`.
fn due(last: &mut Instant, every: Duration) -> bool {
    if last.elapsed() < every {
        return false;
    }
    *last = Instant::now();
    true
}
