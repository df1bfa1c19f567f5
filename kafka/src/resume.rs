//! The producer's resume point in `<topic>.resume`: JSON (readable with any Kafka tool), saved
//! only after every earlier record is acknowledged, read back from the topic's tail.

use crate::admin::{partition_count, METADATA_TIMEOUT};
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
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Message key of a whole source's resume point: the compacted topic keeps the newest.
const RESUME_KEY: &str = "resume";
/// Prefix of the key of one shard's resume point (`resume:slots-0`): each shard of a cluster
/// source has a producer, and a resume point, of its own.
const SHARD_KEY_PREFIX: &str = "resume:";

/// Resume points read back first: the newest is among the last few unless compaction lags.
const TAIL: i64 = 1000;

/// The key `settings`' resume point is stored under.
fn resume_key(settings: &KafkaSettings) -> String {
    match &settings.shard {
        Some(shard) => format!("{SHARD_KEY_PREFIX}{shard}"),
        None => RESUME_KEY.to_string(),
    }
}

impl KafkaWriter {
    /// Stores `point` in the resume topic, after every record appended so far is acknowledged.
    pub fn save_resume_point(&mut self, point: &ResumePoint) -> Result<(), KafkaError> {
        self.flush_all()?;
        let topic = resume_topic(&self.settings.topic);
        let key = resume_key(&self.settings);
        let value = encode(point);
        self.send(
            BaseRecord::to(&topic)
                .partition(0)
                .key(key.as_bytes())
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
            key,
            "resume point stored"
        );
        Ok(())
    }
}

/// Reads the last resume point of `settings.topic` (of `settings.shard`, for one shard of a
/// cluster source), if any: from the tail of the resume topic, else from its start (a shard
/// whose producer was away while the others saved theirs).
pub fn load_resume_point(settings: &KafkaSettings) -> Result<Option<ResumePoint>, KafkaError> {
    let key = resume_key(settings);
    let tail = read_points(settings, Some(TAIL))?;
    if let Some(point) = tail.points.get(&key) {
        return Ok(Some(point.clone()));
    }
    if !tail.partial {
        return Ok(None);
    }
    Ok(read_points(settings, None)?.points.remove(&key))
}

/// The resume points in `settings.topic`'s resume topic: the whole source's (`None` key) and
/// each shard's, by shard (`slots-0`), the newest of each.
pub struct StoredPoints {
    pub whole: Option<ResumePoint>,
    pub shards: BTreeMap<String, ResumePoint>,
}

/// Reads every resume point of the topic (the whole resume topic, from its start).
pub fn load_resume_points(settings: &KafkaSettings) -> Result<StoredPoints, KafkaError> {
    let mut points = read_points(settings, None)?.points;
    let whole = points.remove(RESUME_KEY);
    let shards = points
        .into_iter()
        .filter_map(|(key, point)| Some((key.strip_prefix(SHARD_KEY_PREFIX)?.to_string(), point)))
        .collect();
    Ok(StoredPoints { whole, shards })
}

/// Resume points read from the resume topic, the newest per key.
struct ReadPoints {
    points: BTreeMap<String, ResumePoint>,
    /// Only the tail was read, and there is more before it.
    partial: bool,
}

/// Reads the resume topic's last `tail` messages (all of them with `None`), keeping the newest
/// point of each key (messages without a key are a whole source's, as first stored).
///
/// Reads up to the end-of-partition event rather than trusting the high watermark alone: some
/// Kafka-protocol brokers (tansu) report a watermark short of the real end when the last batch
/// holds several records.
fn read_points(settings: &KafkaSettings, tail: Option<i64>) -> Result<ReadPoints, KafkaError> {
    let topic = resume_topic(&settings.topic);
    let consumer: BaseConsumer = settings.create("resume point reader", RESUME_READER_DEFAULTS)?;
    let mut read = ReadPoints {
        points: BTreeMap::new(),
        partial: false,
    };
    if partition_count(&consumer, settings, &topic)?.is_none() {
        return Ok(read);
    }
    let (low, high) = consumer
        .fetch_watermarks(&topic, 0, METADATA_TIMEOUT)
        .map_err(KafkaError::request(format!("reading the end of {topic}")))?;
    if high <= low {
        return Ok(read);
    }
    let from = match tail {
        Some(tail) => low.max(high - tail),
        None => low,
    };
    read.partial = from > low;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Offset(from))
        .map_err(KafkaError::request(format!("assigning {topic}")))?;
    consumer
        .assign(&assignment)
        .map_err(KafkaError::request(format!("assigning {topic}")))?;
    let mut deadline = Instant::now() + METADATA_TIMEOUT;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                let point = decode(payload).map_err(|cause| KafkaError::BadResumePoint {
                    topic: topic.clone(),
                    offset: message.offset(),
                    cause,
                })?;
                let key = message
                    .key()
                    .map_or(RESUME_KEY.into(), String::from_utf8_lossy);
                read.points.insert(key.into_owned(), point);
                // A long resume topic (a broker that does not compact) is read to its end.
                deadline = deadline.max(Instant::now() + Duration::from_secs(1));
            }
            Some(Err(ClientError::PartitionEOF(_))) => return Ok(read),
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
            slots: None,
        };
        assert_eq!(decode(&encode(&point)).unwrap(), point);
        assert!(decode(b"junk").is_err());
        // Points saved before `db` and `snapshot_complete` were kept read as db 0, complete.
        let old = br#"{"source":"s","replid":"r","offset":1,"epoch":1,"partitions":4}"#;
        assert_eq!(decode(old).unwrap().db, 0);
        assert!(decode(old).unwrap().snapshot_complete);
    }
}
