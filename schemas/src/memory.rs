//! The in-process log: one bounded channel per partition plus a shared byte budget, for
//! `slotstream sync` where producer and consumer share a process.
//!
//! Memory stays bounded two ways: each channel holds at most `records_per_partition` records,
//! and all records in flight together hold at most `budget_bytes` (a record larger than the
//! whole budget takes all of it, so it passes alone). The writer blocks when either is full.

use crate::log::{Delivery, Lease, LogError, LogWriter, PartitionReader};
use crate::record::{Body, Record};
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};

/// Sizes of an in-process log.
#[derive(Debug, Clone, Copy)]
pub struct MemoryLogConfig {
    pub partitions: u32,
    pub records_per_partition: usize,
    pub budget_bytes: usize,
}

impl Default for MemoryLogConfig {
    fn default() -> Self {
        Self {
            partitions: 16,
            records_per_partition: 4096,
            budget_bytes: 64 << 20,
        }
    }
}

/// Creates a log: one writer and one reader per partition.
pub fn memory_log(config: MemoryLogConfig) -> (MemoryWriter, Vec<MemoryReader>) {
    let budget_bytes = config.budget_bytes.clamp(1, Semaphore::MAX_PERMITS);
    let budget = Arc::new(Semaphore::new(budget_bytes));
    let mut senders = Vec::with_capacity(config.partitions as usize);
    let mut readers = Vec::with_capacity(config.partitions as usize);
    for partition in 0..config.partitions {
        let (tx, rx) = mpsc::channel(config.records_per_partition.max(1));
        senders.push(tx);
        readers.push(MemoryReader { partition, rx });
    }
    let writer = MemoryWriter {
        senders,
        budget,
        budget_bytes,
    };
    (writer, readers)
}

/// Producer end of the in-process log. Must be used from a thread outside the Tokio runtime
/// (it blocks).
pub struct MemoryWriter {
    senders: Vec<mpsc::Sender<Delivery>>,
    budget: Arc<Semaphore>,
    budget_bytes: usize,
}

impl LogWriter for MemoryWriter {
    fn partitions(&self) -> u32 {
        self.senders.len() as u32
    }

    fn append(&mut self, partition: u32, record: Record) -> Result<(), LogError> {
        let partitions = self.partitions();
        let sender = self
            .senders
            .get(partition as usize)
            .ok_or(LogError::NoSuchPartition {
                partition,
                partitions,
            })?;
        let cost = record_size(&record).clamp(1, self.budget_bytes) as u32;
        let permit = acquire_blocking(&self.budget, cost)?;
        let delivery = Delivery {
            record,
            log_offset: None,
            lease: Some(Lease(permit)),
        };
        sender
            .blocking_send(delivery)
            .map_err(|_| LogError::Closed(format!("partition {partition} has no reader")))
    }

    fn flush(&mut self) -> Result<(), LogError> {
        Ok(())
    }
}

/// Waits for `cost` bytes of budget from a thread that is not a runtime worker.
fn acquire_blocking(
    budget: &Arc<Semaphore>,
    cost: u32,
) -> Result<tokio::sync::OwnedSemaphorePermit, LogError> {
    if let Ok(permit) = budget.clone().try_acquire_many_owned(cost) {
        return Ok(permit);
    }
    // The writer runs on a plain thread, so it waits by polling the semaphore's future on
    // that thread, parking between wake-ups.
    let result = block_on(budget.clone().acquire_many_owned(cost));
    result.map_err(|_| LogError::Closed("the in-process log was shut down".into()))
}

/// Minimal executor: polls one future on the current thread, parking between wake-ups.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Rough in-memory size of a record: what the budget counts.
pub fn record_size(record: &Record) -> usize {
    let body = match &record.body {
        Body::SnapshotKey(k) => k.key.len() + k.object.len(),
        Body::SnapshotChunk(c) => c.key.len() + c.object.len(),
        Body::Command(c) => c.args.iter().map(|a| a.0.len() + 16).sum(),
        Body::Barrier(b) => b
            .commands
            .iter()
            .flat_map(|c| c.args.iter())
            .map(|a| a.0.len() + 16)
            .sum(),
        Body::Function(f) => f.code.len(),
        Body::EpochBegin(_) | Body::SnapshotEnd(_) | Body::Heartbeat(_) | Body::Fork(_) => 0,
    };
    body + 96
}

/// Consumer end of one partition of the in-process log.
pub struct MemoryReader {
    partition: u32,
    rx: mpsc::Receiver<Delivery>,
}

impl PartitionReader for MemoryReader {
    fn partition(&self) -> u32 {
        self.partition
    }

    async fn next(&mut self) -> Result<Option<Delivery>, LogError> {
        Ok(self.rx.recv().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Heartbeat, Position};

    fn heartbeat(offset: u64) -> Record {
        Record {
            source: "test".into(),
            epoch: 1,
            position: Position { offset, index: 0 },
            db: 0,
            slot: 0,
            capture_ms: 0,
            body: Body::Heartbeat(Heartbeat {
                source_offset: offset,
            }),
        }
    }

    #[test]
    fn keeps_order_within_a_partition_and_ends_when_writer_drops() {
        let (mut writer, mut readers) = memory_log(MemoryLogConfig {
            partitions: 2,
            records_per_partition: 4,
            budget_bytes: 1 << 20,
        });
        let producer = std::thread::spawn(move || {
            for offset in 0..100 {
                writer
                    .append((offset % 2) as u32, heartbeat(offset))
                    .unwrap();
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut reader1 = readers.pop().unwrap();
        let mut reader0 = readers.pop().unwrap();
        let (seen0, seen1) = runtime.block_on(async {
            let a = async {
                let mut seen = Vec::new();
                while let Some(d) = reader0.next().await.unwrap() {
                    seen.push(d.record.position.offset);
                }
                seen
            };
            let b = async {
                let mut seen = Vec::new();
                while let Some(d) = reader1.next().await.unwrap() {
                    seen.push(d.record.position.offset);
                }
                seen
            };
            tokio::join!(a, b)
        });
        producer.join().unwrap();
        assert_eq!(seen0, (0..100).filter(|o| o % 2 == 0).collect::<Vec<_>>());
        assert_eq!(seen1, (0..100).filter(|o| o % 2 == 1).collect::<Vec<_>>());
    }

    #[test]
    fn byte_budget_blocks_the_writer_until_records_are_released() {
        let (mut writer, mut readers) = memory_log(MemoryLogConfig {
            partitions: 1,
            records_per_partition: 1000,
            budget_bytes: 300,
        });
        // Each heartbeat costs 96 bytes: three fit, the fourth must wait for a release.
        let producer = std::thread::spawn(move || {
            for offset in 0..4 {
                writer.append(0, heartbeat(offset)).unwrap();
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!producer.is_finished(), "the fourth append should block");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut reader = readers.pop().unwrap();
        let first = runtime.block_on(reader.next()).unwrap().unwrap();
        drop(first);
        producer.join().unwrap();
    }
}
