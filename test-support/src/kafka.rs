//! Raw Kafka clients for the tests: create topics, read partition counts and watermarks, write
//! messages of any bytes, and read a whole topic back, on any broker (dev-broker, tansu, Kafka).

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Liveness bound for anything that waits on a broker: start, delivery, metadata, reading.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One message as read back by [`read_all`]: partition, offset, key, value (empty for a null
/// value) and headers (a null header value reads as empty), in the order they were written.
pub type RawMessage = (i32, i64, Option<Vec<u8>>, Vec<u8>, Vec<(String, Vec<u8>)>);

/// Creates `topic` through the Admin API (works on tansu and Kafka, not on the dev-broker) and
/// waits until its metadata shows every partition.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: u32) {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap)
        .create()
        .expect("create an admin client");
    let count = i32::try_from(partitions).expect("partition count fits in i32");
    let new_topic = NewTopic::new(topic, count, TopicReplication::Fixed(1));
    let options = AdminOptions::new()
        .request_timeout(Some(PATIENCE))
        .operation_timeout(Some(PATIENCE));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a runtime");
    let results = runtime
        .block_on(admin.create_topics([&new_topic], &options))
        .unwrap_or_else(|err| panic!("CreateTopics {topic} failed: {err}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("cannot create topic {name}: {code}");
        }
    }
    let deadline = Instant::now() + PATIENCE;
    while partition_count(bootstrap, topic) != Some(count) {
        assert!(
            Instant::now() < deadline,
            "topic {topic} was created but its metadata did not show {count} partitions"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes `topic` exist on a broker that creates a topic when a producer first asks about it
/// (the dev-broker: its mock cluster has no `CreateTopics` but creates such a topic, with 4
/// partitions); returns its partition count. On other brokers use [`create_topic`].
pub fn touch_topic(bootstrap: &str, topic: &str) -> u32 {
    let producer: BaseProducer = client_config(bootstrap)
        .set("allow.auto.create.topics", "true")
        .create()
        .expect("create a producer");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let _ = producer.client().fetch_metadata(Some(topic), PATIENCE);
        if let Some(count) = partition_count(bootstrap, topic) {
            return count as u32;
        }
        assert!(
            Instant::now() < deadline,
            "topic {topic} was not created on first use"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many partitions `topic` has, or `None` if the broker does not know it. Lists all topics
/// rather than asking for this one, so asking never auto-creates it.
pub fn partition_count(bootstrap: &str, topic: &str) -> Option<i32> {
    let consumer = consumer(bootstrap);
    let metadata = consumer
        .fetch_metadata(None, PATIENCE)
        .unwrap_or_else(|err| panic!("metadata from {bootstrap}: {err}"));
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    if found.error().is_some() {
        return None;
    }
    Some(found.partitions().len() as i32)
}

/// The first offset still in `topic`'s `partition` (greater than 0 once retention deleted some).
pub fn low_watermark(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    let (low, _) = consumer(bootstrap)
        .fetch_watermarks(topic, partition, PATIENCE)
        .unwrap_or_else(|err| panic!("watermarks of {topic}[{partition}]: {err}"));
    low
}

/// Writes one message with any bytes to `topic`'s `partition`, waits for the broker's
/// acknowledgement and returns its offset. Panics if it is not delivered.
pub fn produce_raw(bootstrap: &str, topic: &str, partition: i32, key: &[u8], value: &[u8]) -> i64 {
    produce_raw_with_headers(bootstrap, topic, partition, Some(key), value, &[])
}

/// [`produce_raw`] with an optional key and headers.
pub fn produce_raw_with_headers(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    key: Option<&[u8]>,
    value: &[u8],
    headers: &[(&str, &[u8])],
) -> i64 {
    let producer: BaseProducer<Delivery> = client_config(bootstrap)
        .set("message.timeout.ms", PATIENCE.as_millis().to_string())
        .create_with_context(Delivery::default())
        .expect("create a producer");
    let mut owned = OwnedHeaders::new_with_capacity(headers.len());
    for (name, value) in headers {
        owned = owned.insert(Header {
            key: name,
            value: Some(*value),
        });
    }
    let mut record = BaseRecord::to(topic)
        .partition(partition)
        .payload(value)
        .headers(owned);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Err((err, _)) = producer.send(record) {
        panic!("cannot queue a message for {topic}/{partition}: {err}");
    }
    producer
        .flush(PATIENCE)
        .unwrap_or_else(|err| panic!("flush to {topic}/{partition}: {err}"));
    let outcome = producer.context().0.lock().expect("delivery lock").take();
    match outcome {
        Some(Ok(offset)) => offset,
        Some(Err(err)) => panic!("message to {topic}/{partition} not delivered: {err}"),
        None => panic!("no delivery report for {topic}/{partition} after flush"),
    }
}

/// Reads every message of every partition of `topic`, from the start of each partition's log to
/// its end; sorted by partition, then offset. Uses `assign` (no consumer group), so it is fast on
/// every broker and commits nothing.
///
/// The end of a partition is the consumer's end-of-partition event, which comes from the high
/// watermark in the Fetch response. The high watermark from ListOffsets is not used for that:
/// tansu 0.6 answers it with the last batch's base offset + 1, short of the real end whenever the
/// last batch holds more than one record.
pub fn read_all(bootstrap: &str, topic: &str) -> Vec<RawMessage> {
    let consumer = consumer(bootstrap);
    let partitions =
        partition_count(bootstrap, topic).unwrap_or_else(|| panic!("no topic {topic}"));
    // Partitions that hold records and whose end is not reached yet.
    let mut pending = BTreeSet::new();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, PATIENCE)
            .unwrap_or_else(|err| panic!("watermarks of {topic}/{partition}: {err}"));
        if high > low {
            pending.insert(partition);
        }
        // An explicit offset, not `Offset::Beginning`: resolving that costs librdkafka a
        // ListOffsets round and about 500 ms before the first fetch.
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(low))
            .expect("add a partition to the assignment");
    }
    consumer.assign(&assignment).expect("assign partitions");

    let mut messages = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut last_error = None;
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "read_all {topic}: partitions {pending:?} not read to the end within {PATIENCE:?}; \
             last error: {last_error:?}"
        );
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            // Also reached when a partition's last offsets hold control records (transaction
            // markers), which are never delivered as messages.
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                pending.remove(&partition);
            }
            Some(Err(err)) => last_error = Some(err),
            Some(Ok(message)) => {
                let partition = message.partition();
                let offset = message.offset();
                let headers = message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default();
                messages.push((
                    partition,
                    offset,
                    message.key().map(<[u8]>::to_vec),
                    message.payload().unwrap_or_default().to_vec(),
                    headers,
                ));
            }
        }
    }
    messages.sort_by_key(|m| (m.0, m.1));
    messages
}

/// Settings every helper client shares.
fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", PATIENCE.as_millis().to_string());
    config
}

/// A consumer for metadata and `assign`-based reads: no group membership, no commits, short fetch waits
/// (the mock cluster otherwise holds every empty fetch for 500 ms).
fn consumer(bootstrap: &str) -> BaseConsumer {
    client_config(bootstrap)
        // `assign` needs a group id, though nothing joins the group or commits to it.
        .set("group.id", "slotstream-tests-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // Should a low watermark be stale, start from the oldest record rather than the newest.
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("create a consumer")
}

/// Keeps the outcome of the one message a [`produce_raw`] producer sends.
#[derive(Default)]
struct Delivery(Mutex<Option<Result<i64, KafkaError>>>);

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = match result {
            Ok(message) => Ok(message.offset()),
            Err((err, _)) => Err(err.clone()),
        };
        *self.0.lock().expect("delivery lock") = Some(outcome);
    }
}
