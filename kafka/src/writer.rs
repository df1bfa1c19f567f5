//! The Kafka log writer: records become Avro single-object messages in the data topic, keyed by
//! slot, fragmented past [`MAX_MESSAGE_BYTES`]; the producer's resume point lives in
//! `<topic>.resume` (see [`crate::resume`]).
//!
//! Invariant: a resume point is written only after `flush` returned, i.e. after Kafka
//! acknowledged every record before it. After a crash the producer may produce some records
//! again; the consumer drops them by position.

use crate::admin::{ensure_data_topic, ensure_resume_topic};
use crate::config::{KafkaSettings, PRODUCER_DEFAULTS};
use crate::error::KafkaError;
use crate::topic::{
    fragment_header, kind_name, slot_key, HEADER_EPOCH, HEADER_FRAGMENT, HEADER_KIND,
    MAX_MESSAGE_BYTES,
};
use rdkafka::error::{KafkaError as ClientError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use slotstream_schemas::codec::Codec;
use slotstream_schemas::log::{LogError, LogWriter};
use slotstream_schemas::Record;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FLUSH_TIMEOUT: Duration = Duration::from_secs(300);

/// The first record Kafka did not take: where it was going, and why.
struct Undelivered {
    topic: String,
    partition: i32,
    cause: ClientError,
}

/// Remembers the first delivery failure; `append` and `flush` report it.
#[derive(Default, Clone)]
struct DeliveryTracker {
    failure: Arc<Mutex<Option<Undelivered>>>,
}

impl ClientContext for DeliveryTracker {
    fn stats(&self, statistics: rdkafka::statistics::Statistics) {
        crate::stats::take_producer_report(&statistics);
    }
}

impl ProducerContext for DeliveryTracker {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, message)) = result {
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| Undelivered {
                topic: message.topic().to_string(),
                partition: message.partition(),
                cause: err.clone(),
            });
        }
    }
}

/// Appends records to a slot-partitioned Kafka topic.
pub struct KafkaWriter {
    producer: ThreadedProducer<DeliveryTracker>,
    tracker: DeliveryTracker,
    pub(crate) settings: KafkaSettings,
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
    pub fn open(settings: &KafkaSettings, partitions: u32) -> Result<Self, KafkaError> {
        let codec = Codec::shared().map_err(|cause| KafkaError::Codec { cause })?;
        ensure_data_topic(settings, partitions)?;
        ensure_resume_topic(settings)?;
        let tracker = DeliveryTracker::default();
        let mut config = settings.client_config(PRODUCER_DEFAULTS);
        // librdkafka's own numbers for `--metrics-addr`, unless the user set an interval.
        if config.get("statistics.interval.ms").is_none() {
            config.set("statistics.interval.ms", crate::stats::INTERVAL_MS);
        }
        let producer = config
            .create_with_context(tracker.clone())
            .map_err(|cause| KafkaError::Client {
                role: "producer",
                cause,
            })?;
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

    /// The first delivery failure, if any. A fatal one (the idempotent producer gave up) is
    /// reported with librdkafka's own reason, which the delivery report only points to.
    fn failure(&self) -> Result<(), KafkaError> {
        let failure = self
            .tracker
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(undelivered) = failure.as_ref() else {
            return Ok(());
        };
        if undelivered.cause.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            if let Some((code, reason)) = self.producer.client().fatal_error() {
                return Err(KafkaError::ProducerFatal { code, reason });
            }
        }
        Err(KafkaError::Delivery {
            topic: undelivered.topic.clone(),
            partition: undelivered.partition,
            cause: undelivered.cause.clone(),
        })
    }

    /// Sends one message, waiting while librdkafka's queue is full.
    pub(crate) fn send(&self, mut record: BaseRecord<'_, [u8], [u8]>) -> Result<(), KafkaError> {
        loop {
            self.failure()?;
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((ClientError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((err, _)) => return Err(KafkaError::request("producing a record")(err)),
            }
        }
    }

    /// Sends `record`'s encoding in `self.buffer`, in fragments when it is big.
    fn send_encoded(&self, partition: u32, record: &Record) -> Result<(), KafkaError> {
        let key = slot_key(record.slot);
        let count = self.buffer.len().div_ceil(MAX_MESSAGE_BYTES).max(1);
        for (index, chunk) in self.buffer.chunks(MAX_MESSAGE_BYTES).enumerate() {
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
                let fragment = fragment_header(index, count);
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
            self.send(message)?;
        }
        Ok(())
    }

    /// [`LogWriter::flush`] with the transport's own error.
    pub(crate) fn flush_all(&mut self) -> Result<(), KafkaError> {
        self.producer
            .flush(FLUSH_TIMEOUT)
            .map_err(KafkaError::request(
                "waiting for Kafka to acknowledge records",
            ))?;
        self.failure()
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
        self.buffer.clear();
        self.codec
            .encode(&record, &mut self.buffer)
            .map_err(|cause| KafkaError::Encode { partition, cause })?;
        let result = self.send_encoded(partition, &record);
        // Big records leave a big buffer behind; keep it only if it is modest.
        if self.buffer.capacity() > 4 << 20 {
            self.buffer = Vec::with_capacity(64 << 10);
        }
        Ok(result?)
    }

    fn flush(&mut self) -> Result<(), LogError> {
        Ok(self.flush_all()?)
    }
}
