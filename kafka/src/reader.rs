//! The Kafka log reader: one consumer for the data topic, whose messages a dispatcher
//! ([`crate::dispatch`]) routes to one bounded channel per partition; each partition's reader
//! reassembles fragments and decodes.
//!
//! Partitions are assigned explicitly (no group rebalancing): the consumer seeks each one to
//! just after its checkpoint. The group id is used only to commit offsets for lag tools.

use crate::admin::{partition_count, METADATA_TIMEOUT};
use crate::config::{KafkaSettings, CONSUMER_DEFAULTS};
use crate::dispatch::{dispatch, Fetched, MESSAGES_PER_PARTITION};
use crate::error::KafkaError;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use slotstream_schemas::codec::Codec;
use slotstream_schemas::log::{AppliedHook, Delivery, LogError, PartitionReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a replaying reader waits past the watermark before it decides the partition ended.
const END_QUIET: Duration = Duration::from_secs(1);

/// A connection to the data topic.
pub struct KafkaLog {
    consumer: Arc<BaseConsumer>,
    topic: String,
    partitions: u32,
    stop_at_end: bool,
}

impl KafkaLog {
    /// Connects and learns the topic's partition count. `group` is the consumer group offsets
    /// are committed to (a `group.id` among the user's properties wins).
    /// With `stop_at_end`, each partition's reader ends once it has caught up with the end of
    /// its partition (replay); otherwise readers follow their partitions for ever.
    pub fn open(
        settings: &KafkaSettings,
        group: &str,
        stop_at_end: bool,
    ) -> Result<Self, KafkaError> {
        let defaults = [CONSUMER_DEFAULTS, &[("group.id", group)]].concat();
        let consumer: BaseConsumer = settings.create("consumer", &defaults)?;
        let partitions =
            partition_count(&consumer, settings, &settings.topic)?.ok_or_else(|| {
                KafkaError::NoTopic {
                    topic: settings.topic.clone(),
                    brokers: settings.brokers.clone(),
                }
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
    pub fn readers(&self, start: &[Option<i64>]) -> Result<Vec<KafkaReader>, KafkaError> {
        let codec = Codec::shared().map_err(|cause| KafkaError::Codec { cause })?;
        let start_of = |partition: u32| start.get(partition as usize).copied().flatten();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..self.partitions {
            // Offset 0, not `Beginning`: no offset lookup (which one Kafka-protocol broker,
            // tansu, answers wrongly); `auto.offset.reset=earliest` covers a log whose start
            // has aged out.
            let offset = Offset::Offset(start_of(partition).unwrap_or(0));
            assignment
                .add_partition_offset(&self.topic, partition as i32, offset)
                .map_err(KafkaError::request(format!("assigning {}", self.topic)))?;
        }
        self.consumer
            .assign(&assignment)
            .map_err(KafkaError::request(format!("assigning {}", self.topic)))?;
        let mut senders = Vec::with_capacity(self.partitions as usize);
        let mut readers = Vec::with_capacity(self.partitions as usize);
        let queued: Vec<Arc<AtomicUsize>> = (0..self.partitions).map(|_| Arc::default()).collect();
        for partition in 0..self.partitions {
            let end = if self.stop_at_end {
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(&self.topic, partition as i32, METADATA_TIMEOUT)
                    .map_err(KafkaError::request(format!(
                        "reading the end of {}[{partition}]",
                        self.topic
                    )))?;
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
                next_offset: start_of(partition).unwrap_or(0),
            });
        }
        let expected = (0..self.partitions)
            .map(|p| start_of(p).unwrap_or(0))
            .collect();
        let (consumer, topic) = (self.consumer.clone(), self.topic.clone());
        std::thread::Builder::new()
            .name("kafka-fetch".into())
            .spawn(move || dispatch(&consumer, &topic, senders, queued, expected))
            .map_err(|cause| KafkaError::Start {
                what: "the Kafka fetch thread",
                cause,
            })?;
        Ok(readers)
    }

    /// A hook that commits `offset + 1` for a partition to the consumer group (for lag tools).
    pub fn commit_hook(&self) -> AppliedHook {
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
                    return Err(KafkaError::RecordsLost {
                        topic: self.topic.clone(),
                        partition: self.partition,
                        from,
                        to,
                    }
                    .into());
                }
                Fetched::Shrank { next, end } => {
                    return Err(KafkaError::LogShrank {
                        topic: self.topic.clone(),
                        partition: self.partition,
                        next,
                        end,
                    }
                    .into());
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
            let record = decoded.map_err(|cause| KafkaError::Undecodable {
                topic: self.topic.clone(),
                partition: self.partition,
                offset,
                cause,
            })?;
            return Ok(Some(Delivery {
                record,
                log_offset: Some(offset),
                lease: None,
            }));
        }
    }
}
