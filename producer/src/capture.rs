//! The capture driver: connect to the source as a replica, take the snapshot off the socket and
//! append its records to the log.

use crate::config::{SourceAddr, SourceConfig};
use crate::error::CaptureError;
use crate::rdb::RdbReader;
use crate::replica::{ReplicaLink, SyncStart, Transfer, EOF_MARK_LEN};
use crate::snapshot::{stream_snapshot, EpochInfo, SnapshotSummary};
use crate::stats::CaptureStats;
use slotstream_schemas::log::LogWriter;
use std::io::{BufReader, Read};
use std::net::TcpStream;
use std::sync::atomic::Ordering;

/// Result of a snapshot capture.
#[derive(Debug, Clone)]
pub struct CaptureSummary {
    pub replid: String,
    pub offset: u64,
    pub snapshot: SnapshotSummary,
}

/// Takes one full snapshot of the source into `log` (epoch `epoch`), then returns.
pub fn capture_snapshot<W: LogWriter>(
    config: &SourceConfig,
    epoch: u64,
    log: &mut W,
    stats: &CaptureStats,
) -> Result<CaptureSummary, CaptureError> {
    let addr = SourceAddr::parse(&config.url)?;
    let source = config.source_id.clone().unwrap_or_else(|| addr.to_string());
    let mut link = ReplicaLink::connect(&addr, config)?;
    let (replid, offset, transfer) = match link.handshake(None)? {
        SyncStart::Full {
            replid,
            offset,
            transfer,
        } => (replid, offset, transfer),
        SyncStart::Continue { .. } => {
            return Err(CaptureError::Protocol {
                addr: addr.to_string(),
                what: "answered a request for a full sync with +CONTINUE".into(),
            })
        }
    };
    tracing::info!(source = %addr, %replid, offset, %transfer, "full resync accepted");
    let (reader, _writer) = link.into_parts();
    if let Transfer::Sized(len) = transfer {
        stats.rdb_total.store(len, Ordering::Relaxed);
    }
    let payload = Payload::new(reader, &transfer);
    let mut rdb = RdbReader::with_limits(payload, config.max_object_bytes);
    let info = EpochInfo {
        source,
        epoch,
        replid: replid.clone(),
        offset,
    };
    let snapshot = stream_snapshot(&mut rdb, log, &info, stats, &addr.to_string())?;
    let (leftover, payload) = rdb.into_parts();
    payload.finish(leftover, &transfer, &addr)?;
    Ok(CaptureSummary {
        replid,
        offset,
        snapshot,
    })
}

/// The snapshot bytes on the socket: exactly `len` bytes for a sized transfer, or everything up
/// to the end mark for a diskless one (the RDB's own EOF opcode tells where it ends).
enum Payload {
    Sized(std::io::Take<BufReader<TcpStream>>),
    Eof(BufReader<TcpStream>),
}

impl Payload {
    fn new(reader: BufReader<TcpStream>, transfer: &Transfer) -> Self {
        match transfer {
            Transfer::Sized(len) => Payload::Sized(reader.take(*len)),
            Transfer::Eof(_) => Payload::Eof(reader),
        }
    }

    /// Checks the transfer ended where the framing says: no bytes left of a sized payload, or
    /// the end mark right after the RDB.
    fn finish(
        self,
        leftover: Vec<u8>,
        transfer: &Transfer,
        addr: &SourceAddr,
    ) -> Result<BufReader<TcpStream>, CaptureError> {
        let protocol = |what: String| CaptureError::Protocol {
            addr: addr.to_string(),
            what,
        };
        match (self, transfer) {
            (Payload::Sized(take), Transfer::Sized(len)) => {
                let unread = take.limit() + leftover.len() as u64;
                if unread != 0 {
                    return Err(protocol(format!(
                        "the snapshot ended {unread} bytes before its announced length {len}"
                    )));
                }
                Ok(take.into_inner())
            }
            (Payload::Eof(mut reader), Transfer::Eof(mark)) => {
                let mut tail = leftover;
                if tail.len() < EOF_MARK_LEN {
                    let mut rest = vec![0; EOF_MARK_LEN - tail.len()];
                    reader
                        .read_exact(&mut rest)
                        .map_err(|cause| CaptureError::Io {
                            addr: addr.to_string(),
                            doing: "reading the end mark of the snapshot".into(),
                            cause,
                        })?;
                    tail.extend_from_slice(&rest);
                }
                if tail[..EOF_MARK_LEN] != mark[..] {
                    return Err(protocol(
                        "the snapshot's end mark does not match its start mark".into(),
                    ));
                }
                if tail.len() > EOF_MARK_LEN {
                    // Command stream bytes read ahead; kept for the incremental phase.
                    tracing::debug!(
                        bytes = tail.len() - EOF_MARK_LEN,
                        "read ahead past the snapshot"
                    );
                }
                Ok(reader)
            }
            _ => Err(protocol("snapshot framing changed mid-transfer".into())),
        }
    }
}

impl Read for Payload {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Payload::Sized(take) => take.read(buf),
            Payload::Eof(reader) => reader.read(buf),
        }
    }
}
