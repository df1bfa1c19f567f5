//! The record log between producer and consumer, as two small traits every transport implements:
//! [`LogWriter`] on the producer side and [`PartitionReader`] on the consumer side.
//!
//! The in-process transport ([`crate::memory`]) and Kafka both sit behind them. Ordering
//! contract: records appended to one partition are read back in the same order; nothing is
//! promised across partitions.

use crate::record::Record;
use crate::retry::{Retry, Retryable};
use std::future::Future;
use std::sync::Arc;

/// Why the log could not take or give a record.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The other side went away (the consumer stopped, or the producer hung up).
    #[error("the log is closed: {0}")]
    Closed(String),
    /// The partition number is outside the log's partitions.
    #[error("partition {partition} does not exist (the log has {partitions})")]
    NoSuchPartition { partition: u32, partitions: u32 },
    /// The transport's own error (Kafka's, or a record that does not decode at its offset),
    /// kept whole, with what it means for the run as the transport judged it.
    #[error("the log's transport failed")]
    Transport {
        retry: Retry,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Retryable for LogError {
    fn retry(&self) -> Retry {
        match self {
            // The other side stopped on its own error, which is the one to report and judge;
            // a closed log alone never heals by retrying.
            LogError::Closed(_) => Retry::Fatal,
            LogError::NoSuchPartition { .. } => Retry::Fatal,
            LogError::Transport { retry, .. } => *retry,
        }
    }
}

/// Called with `(partition, log offset)` after a batch is applied (Kafka: group offsets, for
/// lag tools).
pub type AppliedHook = Arc<dyn Fn(u32, i64) + Send + Sync>;

/// Where the producer appends records. Blocking by design: the capture thread reads the source
/// socket synchronously, and blocking here is what stops it reading when the log is full.
pub trait LogWriter: Send {
    /// Number of partitions; fixed for the life of the log.
    fn partitions(&self) -> u32;

    /// Appends `record` to `partition`, waiting while the log is full.
    fn append(&mut self, partition: u32, record: Record) -> Result<(), LogError>;

    /// Waits until every appended record is durable in the log (for Kafka: acknowledged).
    fn flush(&mut self) -> Result<(), LogError>;
}

/// A record read back from one partition.
#[derive(Debug)]
pub struct Delivery {
    pub record: Record,
    /// Offset of the record in its partition, when the log has offsets (Kafka).
    pub log_offset: Option<i64>,
    /// Holds log capacity until the record is applied; dropping it frees the space.
    pub lease: Option<Lease>,
}

/// Space a record takes in a bounded log, returned on drop.
#[derive(Debug)]
pub struct Lease(#[allow(dead_code)] pub(crate) tokio::sync::OwnedSemaphorePermit);

/// One partition's records, in order, for the consumer.
pub trait PartitionReader: Send + 'static {
    /// The partition this reader reads.
    fn partition(&self) -> u32;

    /// The next record, or `None` once the producer has closed the log and it is drained.
    fn next(&mut self) -> impl Future<Output = Result<Option<Delivery>, LogError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_error_says_what_it_means_for_the_run() {
        assert_eq!(LogError::Closed("gone".into()).retry(), Retry::Fatal);
        let outside = LogError::NoSuchPartition {
            partition: 9,
            partitions: 4,
        };
        assert_eq!(outside.retry(), Retry::Fatal);
        for retry in [
            Retry::Reconnect,
            Retry::Unreachable,
            Retry::Later,
            Retry::Fatal,
        ] {
            let cause = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
            let err = LogError::Transport {
                retry,
                source: Box::new(cause),
            };
            assert_eq!(err.retry(), retry);
            let source = std::error::Error::source(&err).expect("the transport's error");
            assert_eq!(source.to_string(), "reset");
        }
    }
}
