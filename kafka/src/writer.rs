//! The Kafka log writer: records become Avro single-object messages in the data topic, keyed by
//! slot, with epoch and kind headers; the producer's resume point lives in `<topic>.resume`.
//!
//! Invariant: a resume point is written only after `flush` returned, i.e. after Kafka
//! acknowledged every record before it. After a crash the producer may produce some records
//! again; the consumer drops them by position.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use slotstream_schemas::codec::Codec;
use slotstream_schemas::log::{LogError, LogWriter};
use slotstream_schemas::topic::{
    kind_name, resume_topic, slot_key, KafkaSettings, ResumePoint, HEADER_EPOCH, HEADER_FRAGMENT,
    HEADER_KIND, MAX_MESSAGE_BYTES,
};
use slotstream_schemas::Record;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const METADATA_TIMEOUT: Duration = Duration::from_secs(30);
const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// librdkafka settings slotstream needs for exactly-once-friendly, batched production. The
/// user's `--kafka-config` properties override them.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("batch.size", "1000000"),
    // Bounded in-flight data: when the queue is full, `append` waits, which stops the capture
    // thread reading the source socket.
    ("queue.buffering.max.kbytes", "65536"),
    ("queue.buffering.max.messages", "200000"),
    ("message.timeout.ms", "0"),
    // Only failures are of interest (`DeliveryTracker`); success is known from `flush`. A
    // report per message cost about a sixth of the producer's CPU on small commands.
    ("delivery.report.only.error", "true"),
];

/// Remembers the first delivery failure; `append` and `flush` report it.
#[derive(Default, Clone)]
struct DeliveryTracker {
    failure: Arc<Mutex<Option<String>>>,
}

impl ClientContext for DeliveryTracker {}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, message)) = result {
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| {
                format!(
                    "Kafka did not take a record for {}[{}]: {err}",
                    message.topic(),
                    message.partition()
                )
            });
        }
    }
}

/// Appends records to a slot-partitioned Kafka topic.
pub struct KafkaWriter {
    producer: ThreadedProducer<DeliveryTracker>,
    tracker: DeliveryTracker,
    settings: KafkaSettings,
    partitions: u32,
    codec: &'static Codec,
    buffer: Vec<u8>,
    /// Whether every message carries `slotstream.epoch` and `slotstream.kind` headers.
    kind_headers: bool,
}

impl KafkaWriter {
    /// Also writes the `slotstream.epoch` and `slotstream.kind` headers on every message, for
    /// tools that filter without decoding. Off by default: librdkafka allocates and frees every
    /// header of every message, which took a third of the producer's CPU on small keys.
    pub fn with_kind_headers(mut self, on: bool) -> Self {
        self.kind_headers = on;
        self
    }

    /// Connects, checks (or creates) the data and resume topics, and returns a writer.
    pub fn open(settings: &KafkaSettings, partitions: u32) -> Result<Self, LogError> {
        let codec = Codec::shared().map_err(|e| LogError::Transport(e.to_string()))?;
        ensure_topic(settings, &settings.topic, partitions)?;
        ensure_topic(settings, &resume_topic(&settings.topic), 1)?;
        let tracker = DeliveryTracker::default();
        let producer = client_config(settings, PRODUCER_DEFAULTS)
            .create_with_context(tracker.clone())
            .map_err(|e| kafka_error("creating the Kafka producer", e))?;
        Ok(Self {
            producer,
            tracker,
            settings: settings.clone(),
            partitions,
            codec,
            buffer: Vec::with_capacity(64 << 10),
            kind_headers: false,
        })
    }

    /// Stores `point` in the resume topic, after every record appended so far is acknowledged.
    pub fn save_resume_point(&mut self, point: &ResumePoint) -> Result<(), LogError> {
        self.flush()?;
        let topic = resume_topic(&self.settings.topic);
        let value = point.to_json();
        self.send(
            BaseRecord::to(&topic)
                .partition(0)
                .key(&b"resume"[..])
                .payload(&value[..]),
        )?;
        self.flush()?;
        tracing::debug!(
            offset = point.offset,
            epoch = point.epoch,
            "resume point stored"
        );
        Ok(())
    }

    fn failure(&self) -> Result<(), LogError> {
        let failure = self
            .tracker
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match failure.as_ref() {
            Some(message) => Err(LogError::Transport(message.clone())),
            None => Ok(()),
        }
    }

    /// Sends one message, waiting while librdkafka's queue is full.
    fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), LogError> {
        loop {
            self.failure()?;
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((err, _)) => return Err(kafka_error("producing a record", err)),
            }
        }
    }
}

impl LogWriter for KafkaWriter {
    fn partitions(&self) -> u32 {
        self.partitions
    }

    fn append(&mut self, partition: u32, record: Record) -> Result<(), LogError> {
        if partition >= self.partitions {
            return Err(LogError::NoSuchPartition {
                partition,
                partitions: self.partitions,
            });
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        self.codec
            .encode(&record, &mut buffer)
            .map_err(|e| LogError::Transport(format!("encoding a record: {e}")))?;
        let key = slot_key(record.slot);
        let count = buffer.len().div_ceil(MAX_MESSAGE_BYTES).max(1);
        let mut result = Ok(());
        for (index, chunk) in buffer.chunks(MAX_MESSAGE_BYTES).enumerate() {
            let mut headers = None;
            if self.kind_headers {
                let epoch = record.epoch.to_string();
                headers = Some(
                    OwnedHeaders::new()
                        .insert(Header {
                            key: HEADER_EPOCH,
                            value: Some(epoch.as_bytes()),
                        })
                        .insert(Header {
                            key: HEADER_KIND,
                            value: Some(kind_name(&record.body).as_bytes()),
                        }),
                );
            }
            if count > 1 {
                let fragment = format!("{index}/{count}");
                headers = Some(headers.unwrap_or_default().insert(Header {
                    key: HEADER_FRAGMENT,
                    value: Some(fragment.as_bytes()),
                }));
            }
            let mut message = BaseRecord::to(&self.settings.topic)
                .partition(partition as i32)
                .key(&key[..])
                .payload(chunk)
                .timestamp(record.capture_ms);
            if let Some(headers) = headers {
                message = message.headers(headers);
            }
            result = self.send(message);
            if result.is_err() {
                break;
            }
        }
        // Big records leave a big buffer behind; keep it only if it is modest.
        if buffer.capacity() <= 4 << 20 {
            self.buffer = buffer;
        }
        result
    }

    fn flush(&mut self) -> Result<(), LogError> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(|e| kafka_error("waiting for Kafka to acknowledge records", e))?;
        self.failure()
    }
}

/// Reads the last resume point of `settings.topic`, if any.
///
/// Reads the tail of the resume topic up to its end-of-partition event rather than trusting
/// the high watermark alone: some Kafka-protocol brokers (tansu) report a watermark short of
/// the real end when the last batch holds several records.
pub fn load_resume_point(settings: &KafkaSettings) -> Result<Option<ResumePoint>, LogError> {
    const TAIL: i64 = 1000;
    let topic = resume_topic(&settings.topic);
    let consumer: BaseConsumer = client_config(
        settings,
        &[
            ("group.id", "slotstream-resume-reader"),
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
            ("fetch.wait.max.ms", "10"),
        ],
    )
    .create()
    .map_err(|e| kafka_error("creating a Kafka consumer", e))?;
    let (low, high) = consumer
        .fetch_watermarks(&topic, 0, METADATA_TIMEOUT)
        .map_err(|e| kafka_error(&format!("reading the end of {topic}"), e))?;
    if high <= low {
        return Ok(None);
    }
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Offset(low.max(high - TAIL)))
        .map_err(|e| kafka_error("assigning the resume topic", e))?;
    consumer
        .assign(&assignment)
        .map_err(|e| kafka_error("assigning the resume topic", e))?;
    let deadline = std::time::Instant::now() + METADATA_TIMEOUT;
    let mut last = None;
    while std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let payload = message.payload().unwrap_or_default();
                let point = ResumePoint::from_json(payload).map_err(|e| {
                    LogError::Transport(format!(
                        "the resume point at {topic}[0]@{} does not decode: {e}; \
                         delete the topic's resume point only if you want a new full sync",
                        message.offset()
                    ))
                })?;
                last = Some(point);
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(last),
            Some(Err(err)) => return Err(kafka_error(&format!("reading {topic}"), err)),
            None => {}
        }
    }
    Err(LogError::Transport(format!(
        "timed out reading the resume point from {topic}"
    )))
}

/// Checks that `topic` exists with `partitions` partitions, creating it when missing.
fn ensure_topic(settings: &KafkaSettings, topic: &str, partitions: u32) -> Result<(), LogError> {
    let consumer: BaseConsumer = client_config(settings, &[])
        .create()
        .map_err(|e| kafka_error("connecting to Kafka", e))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| kafka_error(&format!("reading the metadata of {topic}"), e))?;
    let existing = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len() as u32)
        .filter(|&count| count > 0);
    match existing {
        Some(count) if count == partitions => Ok(()),
        Some(count) => Err(LogError::Transport(format!(
            "topic {topic} has {count} partitions but {partitions} were asked for; the partition \
             count is fixed for a topic's life: pass --partitions {count}, or use a new topic"
        ))),
        None => create_topic(settings, topic, partitions),
    }
}

fn create_topic(settings: &KafkaSettings, topic: &str, partitions: u32) -> Result<(), LogError> {
    let admin: AdminClient<DefaultClientContext> = client_config(settings, &[])
        .create()
        .map_err(|e| kafka_error("creating a Kafka admin client", e))?;
    let config = [("cleanup.policy", "compact")];
    let mut new_topic = NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(-1));
    if topic.ends_with(".resume") {
        new_topic = new_topic.set(config[0].0, config[0].1);
    }
    let options = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LogError::Transport(format!("cannot create topic {topic}: {e}")))?;
    let cannot = |why: String| {
        LogError::Transport(format!(
            "topic {topic} does not exist and could not be created: {why}; create it with \
             {partitions} partitions (with `slotstream dev-broker --topic NAME:PARTITIONS` when \
             trying the in-memory broker, which cannot create topics for clients)"
        ))
    };
    let results = runtime
        .block_on(async {
            tokio::time::timeout(
                METADATA_TIMEOUT,
                admin.create_topics([&new_topic], &options),
            )
            .await
        })
        .map_err(|_| cannot("the broker did not answer CreateTopics".into()))?
        .map_err(|e| cannot(e.to_string()))?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(topic, partitions, "topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(cannot(code.to_string())),
        }
    }
    Ok(())
}

fn client_config(settings: &KafkaSettings, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in settings.client_properties(defaults) {
        config.set(key, value);
    }
    config
}

fn kafka_error(doing: &str, err: KafkaError) -> LogError {
    LogError::Transport(format!("{doing}: {err}"))
}
