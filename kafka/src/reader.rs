//! The Kafka log reader: one consumer for the data topic, whose messages a dispatcher routes to
//! one bounded channel per partition; each partition task reassembles fragments and decodes.
//!
//! Partitions are assigned explicitly (no group rebalancing): the consumer seeks each one to
//! just after its checkpoint. The group id is used only to commit offsets for lag tools.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use slotstream_schemas::codec::Codec;
use slotstream_schemas::log::{Delivery, LogError, PartitionReader};
use slotstream_schemas::topic::{KafkaSettings, HEADER_FRAGMENT};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    // Records of transactions that did not commit are never applied.
    ("isolation.level", "read_committed"),
    // Small fetch waits keep latency low on quiet partitions and on brokers that hold fetches.
    ("fetch.wait.max.ms", "10"),
    // What librdkafka prefetches per partition, which also bounds what a paused partition
    // leaves parked (see `Parked`): memory stays bounded with many partitions.
    ("queued.min.messages", "20000"),
    ("queued.max.messages.kbytes", "8192"),
    // Once a partition's prefetch queue is over those limits librdkafka stops fetching it for
    // this long (default 1 s): with the queue drained in a few ms, that pause, not the target,
    // bounded the apply rate (about 35,000 records/s). Shorter than ~50 ms spins the fetcher
    // and loses on a small machine; measured in BENCHMARKS.md.
    ("fetch.queue.backoff.ms", "100"),
];

/// A connection to the data topic.
pub struct KafkaLog {
    consumer: Arc<BaseConsumer>,
    topic: String,
    partitions: u32,
    stop_at_end: bool,
}

impl KafkaLog {
    /// Connects and learns the topic's partition count.
    /// With `stop_at_end`, each partition's reader ends once it has caught up with the end of
    /// its partition (replay); otherwise readers follow their partitions for ever.
    pub fn open(
        settings: &KafkaSettings,
        group: &str,
        stop_at_end: bool,
    ) -> Result<Self, LogError> {
        let mut config = ClientConfig::new();
        for (key, value) in settings.client_properties(CONSUMER_DEFAULTS) {
            config.set(key, value);
        }
        if !settings.properties.iter().any(|(k, _)| k == "group.id") {
            config.set("group.id", group);
        }
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| transport("creating the Kafka consumer", e))?;
        let metadata = consumer
            .fetch_metadata(Some(&settings.topic), METADATA_TIMEOUT)
            .map_err(|e| transport(&format!("reading the metadata of {}", settings.topic), e))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == settings.topic && t.error().is_none())
            .map(|t| t.partitions().len() as u32)
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                LogError::Transport(format!(
                    "topic {} does not exist on {}; start the producer first (it creates the \
                     topic) or check --topic",
                    settings.topic, settings.brokers
                ))
            })?;
        Ok(Self {
            consumer: Arc::new(consumer),
            topic: settings.topic.clone(),
            partitions,
            stop_at_end,
        })
    }

    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// One reader per partition, each starting at `start[p]` (`None`: the beginning).
    pub fn readers(&self, start: &[Option<i64>]) -> Result<Vec<KafkaReader>, LogError> {
        let codec = Codec::shared().map_err(|e| LogError::Transport(e.to_string()))?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..self.partitions {
            let offset = match start.get(partition as usize).copied().flatten() {
                Some(next) => Offset::Offset(next),
                // Offset 0, not `Beginning`: no offset lookup (which one Kafka-protocol broker,
                // tansu, answers wrongly); `auto.offset.reset=earliest` covers a log whose start
                // has aged out.
                None => Offset::Offset(0),
            };
            assignment
                .add_partition_offset(&self.topic, partition as i32, offset)
                .map_err(|e| transport("assigning partitions", e))?;
        }
        self.consumer
            .assign(&assignment)
            .map_err(|e| transport("assigning partitions", e))?;
        let mut senders = Vec::with_capacity(self.partitions as usize);
        let mut readers = Vec::with_capacity(self.partitions as usize);
        let queued: Vec<Arc<AtomicUsize>> = (0..self.partitions).map(|_| Arc::default()).collect();
        for partition in 0..self.partitions {
            let end = if self.stop_at_end {
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(&self.topic, partition as i32, METADATA_TIMEOUT)
                    .map_err(|e| transport("reading the end of a partition", e))?;
                Some(high)
            } else {
                None
            };
            let (tx, rx) = mpsc::channel(MESSAGES_PER_PARTITION);
            senders.push(tx);
            readers.push(KafkaReader {
                partition,
                topic: self.topic.clone(),
                messages: rx,
                queued: queued[partition as usize].clone(),
                codec,
                fragments: Vec::new(),
                end,
                next_offset: start
                    .get(partition as usize)
                    .copied()
                    .flatten()
                    .unwrap_or(0),
            });
        }
        let expected = (0..self.partitions as usize)
            .map(|p| start.get(p).copied().flatten().unwrap_or(0))
            .collect();
        let (consumer, topic) = (self.consumer.clone(), self.topic.clone());
        std::thread::Builder::new()
            .name("kafka-fetch".into())
            .spawn(move || dispatch(&consumer, &topic, senders, queued, expected))
            .map_err(|e| LogError::Transport(format!("starting the Kafka fetch thread: {e}")))?;
        Ok(readers)
    }

    /// A hook that commits `offset + 1` for a partition to the consumer group (for lag tools).
    pub fn commit_hook(&self) -> crate::partition::AppliedHook {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        Arc::new(move |partition, offset| {
            let mut list = TopicPartitionList::new();
            if list
                .add_partition_offset(&topic, partition as i32, Offset::Offset(offset + 1))
                .is_ok()
            {
                if let Err(err) = consumer.commit(&list, CommitMode::Async) {
                    tracing::debug!(%err, partition, "group offset commit failed");
                }
            }
        })
    }
}

/// Messages buffered per partition between the dispatcher and the partition task. When one is
/// full the dispatcher waits, which stops fetching: memory stays bounded.
const MESSAGES_PER_PARTITION: usize = 4096;

/// What the dispatcher hands a partition's task.
enum Fetched {
    /// The partition's next message, as the task needs it.
    Message {
        offset: i64,
        payload: Vec<u8>,
        fragment: Option<(u64, u64)>,
    },
    /// Offsets `from..=to` left the log (retention) before they were read: the target lacks
    /// them, so nothing after them may be applied.
    Lost { from: i64, to: i64 },
}

impl Fetched {
    /// Payload bytes it holds.
    fn bytes(&self) -> usize {
        match self {
            Fetched::Message { payload, .. } => payload.len(),
            Fetched::Lost { .. } => 0,
        }
    }
}

/// Payload bytes a partition's task may hold before the dispatcher parks more (and pauses the
/// partition): with big values in 1 MiB chunks, a message count alone bounds nothing.
const BYTES_PER_PARTITION: usize = 8 << 20;

/// How long a replaying reader waits past the watermark before it decides the partition ended.
const END_QUIET: Duration = Duration::from_secs(1);

/// Routes every fetched message to its partition's task, in fetch order (which is partition
/// order). A partition whose task has ended gets nothing more.
///
/// Runs on a thread of its own, polling the consumer: a poll loop takes about a microsecond a
/// message, where an async `recv` per message (the `StreamConsumer`) held the whole apply side
/// to some 35,000 records/s with the CPU mostly idle.
///
/// It also checks that each partition's offsets arrive without a hole: a message past the next
/// expected offset makes it fetch again from the expected one, and one before it, a copy, is
/// dropped. A hole that is still there after that means the broker deleted records before they
/// were applied (retention; the producer writes no transactions and the data topic is not
/// compacted): the partition stops with an error naming the offsets. Only a partition read from
/// its beginning may start past offset 0, where the records of older epochs aged out.
fn dispatch(
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
                if offset < *next || lost[partition] {
                    continue;
                }
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

/// Reads one partition of the data topic.
pub struct KafkaReader {
    partition: u32,
    topic: String,
    messages: mpsc::Receiver<Fetched>,
    /// Payload bytes in `messages` (the dispatcher adds, this reader takes away).
    queued: Arc<AtomicUsize>,
    codec: &'static Codec,
    /// Fragments of a record split over several messages, until its last one arrives.
    fragments: Vec<u8>,
    /// Replay: the partition's high watermark when reading began. Past it the reader waits
    /// [`END_QUIET`] for more before it ends, since some brokers (tansu) report a watermark short
    /// of the real end when the last batch holds several records.
    end: Option<i64>,
    /// Offset after the last message read.
    next_offset: i64,
}

impl PartitionReader for KafkaReader {
    fn partition(&self) -> u32 {
        self.partition
    }

    async fn next(&mut self) -> Result<Option<Delivery>, LogError> {
        loop {
            let received = match self.end {
                Some(end) if self.next_offset >= end => {
                    match tokio::time::timeout(END_QUIET, self.messages.recv()).await {
                        Ok(received) => received,
                        Err(_) if self.fragments.is_empty() => return Ok(None),
                        Err(_) => continue,
                    }
                }
                _ => self.messages.recv().await,
            };
            let Some(message) = received else {
                return Err(LogError::Closed(format!(
                    "the Kafka consumer of {}[{}] stopped",
                    self.topic, self.partition
                )));
            };
            self.queued.fetch_sub(message.bytes(), Ordering::AcqRel);
            let (offset, payload, fragment) = match message {
                Fetched::Message {
                    offset,
                    payload,
                    fragment,
                } => (offset, payload, fragment),
                Fetched::Lost { from, to } => {
                    return Err(LogError::Transport(format!(
                        "records {from}..={to} of {}[{}] were deleted from the log before they \
                         were applied (the topic's retention is shorter than the consumer's lag; \
                         `slotstream dev-broker` keeps about 5 MB per partition): the target \
                         lacks them and nothing after them was applied. Raise the topic's \
                         retention, then start a new full sync into this target: restart the producer \
                         without its resume point (a new topic, or delete `<topic>.resume`) and \
                         consume that",
                        self.topic, self.partition
                    )));
                }
            };
            self.next_offset = offset + 1;
            let decoded = match fragment {
                Some((index, count)) if index + 1 < count => {
                    if index == 0 {
                        self.fragments.clear();
                    }
                    self.fragments.extend_from_slice(&payload);
                    continue;
                }
                Some(_) => {
                    self.fragments.extend_from_slice(&payload);
                    let whole = std::mem::take(&mut self.fragments);
                    self.codec.decode(&whole)
                }
                None => self.codec.decode(&payload),
            };
            let record = decoded.map_err(|e| {
                LogError::Transport(format!(
                    "the record at {}[{}] offset {offset} does not decode: {e}; nothing after it \
                     was applied in this partition: fix or remove the record (or the producer \
                     that wrote it) and restart",
                    self.topic, self.partition
                ))
            })?;
            return Ok(Some(Delivery {
                record,
                log_offset: Some(offset),
                lease: None,
            }));
        }
    }
}

/// `i/n` → `(i, n)`.
fn parse_fragment(value: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(value).ok()?;
    let (index, count) = text.split_once('/')?;
    Some((index.parse().ok()?, count.parse().ok()?))
}

fn transport(doing: &str, err: rdkafka::error::KafkaError) -> LogError {
    LogError::Transport(format!("{doing}: {err}"))
}
