//! How a partition's batch fills before it is sent: with every record already waiting, then it
//! goes. (Waiting a little longer for more snapshot keys on a cluster target, where a batch
//! splits into one `MSET` per slot, was measured: no gain on a quiet machine.)

use super::Lane;
use crate::error::ApplyError;
use slotstream_schemas::log::PartitionReader;
use std::future::Future;
use std::task::{Context, Poll, Waker};

impl Lane {
    /// Adds records to the batches while there is room and one is ready now.
    pub(super) async fn fill<R: PartitionReader>(
        &mut self,
        reader: &mut R,
    ) -> Result<(), ApplyError> {
        let partition = self.partition;
        let read = |cause| ApplyError::Read { partition, cause };
        // A batch's share of its phase's rate limit as it is now (the limits may change while
        // it runs): the live one once it holds replicated commands.
        let replicated = !self.batches.is_empty() && !self.batches.replayable();
        let limits = crate::batch::Limits {
            writes: self
                .ctx
                .throttles
                .batch_limit(self.ctx.partitions, replicated),
            ..self.ctx.limits
        };
        while self.batches.has_room(&limits) && !self.done() {
            // Unconstrained: tokio's cooperative budget would end every batch near 128 records.
            match poll_once(tokio::task::unconstrained(reader.next())) {
                Some(next) => match next.map_err(read)? {
                    Some(delivery) => self.take(delivery).await?,
                    None => return Ok(()),
                },
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
