//! The producer's resume point in `<topic>.resume`: JSON (readable with any Kafka tool), saved
//! only after every earlier record is acknowledged, read back from the topic's tail.

use crate::admin::METADATA_TIMEOUT;
use crate::config::{KafkaSettings, RESUME_READER_DEFAULTS};
use crate::error::KafkaError;
use crate::topic::resume_topic;
use crate::writer::KafkaWriter;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as ClientError;
use rdkafka::message::Message;
use rdkafka::producer::BaseRecord;
use rdkafka::{Offset, TopicPartitionList};
use slotstream_schemas::resume::ResumePoint;
use std::time::{Duration, Instant};

/// Message key of every resume point: the compacted topic keeps the newest.
const RESUME_KEY: &[u8] = b"resume";

/// Resume points read back at most: the newest is among the last few unless compaction lags.
const TAIL: i64 = 1000;

impl KafkaWriter {
    /// Stores `point` in the resume topic, after every record appended so far is acknowledged.
    pub fn save_resume_point(&mut self, point: &ResumePoint) -> Result<(), KafkaError> {
        self.flush_all()?;
        let topic = resume_topic(&self.settings.topic);
        let value = encode(point);
        self.send(
            BaseRecord::to(&topic)
                .partition(0)
                .key(RESUME_KEY)
                .payload(&value[..]),
        )?;
        // A test's kill point (consumer/src/failpoints.rs); a no-op in normal builds.
        fail::fail_point!("resume-point-unacknowledged", |_| {
            eprintln!("failpoint resume-point-unacknowledged: ending the process");
            std::process::abort()
        });
        self.flush_all()?;
        tracing::debug!(
            offset = point.offset,
            epoch = point.epoch,
            "resume point stored"
        );
        Ok(())
    }
}

/// Reads the last resume point of `settings.topic`, if any.
///
/// Reads the tail of the resume topic up to its end-of-partition event rather than trusting
/// the high watermark alone: some Kafka-protocol brokers (tansu) report a watermark short of
/// the real end when the last batch holds several records.
pub fn load_resume_point(settings: &KafkaSettings) -> Result<Option<ResumePoint>, KafkaError> {
    let topic = resume_topic(&settings.topic);
    let consumer: BaseConsumer = settings.create("resume point reader", RESUME_READER_DEFAULTS)?;
    let (low, high) = consumer
        .fetch_watermarks(&topic, 0, METADATA_TIMEOUT)
        .map_err(KafkaError::request(format!("reading the end of {topic}")))?;
    if high <= low {
        return Ok(None);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Offset(low.max(high - TAIL)))
        .map_err(KafkaError::request(format!("assigning {topic}")))?;
    consumer
        .assign(&assignment)
        .map_err(KafkaError::request(format!("assigning {topic}")))?;
    let deadline = Instant::now() + METADATA_TIMEOUT;
    let mut last = None;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                let point = decode(payload).map_err(|cause| KafkaError::BadResumePoint {
                    topic: topic.clone(),
                    offset: message.offset(),
                    cause,
                })?;
                last = Some(point);
            }
            Some(Err(ClientError::PartitionEOF(_))) => return Ok(last),
            Some(Err(err)) => return Err(KafkaError::request(format!("reading {topic}"))(err)),
            None => {}
        }
    }
    Err(KafkaError::ResumeTimeout { topic })
}

/// A resume point as stored: JSON.
fn encode(point: &ResumePoint) -> Vec<u8> {
    // Plain strings and integers: serializing cannot fail.
    serde_json::to_vec(point).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Result<ResumePoint, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_point_round_trips_as_json() {
        let point = ResumePoint {
            source: "s".into(),
            replid: "r".repeat(40),
            offset: 12345,
            epoch: 2,
            partitions: 16,
            db: 3,
            snapshot_complete: false,
        };
        assert_eq!(decode(&encode(&point)).unwrap(), point);
        assert!(decode(b"junk").is_err());
        // Points saved before `db` and `snapshot_complete` were kept read as db 0, complete.
        let old = br#"{"source":"s","replid":"r","offset":1,"epoch":1,"partitions":4}"#;
        assert_eq!(decode(old).unwrap().db, 0);
        assert!(decode(old).unwrap().snapshot_complete);
    }
}
