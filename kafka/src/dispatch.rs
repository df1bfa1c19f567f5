//! The fetch side of the Kafka reader: one thread polls the consumer and routes each message to
//! its partition's bounded channel, parking (and pausing) partitions whose task is not taking
//! more, and checking that offsets arrive without holes.

use crate::topic::{parse_fragment, HEADER_FRAGMENT};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages buffered per partition between the dispatcher and the partition task. When one is
/// full the dispatcher waits, which stops fetching: memory stays bounded.
pub(crate) const MESSAGES_PER_PARTITION: usize = 4096;

/// What the dispatcher hands a partition's task.
pub(crate) enum Fetched {
    /// The partition's next message, as the task needs it.
    Message {
        offset: i64,
        payload: Vec<u8>,
        fragment: Option<(u64, u64)>,
    },
    /// Offsets `from..=to` left the log (retention) before they were read: the target lacks
    /// them, so nothing after them may be applied.
    Lost { from: i64, to: i64 },
    /// The log went back: offsets before `next` came again, and the partition now ends at
    /// `end`, short of what was read. It is not the log that was being read.
    Shrank { next: i64, end: i64 },
}

impl Fetched {
    /// Payload bytes it holds.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Fetched::Message { payload, .. } => payload.len(),
            Fetched::Lost { .. } | Fetched::Shrank { .. } => 0,
        }
    }
}

/// Payload bytes a partition's task may hold before the dispatcher parks more (and pauses the
/// partition): with big values in 1 MiB chunks, a message count alone bounds nothing.
const BYTES_PER_PARTITION: usize = 8 << 20;

/// Routes every fetched message to its partition's task, in fetch order (which is partition
/// order). A partition whose task has ended gets nothing more.
///
/// Runs on a thread of its own, polling the consumer: a poll loop takes about a microsecond a
/// message, where an async `recv` per message (the `StreamConsumer`) held the whole apply side
/// to some 35,000 records/s with the CPU mostly idle.
///
/// It also checks that each partition's offsets arrive without a hole: a message past the next
/// expected offset makes it fetch again from the expected one, and one before it, a copy, is
/// dropped (unless the partition now ends before the expected offset: then the log went back,
/// and the partition stops with an error). A hole that is still there after that means the broker deleted records before they
/// were applied (retention; the producer writes no transactions and the data topic is not
/// compacted): the partition stops with an error naming the offsets. Only a partition read from
/// its beginning may start past offset 0, where the records of older epochs aged out.
///
/// Over 80 lines on purpose: it is one poll loop whose every branch (message, parked partition,
/// hole, end of partition, error) reads and writes the same local state; split up, each part
/// would take that state as half a dozen `&mut` arguments and the loop would be harder to follow.
pub(crate) fn dispatch(
    consumer: &BaseConsumer,
    topic: &str,
    senders: Vec<mpsc::Sender<Fetched>>,
    queued: Vec<Arc<AtomicUsize>>,
    mut expected: Vec<i64>,
) {
    let mut parked = Parked::new(consumer, topic, queued);
    let mut refetched = vec![false; senders.len()];
    // Whether a partition has a position a hole would be measured from (a resume point, or a
    // message read), and whether it has stopped on lost records.
    let mut positioned: Vec<bool> = expected.iter().map(|&next| next > 0).collect();
    let mut lost = vec![false; senders.len()];
    // Whether an offset that came again was checked against the log's end (once per run of them).
    let mut rewind_checked = vec![false; senders.len()];
    loop {
        parked.deliver(&senders);
        // A short wait, so parked messages are retried as their partitions drain.
        match consumer.poll(RETRY_PARKED) {
            Some(Ok(message)) => {
                let partition = message.partition() as usize;
                let offset = message.offset();
                let Some(next) = expected.get_mut(partition) else {
                    continue;
                };
                if lost[partition] {
                    continue;
                }
                if offset < *next {
                    // A copy, unless the log itself went back (it was recreated, or its broker
                    // lost its data and the consumer's position was reset to its start).
                    if positioned[partition] && !rewind_checked[partition] {
                        rewind_checked[partition] = true;
                        if let Some(end) = shorter_than(consumer, topic, partition, *next) {
                            lost[partition] = true;
                            let shrank = Fetched::Shrank { next: *next, end };
                            parked.route(partition, shrank, &senders);
                        }
                    }
                    continue;
                }
                rewind_checked[partition] = false;
                if offset > *next {
                    if !refetched[partition] {
                        tracing::warn!(
                            partition,
                            expected = *next,
                            got = offset,
                            "a hole in the fetched offsets; fetching again from the expected one"
                        );
                        let at = Offset::Offset(*next);
                        if let Err(err) = consumer.seek(topic, partition as i32, at, SEEK_TIMEOUT) {
                            tracing::warn!(%err, partition, "cannot fetch again; going on");
                        } else {
                            refetched[partition] = true;
                            continue;
                        }
                    }
                    if positioned[partition] {
                        lost[partition] = true;
                        let gone = Fetched::Lost {
                            from: *next,
                            to: offset - 1,
                        };
                        parked.route(partition, gone, &senders);
                        continue;
                    }
                    tracing::info!(
                        partition,
                        start = offset,
                        "the partition's log starts here (older records aged out)"
                    );
                }
                refetched[partition] = false;
                positioned[partition] = true;
                *next = offset + 1;
                let fragment = message.headers().and_then(|headers| {
                    headers
                        .iter()
                        .find(|h| h.key == HEADER_FRAGMENT)
                        .and_then(|h| h.value)
                        .and_then(parse_fragment)
                });
                let fetched = Fetched::Message {
                    offset,
                    payload: message.payload().unwrap_or_default().to_vec(),
                    fragment,
                };
                parked.route(partition, fetched, &senders);
            }
            Some(Err(err)) => tracing::warn!(%err, "Kafka consumer error; retrying"),
            None => {}
        }
        if senders.iter().all(|s| s.is_closed()) {
            return;
        }
    }
}

/// The partition's end when it is short of `next` (the offset after the last one read); `None`
/// when it is not, or cannot be read (then the message is taken for a copy, as before).
fn shorter_than(consumer: &BaseConsumer, topic: &str, partition: usize, next: i64) -> Option<i64> {
    match consumer.fetch_watermarks(topic, partition as i32, SEEK_TIMEOUT) {
        Ok((_, end)) if end < next => Some(end),
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(%err, partition, "cannot read the partition's end; going on");
            None
        }
    }
}

/// How long a seek back to a missing offset may take.
const SEEK_TIMEOUT: Duration = Duration::from_secs(10);

/// How often parked messages are offered again.
const RETRY_PARKED: Duration = Duration::from_millis(10);

/// Messages of partitions whose task is not taking more right now (its channel is full, e.g.
/// while it waits at a barrier for other partitions). Such a partition is paused in the
/// consumer, so waiting for it never stops the others: blocking the dispatcher on one full
/// channel would starve exactly the partitions a barrier waits for.
struct Parked<'a> {
    consumer: &'a BaseConsumer,
    topic: &'a str,
    queues: Vec<std::collections::VecDeque<Fetched>>,
    /// Payload bytes handed to each partition's task and not taken yet.
    queued: Vec<Arc<AtomicUsize>>,
}

impl<'a> Parked<'a> {
    fn new(consumer: &'a BaseConsumer, topic: &'a str, queued: Vec<Arc<AtomicUsize>>) -> Self {
        Self {
            consumer,
            topic,
            queues: (0..queued.len()).map(|_| Default::default()).collect(),
            queued,
        }
    }

    /// Hands `fetched` over unless the partition's task holds [`BYTES_PER_PARTITION`] already
    /// or its channel is full; gives it back then.
    fn offer(
        &self,
        partition: usize,
        fetched: Fetched,
        sender: &mpsc::Sender<Fetched>,
    ) -> Result<(), mpsc::error::TrySendError<Fetched>> {
        let Some(queued) = self.queued.get(partition) else {
            return Ok(());
        };
        if queued.load(Ordering::Acquire) >= BYTES_PER_PARTITION {
            return Err(mpsc::error::TrySendError::Full(fetched));
        }
        let bytes = fetched.bytes();
        sender.try_send(fetched)?;
        queued.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Hands `fetched` to its partition's task, or parks it (pausing the partition).
    fn route(&mut self, partition: usize, fetched: Fetched, senders: &[mpsc::Sender<Fetched>]) {
        let (Some(queue), Some(sender)) = (self.queues.get_mut(partition), senders.get(partition))
        else {
            return;
        };
        if !queue.is_empty() {
            queue.push_back(fetched);
            return;
        }
        match self.offer(partition, fetched, sender) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(fetched)) => {
                self.queues[partition].push_back(fetched);
                self.set_paused(partition, true);
            }
            // The partition's task has finished: nothing more is needed.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Offers parked messages again; resumes partitions whose backlog is handed over.
    fn deliver(&mut self, senders: &[mpsc::Sender<Fetched>]) {
        for partition in 0..self.queues.len() {
            let Some(sender) = senders.get(partition) else {
                continue;
            };
            if self.queues[partition].is_empty() {
                continue;
            }
            while let Some(fetched) = self.queues[partition].pop_front() {
                match self.offer(partition, fetched, sender) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(fetched)) => {
                        self.queues[partition].push_front(fetched);
                        break;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => self.queues[partition].clear(),
                }
            }
            if self.queues[partition].is_empty() {
                self.set_paused(partition, false);
            }
        }
    }

    fn set_paused(&self, partition: usize, paused: bool) {
        let mut list = TopicPartitionList::new();
        list.add_partition(self.topic, partition as i32);
        let result = if paused {
            self.consumer.pause(&list)
        } else {
            self.consumer.resume(&list)
        };
        if let Err(err) = result {
            tracing::warn!(%err, partition, paused, "cannot pause or resume a partition");
        }
    }
}
