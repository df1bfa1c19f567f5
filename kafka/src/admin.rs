//! Topics: how many partitions one has, and creating it through the Admin API when missing.

use crate::config::{KafkaSettings, RESUME_READER_DEFAULTS};
use crate::error::KafkaError;
use crate::topic::resume_topic;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError as ClientError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub(crate) const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// The partition count of `topic`, `None` when it does not exist. This is a run's first request
/// to the brokers, so its failure is a [`KafkaError::Connect`].
pub(crate) fn partition_count(
    consumer: &BaseConsumer,
    settings: &KafkaSettings,
    topic: &str,
) -> Result<Option<u32>, KafkaError> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|cause| KafkaError::Connect {
            brokers: settings.brokers.clone(),
            cause,
        })?;
    Ok(metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len() as u32)
        .filter(|&count| count > 0))
}

/// Whether the data topic holds no record in any partition (or does not exist).
pub fn topic_is_empty(settings: &KafkaSettings) -> Result<bool, KafkaError> {
    let consumer: BaseConsumer = settings.create("metadata client", &[])?;
    let ends = watermarks(&consumer, settings)?.unwrap_or_default();
    Ok(ends.iter().all(|&(low, high)| high <= low))
}

/// Where every partition of the data topic begins and ends: its first offset and the offset
/// its next message will get, in partition order (`None` when the topic does not exist).
///
/// Some Kafka-protocol brokers (tansu) answer the high watermark with the last batch's first
/// offset + 1, short of the end when that batch holds several records; so each partition is
/// read from there to its end-of-partition event (at most a batch).
pub fn topic_ends(settings: &KafkaSettings) -> Result<Option<Vec<(i64, i64)>>, KafkaError> {
    let consumer: BaseConsumer = settings.create("end reader", RESUME_READER_DEFAULTS)?;
    let topic = &settings.topic;
    let Some(mut ends) = watermarks(&consumer, settings)? else {
        return Ok(None);
    };
    let mut assignment = TopicPartitionList::new();
    let mut reading = BTreeSet::new();
    for (partition, &(low, high)) in ends.iter().enumerate() {
        if high > low {
            let partition = partition as i32;
            assignment
                .add_partition_offset(topic, partition, Offset::Offset(high - 1))
                .map_err(KafkaError::request(format!("assigning {topic}")))?;
            reading.insert(partition);
        }
    }
    if reading.is_empty() {
        return Ok(Some(ends));
    }
    consumer
        .assign(&assignment)
        .map_err(KafkaError::request(format!("assigning {topic}")))?;
    let deadline = Instant::now() + METADATA_TIMEOUT;
    while !reading.is_empty() {
        if Instant::now() >= deadline {
            return Err(KafkaError::request(format!(
                "reading the ends of {topic}: partitions {reading:?} gave no end within {} s",
                METADATA_TIMEOUT.as_secs()
            ))(ClientError::NoMessageReceived));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                if let Some(end) = ends.get_mut(message.partition() as usize) {
                    end.1 = end.1.max(message.offset() + 1);
                }
            }
            Some(Err(ClientError::PartitionEOF(partition))) => {
                reading.remove(&partition);
            }
            Some(Err(err)) => {
                return Err(KafkaError::request(format!("reading the ends of {topic}"))(
                    err,
                ))
            }
            None => {}
        }
    }
    Ok(Some(ends))
}

/// The low and high watermarks of every partition of the data topic, as the brokers' offset
/// listing says (`None` when the topic does not exist).
fn watermarks(
    consumer: &BaseConsumer,
    settings: &KafkaSettings,
) -> Result<Option<Vec<(i64, i64)>>, KafkaError> {
    let topic = &settings.topic;
    let Some(partitions) = partition_count(consumer, settings, topic)? else {
        return Ok(None);
    };
    let mut ends = Vec::with_capacity(partitions as usize);
    for partition in 0..partitions as i32 {
        ends.push(
            consumer
                .fetch_watermarks(topic, partition, METADATA_TIMEOUT)
                .map_err(KafkaError::request(format!(
                    "reading the ends of {topic}[{partition}]"
                )))?,
        );
    }
    Ok(Some(ends))
}

/// Checks that the data topic exists with `partitions` partitions, creating it when missing.
pub(crate) fn ensure_data_topic(
    settings: &KafkaSettings,
    partitions: u32,
) -> Result<(), KafkaError> {
    let topic = &settings.topic;
    match existing_partitions(settings, topic)? {
        Some(count) if count == partitions => Ok(()),
        Some(count) => Err(KafkaError::PartitionCount {
            topic: topic.clone(),
            count,
            partitions,
        }),
        None => create_topic(settings, topic, partitions, &[]),
    }
}

/// Checks that the resume topic exists, creating it (1 partition, compacted) when missing.
/// Only its partition 0 is read and written, so one that a broker created by itself with its
/// default count (tansu does, when a producer writes to a topic it lost) serves as well.
pub(crate) fn ensure_resume_topic(settings: &KafkaSettings) -> Result<(), KafkaError> {
    let topic = resume_topic(&settings.topic);
    match existing_partitions(settings, &topic)? {
        Some(1) => Ok(()),
        Some(count) => {
            tracing::warn!(
                topic,
                count,
                "the resume topic has more than 1 partition; only partition 0 is used"
            );
            Ok(())
        }
        None => create_topic(settings, &topic, 1, &[("cleanup.policy", "compact")]),
    }
}

/// The partition count of `topic`, or `None` when it does not exist.
fn existing_partitions(settings: &KafkaSettings, topic: &str) -> Result<Option<u32>, KafkaError> {
    let consumer: BaseConsumer = settings.create("metadata client", &[])?;
    partition_count(&consumer, settings, topic)
}

/// Creates `topic` with `partitions` partitions and the topic settings `config`, through the
/// Admin API; a topic created meanwhile by someone else is as good.
fn create_topic(
    settings: &KafkaSettings,
    topic: &str,
    partitions: u32,
    config: &[(&str, &str)],
) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings.create("admin client", &[])?;
    let mut new_topic = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(-1));
    for (key, value) in config {
        new_topic = new_topic.set(key, value);
    }
    let options = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|cause| KafkaError::Start {
            what: "the runtime that creates topics",
            cause,
        })?;
    let refused = |cause: ClientError| KafkaError::CreateTopic {
        topic: topic.to_string(),
        partitions,
        cause,
    };
    let results = runtime
        .block_on(async {
            tokio::time::timeout(
                METADATA_TIMEOUT,
                admin.create_topics([&new_topic], &options),
            )
            .await
        })
        .map_err(|_| KafkaError::CreateTopicTimeout {
            topic: topic.to_string(),
            partitions,
        })?
        .map_err(refused)?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(topic, partitions, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(refused(ClientError::AdminOp(code))),
        }
    }
    Ok(())
}
