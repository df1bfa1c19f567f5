//! The capture driver: connect to the source as a replica, take the snapshot off the socket and
//! append its records to the log.

use crate::config::{SourceAddr, SourceConfig};
use crate::error::CaptureError;
use crate::follow::Follower;
use crate::fork::{self, ForkPoint, Plan, StreamTail};
use crate::keys::CommandTable;
use crate::read_limit::ReadLimit;
use crate::replica::{Payload, ReplicaLink, SyncStart, Transfer};
use crate::shards::is_cluster_node;
use crate::snapshot::{stream_snapshot, EpochInfo, SnapshotSummary};
use crate::source_clock::SourceClock;
use crate::source_facts::SourceFacts;
use crate::stats::CaptureStats;
use slotstream_link::Stream;
use slotstream_rdb::RdbReader;
use slotstream_schemas::log::LogWriter;
use slotstream_schemas::resume::ResumePoint;
use std::io::BufReader;
use std::sync::atomic::{AtomicBool, Ordering};

/// Result of a snapshot capture.
#[derive(Debug, Clone)]
pub struct CaptureSummary {
    pub replid: String,
    pub offset: u64,
    pub snapshot: SnapshotSummary,
}

/// A replication session with the source, after `PSYNC` was answered.
pub struct Session {
    addr: SourceAddr,
    source_id: String,
    config: SourceConfig,
    /// `None` only while the snapshot is being read.
    reader: Option<BufReader<Stream>>,
    /// Replication id, and the offset reached: bytes of the stream already handled (the
    /// command stream goes on from the next byte).
    pub replid: String,
    pub offset: u64,
    /// `Some` when the source answered with a full resync: the snapshot's framing.
    pub transfer: Option<Transfer>,
    /// Stream bytes read past the snapshot, handed to the follower.
    pending: Vec<u8>,
    /// What the source holds that some targets cannot, read before a full sync.
    facts: Option<SourceFacts>,
    /// Set when the source continues from a failover's fork below positions the log holds:
    /// the caller lowers every position past it to it before anything else ([`fork`]).
    pub rewound_to: Option<ForkPoint>,
    /// Samples the source's offset from the `PSYNC` on, so the writes it buffers during a
    /// snapshot are dated when they were made, not when the snapshot ended.
    clock: SourceClock,
}

/// Where a capture asks the source to continue from, and what it knows of the log past it.
#[derive(Debug, Clone, Copy)]
pub struct Saved<'a> {
    pub point: &'a ResumePoint,
    /// The highest position the log may hold for this capture (`u64::MAX`: not known).
    pub highest: u64,
    /// What this capture's last run in this process read after its last change.
    pub tail: Option<&'a StreamTail>,
    /// Whether the caller can lower the log's positions ([`Plan::Rewind`]).
    pub can_rewind: bool,
}

impl Session {
    /// Connects as a replica and asks to continue from `saved`, or for a full sync. A source
    /// that continues the saved history under a new id (a promoted replica) is asked as
    /// [`fork::plan`] decides.
    pub fn start(config: &SourceConfig, saved: Option<Saved<'_>>) -> Result<Self, CaptureError> {
        let addr = crate::config::parse_source_url(&config.url)?;
        let source_id = config.source_id.clone().unwrap_or_else(|| addr.to_string());
        check_standalone(config, &addr)?;
        crate::access::check_source_access(config, &addr)?;
        let mut link = ReplicaLink::connect(&addr, config)?;
        link.hello()?;
        let (resume, rewound_to) = match saved {
            Some(saved) => plan_continuation(&mut link, saved)?,
            None => (None, None),
        };
        // Read before asking for a full sync, while the source is not yet waiting on a replica.
        let facts = resume.is_none().then(|| read_facts(config, &addr));
        let (replid, offset, transfer) = match link.psync(resume.as_ref())? {
            SyncStart::Full {
                replid,
                offset,
                transfer,
            } => {
                tracing::info!(source = %addr, %replid, offset, %transfer, "full resync");
                (replid, offset, Some(transfer))
            }
            SyncStart::Continue { replid } => {
                let resume = resume.as_ref().ok_or_else(|| CaptureError::Protocol {
                    addr: addr.to_string(),
                    what: "answered a request for a full sync with +CONTINUE".into(),
                })?;
                let replid = if replid.is_empty() {
                    resume.replid.clone()
                } else {
                    replid
                };
                if replid != resume.replid {
                    tracing::info!(
                        source = %addr,
                        before = %resume.replid,
                        now = %replid,
                        "the source continues the replication history under a new id (a \
                         failover promoted it): no full sync"
                    );
                }
                tracing::info!(source = %addr, %replid, offset = resume.offset, "continuing");
                (replid, resume.offset, None)
            }
        };
        let reader = link.into_reader();
        let rewound_to = rewound_to.filter(|_| transfer.is_none());
        let clock = SourceClock::start(config, &addr.to_string());
        Ok(Self {
            addr,
            source_id,
            config: config.clone(),
            reader: Some(reader),
            replid,
            offset,
            transfer,
            pending: Vec::new(),
            facts,
            rewound_to,
            clock,
        })
    }

    /// The settings the session was started with.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// The name records carry for this source.
    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// Streams the snapshot into `log` as epoch `epoch`. Only after a full resync. Ends early
    /// with [`CaptureError::Stopped`] once `stop` is set.
    pub fn snapshot<W: LogWriter>(
        &mut self,
        epoch: u64,
        log: &mut W,
        stats: &CaptureStats,
        stop: &AtomicBool,
    ) -> Result<CaptureSummary, CaptureError> {
        let transfer = self
            .transfer
            .clone()
            .ok_or_else(|| CaptureError::Protocol {
                addr: self.addr.to_string(),
                what: "no snapshot follows a continued replication".into(),
            })?;
        if let Transfer::Sized(len) = transfer {
            stats.rdb_total.store(len, Ordering::Relaxed);
        }
        let reader = self.reader.take().ok_or_else(|| CaptureError::Protocol {
            addr: self.addr.to_string(),
            what: "the snapshot was already read".into(),
        })?;
        let limit = Some(ReadLimit::new(&self.config.max_read_bytes));
        let payload = Payload::new(reader, &transfer).limited(limit);
        let mut rdb = RdbReader::with_limits(payload, self.config.max_object_bytes);
        rdb.set_chunk_bytes(self.config.chunk_bytes);
        let facts = match self.facts.take() {
            Some(facts) => facts,
            None => read_facts(&self.config, &self.addr),
        };
        stats.keys_expected.store(facts.keys, Ordering::Relaxed);
        let info = EpochInfo {
            source: self.source_id.clone(),
            source_addr: self.addr.to_string(),
            epoch,
            replid: self.replid.clone(),
            offset: self.offset,
            facts,
            filter: self.config.filter.clone(),
        };
        let snapshot = stream_snapshot(&mut rdb, log, &info, stats, stop)?;
        let (leftover, payload) = rdb.into_parts();
        let (reader, pending) = payload.finish(leftover, &self.addr)?;
        self.reader = Some(reader);
        self.pending = pending;
        Ok(CaptureSummary {
            replid: self.replid.clone(),
            offset: self.offset,
            snapshot,
        })
    }

    /// The source's command table, read over a separate, ordinary connection.
    pub fn command_table(&self) -> Result<CommandTable, CaptureError> {
        let refused = |reply: String| CaptureError::Refused {
            addr: self.addr.to_string(),
            command: "COMMAND".into(),
            reply,
        };
        let mut conn = self
            .config
            .client_connection()
            .map_err(|e| refused(e.to_string()))?;
        CommandTable::load(&mut conn).map_err(|e| refused(e.to_string()))
    }

    /// Hands the link to a follower for the command stream.
    pub fn into_follower(self) -> Result<Follower, CaptureError> {
        let reader = self.reader.ok_or_else(|| CaptureError::Protocol {
            addr: self.addr.to_string(),
            what: "the link broke while the snapshot was read".into(),
        })?;
        Ok(Follower {
            addr: self.addr.to_string(),
            reader,
            pending: self.pending,
            offset: self.offset,
            idle_timeout: self.config.read_timeout,
            limit: Some(ReadLimit::new(&self.config.max_read_bytes)),
            clock: self.clock,
        })
    }
}

/// Reads the source's histories and decides how to continue `saved` ([`fork::plan`]):
/// the point to ask for (`None`: a full sync), and the fork to lower the log to, if any.
fn plan_continuation(
    link: &mut ReplicaLink,
    saved: Saved<'_>,
) -> Result<(Option<ResumePoint>, Option<ForkPoint>), CaptureError> {
    let history = link.history()?;
    let addr = link.addr().to_string();
    match fork::plan(
        saved.point,
        saved.highest,
        saved.tail,
        &history,
        saved.can_rewind,
    ) {
        Plan::AsSaved => Ok((Some(saved.point.clone()), None)),
        Plan::Rewind { to } => {
            tracing::info!(
                source = %addr,
                fork = to.offset,
                "the source is a promoted replica and the log went past its fork with pings \
                 and messages only: continuing from the fork"
            );
            let point = if saved.point.offset <= to.offset {
                saved.point.clone()
            } else {
                ResumePoint {
                    offset: to.offset,
                    db: to.db,
                    ..saved.point.clone()
                }
            };
            Ok((Some(point), Some(to)))
        }
        Plan::Full(why) => {
            tracing::warn!(source = %addr, "cannot continue after the failover: {why}; full sync");
            Ok((None, None))
        }
    }
}

/// Refuses a cluster node as the source unless it is captured as one shard of its cluster
/// (`config.shard`): alone, its snapshot holds only its own slots. A source whose `INFO` cannot
/// be read is let through: the replica link that follows reports the real fault.
fn check_standalone(config: &SourceConfig, addr: &SourceAddr) -> Result<(), CaptureError> {
    if config.shard.is_some() {
        return Ok(());
    }
    let Ok(mut conn) = config.client_connection() else {
        return Ok(());
    };
    let info: String = match redis::cmd("INFO").arg("cluster").query(&mut conn) {
        Ok(info) => info,
        Err(err) => {
            tracing::warn!(source = %addr, %err, "cannot read INFO cluster; assuming a standalone source");
            return Ok(());
        }
    };
    if is_cluster_node(&info) {
        return Err(CaptureError::Unsupported {
            addr: addr.to_string(),
            what: "it is a cluster node (cluster_enabled:1) and was taken for a whole \
                   source: only its own slots would be copied. `slotstream sync` and `slotstream \
                   produce` copy a whole cluster given any of its nodes"
                .into(),
        });
    }
    Ok(())
}

/// The source's facts for `EpochBegin`; none (with a warning) when they cannot be read, and the
/// consumer then finds such problems key by key.
fn read_facts(config: &SourceConfig, addr: &SourceAddr) -> SourceFacts {
    match config
        .client_connection()
        .and_then(|mut conn| SourceFacts::read(&mut conn))
    {
        Ok(facts) => {
            tracing::debug!(source = %addr, ?facts, "source modules and field TTLs");
            facts
        }
        Err(err) => {
            tracing::warn!(
                source = %addr,
                %err,
                "cannot read the source's modules and hash field TTLs; a target that cannot \
                 hold such values will refuse them key by key rather than before the snapshot"
            );
            SourceFacts::default()
        }
    }
}

/// Takes one full snapshot of the source into `log` (epoch `epoch`), then returns; stops early
/// once `stop` is set.
pub fn capture_snapshot<W: LogWriter>(
    config: &SourceConfig,
    epoch: u64,
    log: &mut W,
    stats: &CaptureStats,
    stop: &AtomicBool,
) -> Result<CaptureSummary, CaptureError> {
    let mut session = Session::start(config, None)?;
    session.snapshot(epoch, log, stats, stop)
}
