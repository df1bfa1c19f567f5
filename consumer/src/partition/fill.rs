//! How a partition's batch fills before it is sent: with every record already waiting, and, on
//! a cluster during a snapshot, a little longer while records keep coming.

use super::Lane;
use crate::error::ApplyError;
use slotstream_schemas::log::PartitionReader;
use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// How long a cluster's batch of snapshot keys waits for the next record before it is sent.
const SNAPSHOT_LINGER: Duration = Duration::from_millis(2);

impl Lane {
    /// Adds records to the batches while there is room: every one ready now; then, when the
    /// target is a cluster and the batches hold snapshot writes only, those arriving within
    /// [`SNAPSHOT_LINGER`] of each other. There a batch splits into one `MSET` per slot, so a
    /// batch of what happened to be ready makes many small ones; a snapshot wants throughput,
    /// not latency, and a batch with live commands is sent at once.
    pub(super) async fn fill<R: PartitionReader>(
        &mut self,
        reader: &mut R,
    ) -> Result<(), ApplyError> {
        let partition = self.partition;
        let read = |cause| ApplyError::Read { partition, cause };
        while self.batches.has_room(&self.ctx.limits) && !self.done() {
            // Unconstrained: tokio's cooperative budget would end every batch near 128 records.
            match poll_once(tokio::task::unconstrained(reader.next())) {
                Some(next) => match next.map_err(read)? {
                    Some(delivery) => self.take(delivery).await?,
                    None => return Ok(()),
                },
                None => break,
            }
        }
        if !(self.batches.cluster() && self.batches.replayable()) {
            return Ok(());
        }
        while self.batches.has_room(&self.ctx.limits) && !self.done() {
            let Ok(next) = tokio::time::timeout(SNAPSHOT_LINGER, reader.next()).await else {
                break;
            };
            match next.map_err(read)? {
                Some(delivery) => self.take(delivery).await?,
                None => break,
            }
        }
        Ok(())
    }
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
