//! Topics: how many partitions one has, and creating it through the Admin API when missing.

use crate::config::KafkaSettings;
use crate::error::KafkaError;
use crate::topic::resume_topic;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError as ClientError, RDKafkaErrorCode};
use std::time::Duration;

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

/// Checks that `topic` exists with `partitions` partitions, creating it when missing.
pub(crate) fn ensure_topic(
    settings: &KafkaSettings,
    topic: &str,
    partitions: u32,
) -> Result<(), KafkaError> {
    let consumer: BaseConsumer = settings.create("metadata client", &[])?;
    match partition_count(&consumer, settings, topic)? {
        Some(count) if count == partitions => Ok(()),
        // Only partition 0 of a resume topic is read and written: one that a broker created by
        // itself with its default count (tansu does, when a producer writes to a topic it lost)
        // serves as well.
        Some(count) if partitions == 1 && topic == resume_topic(&settings.topic) => {
            tracing::warn!(
                topic,
                count,
                "the resume topic has more than 1 partition; only partition 0 is used"
            );
            Ok(())
        }
        Some(count) => Err(KafkaError::PartitionCount {
            topic: topic.to_string(),
            count,
            partitions,
        }),
        None => create_topic(settings, topic, partitions),
    }
}

/// Creates `topic` with `partitions` partitions (a resume topic compacted), through the Admin
/// API; a topic created meanwhile by someone else is as good.
fn create_topic(settings: &KafkaSettings, topic: &str, partitions: u32) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings.create("admin client", &[])?;
    let mut new_topic = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(-1));
    if topic == resume_topic(&settings.topic) {
        new_topic = new_topic.set("cleanup.policy", "compact");
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
