//! One task per partition: reads the partition's records in order, batches them into pipelines
//! and applies them to the destination, one batch at a time so order is kept.

use crate::error::{hint_for, ApplyError};
use crate::restore::{function_command, restore_command};
use crate::stats::ApplyStats;
use crate::target::{Target, TargetInfo};
use redis::aio::MultiplexedConnection;
use slotstream_schemas::display::show_key;
use slotstream_schemas::log::{Delivery, Lease, PartitionReader};
use slotstream_schemas::{Body, EpochBegin};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{SystemTime, UNIX_EPOCH};

/// What one partition saw and did.
#[derive(Debug, Clone, Default)]
pub struct PartitionSummary {
    pub partition: u32,
    /// Epoch of the last `EpochBegin` seen.
    pub epoch: Option<u64>,
    /// Whether that epoch's `SnapshotEnd` was applied.
    pub snapshot_done: bool,
    pub keys: u64,
    pub expired: u64,
}

/// Everything a partition task shares with the others.
pub struct PartitionContext {
    pub target: Target,
    pub target_info: TargetInfo,
    pub batch_records: usize,
    pub batch_bytes: usize,
    pub stats: Arc<ApplyStats>,
}

/// Applies one partition until its log ends.
pub async fn run_partition<R: PartitionReader>(
    mut reader: R,
    ctx: Arc<PartitionContext>,
) -> Result<PartitionSummary, ApplyError> {
    let partition = reader.partition();
    let mut lane = Lane {
        conn: ctx.target.connect().await?,
        db: 0,
        ctx: ctx.clone(),
        summary: PartitionSummary {
            partition,
            ..Default::default()
        },
        batch: Batch::default(),
    };
    let read = |cause| ApplyError::Read { partition, cause };
    while let Some(delivery) = reader.next().await.map_err(read)? {
        lane.take(delivery).await?;
        // Keep filling the batch while records are ready; apply once none is waiting.
        while lane.batch.has_room(&ctx) {
            match poll_once(reader.next()) {
                Some(next) => match next.map_err(read)? {
                    Some(delivery) => lane.take(delivery).await?,
                    None => break,
                },
                None => break,
            }
        }
        lane.flush().await?;
    }
    lane.flush().await?;
    Ok(lane.summary)
}

/// Polls a future once; `None` if it is not ready. Only for cancel-safe futures.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// A partition's connection, its selected database and the batch being built.
struct Lane {
    conn: MultiplexedConnection,
    db: u32,
    ctx: Arc<PartitionContext>,
    summary: PartitionSummary,
    batch: Batch,
}

/// Commands queued for one pipeline, with what is needed to name a failing one.
#[derive(Default)]
struct Batch {
    pipe: redis::Pipeline,
    /// For each command in the pipeline: (db, key) it writes, for error messages.
    keys: Vec<(u32, Vec<u8>)>,
    bytes: usize,
    /// Log space held by the batch's records: released once the batch is applied.
    leases: Vec<Lease>,
    snapshot_keys: u64,
}

impl Batch {
    fn has_room(&self, ctx: &PartitionContext) -> bool {
        self.keys.len() < ctx.batch_records && self.bytes < ctx.batch_bytes
    }
}

impl Lane {
    /// Adds a record to the batch, or handles a control record (flushing first so it takes
    /// effect in order).
    async fn take(&mut self, delivery: Delivery) -> Result<(), ApplyError> {
        let Delivery { record, lease, .. } = delivery;
        self.batch.leases.extend(lease);
        match record.body {
            Body::SnapshotKey(key) => match restore_command(key, now_ms()) {
                Some((name, cmd)) => {
                    self.push(record.db, name, cmd);
                    self.batch.snapshot_keys += 1;
                }
                None => {
                    self.summary.expired += 1;
                    self.ctx.stats.expired.fetch_add(1, Ordering::Relaxed);
                }
            },
            Body::Function(function) => {
                let cmd = function_command(&function);
                self.push(0, b"<function library>".to_vec(), cmd);
            }
            Body::EpochBegin(begin) => {
                self.flush().await?;
                self.check_format(&begin)?;
                tracing::debug!(
                    partition = self.summary.partition,
                    epoch = record.epoch,
                    "epoch begins"
                );
                self.summary.epoch = Some(record.epoch);
                self.summary.snapshot_done = false;
            }
            Body::SnapshotEnd(end) => {
                self.flush().await?;
                if self.summary.epoch != Some(record.epoch) {
                    return Err(self.log_error(format!(
                        "snapshot end of epoch {} without its beginning",
                        record.epoch
                    )));
                }
                tracing::debug!(
                    partition = self.summary.partition,
                    records = end.records,
                    "snapshot applied"
                );
                self.summary.snapshot_done = true;
            }
            Body::Heartbeat(_) => {}
            Body::SnapshotChunk(_) | Body::Command(_) | Body::Barrier(_) => {
                return Err(self.log_error(
                    "this record kind is not supported by this version of slotstream".into(),
                ))
            }
        }
        Ok(())
    }

    /// Refuses a snapshot whose format the destination cannot `RESTORE`, before any write.
    fn check_format(&self, begin: &EpochBegin) -> Result<(), ApplyError> {
        let info = &self.ctx.target_info;
        if begin.rdb_version <= info.rdb_version {
            return Ok(());
        }
        Err(ApplyError::Incompatible {
            addr: self.ctx.target.addr.clone(),
            why: format!(
                "the snapshot is RDB version {} ({}) but {} reads up to version {}; \
                 use a target at least as new as the source",
                begin.rdb_version, begin.source_version, info.version, info.rdb_version
            ),
        })
    }

    fn log_error(&self, what: String) -> ApplyError {
        ApplyError::Log {
            partition: self.summary.partition,
            what,
        }
    }

    fn push(&mut self, db: u32, name: Vec<u8>, cmd: redis::Cmd) {
        if db != self.db {
            self.batch.pipe.cmd("SELECT").arg(db);
            self.batch.keys.push((db, b"<SELECT>".to_vec()));
            self.db = db;
        }
        self.batch.bytes += cmd.args_iter().map(arg_len).sum::<usize>();
        self.batch.pipe.add_command(cmd);
        self.batch.keys.push((db, name));
    }

    /// Sends the batch as one pipeline and checks every reply.
    async fn flush(&mut self) -> Result<(), ApplyError> {
        if self.batch.keys.is_empty() {
            self.batch.leases.clear();
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let mut pipe = batch.pipe;
        pipe.ignore_errors();
        let replies: Vec<redis::Value> =
            pipe.query_async(&mut self.conn)
                .await
                .map_err(|cause| ApplyError::Redis {
                    addr: self.ctx.target.addr.clone(),
                    doing: format!("applying a batch in partition {}", self.summary.partition),
                    cause,
                })?;
        for (reply, (db, key)) in replies.iter().zip(&batch.keys) {
            if let redis::Value::ServerError(err) = reply {
                let reply = err.to_string();
                return Err(ApplyError::Rejected {
                    addr: self.ctx.target.addr.clone(),
                    partition: self.summary.partition,
                    db: *db,
                    key: show_key(key),
                    hint: hint_for(&reply),
                    reply,
                });
            }
        }
        self.summary.keys += batch.snapshot_keys;
        self.ctx
            .stats
            .keys
            .fetch_add(batch.snapshot_keys, Ordering::Relaxed);
        self.ctx
            .stats
            .bytes
            .fetch_add(batch.bytes as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn arg_len(arg: redis::Arg<&[u8]>) -> usize {
    match arg {
        redis::Arg::Simple(bytes) => bytes.len(),
        _ => 0,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
