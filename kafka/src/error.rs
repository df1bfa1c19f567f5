//! The Kafka transport's error: what failed, on which topic, partition and offset, with
//! librdkafka's own error kept whole as the cause.

use crate::classify::{class_of, unreachable_class_of};
use rdkafka::error::KafkaError as ClientError;
use rdkafka::error::RDKafkaErrorCode;
use slotstream_schemas::log::LogError;
use slotstream_schemas::retry::{Retry, Retryable};
use slotstream_schemas::CodecError;

/// Why the Kafka transport failed. [`Retryable`] says what that means for a run; as a
/// [`LogError`] it keeps both.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("Kafka property {line:?} is not key=value")]
    BadProperty { line: String },

    #[error("no Kafka brokers given (--brokers host:port,...)")]
    NoBrokers,

    /// librdkafka refused the configuration (an unknown or malformed property).
    #[error("cannot create the Kafka {role}; check --kafka-config and --kafka-config-file")]
    Client {
        role: &'static str,
        #[source]
        cause: ClientError,
    },

    /// The first request of a run (the topic's metadata) failed: the brokers may be
    /// unreachable, or may refuse the client.
    #[error(
        "the first request to Kafka at {brokers} failed; check --brokers, that the brokers are \
         up, and the security settings in --kafka-config"
    )]
    Connect {
        brokers: String,
        #[source]
        cause: ClientError,
    },

    /// A request to the brokers failed.
    #[error("Kafka failed while {doing}")]
    Request {
        doing: String,
        #[source]
        cause: ClientError,
    },

    /// Kafka did not take a record the producer handed over.
    #[error("Kafka did not take a record for {topic}[{partition}]")]
    Delivery {
        topic: String,
        partition: i32,
        #[source]
        cause: ClientError,
    },

    /// The idempotent producer stopped for good (librdkafka's fatal error): going on could
    /// reorder or lose records.
    #[error(
        "the Kafka producer hit a fatal error ({code}): {reason}; a new run continues from the \
         resume point"
    )]
    ProducerFatal {
        code: RDKafkaErrorCode,
        reason: String,
    },

    #[error(
        "topic {topic} has {count} partitions but {partitions} were asked for; the partition \
         count is fixed for a topic's life: pass --partitions {count}, or use a new topic"
    )]
    PartitionCount {
        topic: String,
        count: u32,
        partitions: u32,
    },

    #[error(
        "topic {topic} does not exist on {brokers}; start the producer first (it creates the \
         topic) or check --topic"
    )]
    NoTopic { topic: String, brokers: String },

    /// The topic is missing and the broker refused to create it.
    #[error(
        "topic {topic} does not exist and could not be created; {}",
        create_it(*partitions)
    )]
    CreateTopic {
        topic: String,
        partitions: u32,
        #[source]
        cause: ClientError,
    },

    /// The topic is missing and the broker did not answer the request to create it.
    #[error(
        "topic {topic} does not exist and the broker did not answer CreateTopics; {}",
        create_it(*partitions)
    )]
    CreateTopicTimeout { topic: String, partitions: u32 },

    #[error(
        "the resume point at {topic}[0] offset {offset} does not decode; delete the topic's \
         resume point only if you want a new full sync"
    )]
    BadResumePoint {
        topic: String,
        offset: i64,
        #[source]
        cause: serde_json::Error,
    },

    #[error("timed out reading the resume point from {topic}")]
    ResumeTimeout { topic: String },

    #[error("cannot start {what}")]
    Start {
        what: &'static str,
        #[source]
        cause: std::io::Error,
    },

    #[error("cannot load the record codec")]
    Codec {
        #[source]
        cause: CodecError,
    },

    #[error("cannot encode a record for partition {partition}")]
    Encode {
        partition: u32,
        #[source]
        cause: CodecError,
    },

    #[error(
        "the record at {topic}[{partition}] offset {offset} does not decode; nothing after it \
         was applied in this partition: fix or remove the record (or the producer that wrote \
         it) and restart"
    )]
    Undecodable {
        topic: String,
        partition: u32,
        offset: i64,
        #[source]
        cause: CodecError,
    },

    #[error("cannot start the in-memory broker")]
    DevBroker {
        #[source]
        cause: ClientError,
    },

    #[error("cannot create topic {topic} on the in-memory broker")]
    DevBrokerTopic {
        topic: String,
        #[source]
        cause: ClientError,
    },

    /// Offsets left the log (retention) before they were applied.
    #[error(
        "records {from}..={to} of {topic}[{partition}] were deleted from the log before they \
         were applied (the topic's retention is shorter than the consumer's lag; \
         `slotstream dev-broker` keeps about 5 MB per partition): the target lacks them and \
         nothing after them was applied. Raise the topic's retention, then start a new full \
         sync into this target: restart the producer without its resume point (a new topic, or \
         delete `<topic>.resume`) and consume that"
    )]
    RecordsLost {
        topic: String,
        partition: u32,
        from: i64,
        to: i64,
    },

    /// The partition ends before offsets already read: the log went back.
    #[error(
        "{topic}[{partition}] now ends at offset {end}, but offsets up to {} were read from it \
         already: the log went back (the topic was deleted and created again, or its broker \
         lost its data). Nothing from it on was applied. Find out which; to copy afresh, \
         restart the producer on a new topic and consume that into an emptied target",
        next - 1
    )]
    LogShrank {
        topic: String,
        partition: u32,
        next: i64,
        end: i64,
    },
}

/// What to do about a topic slotstream could not create.
fn create_it(partitions: u32) -> String {
    format!(
        "create it with {partitions} partitions (with `slotstream dev-broker --topic \
         NAME:PARTITIONS` when trying the in-memory broker, which cannot create topics for \
         clients)"
    )
}

impl KafkaError {
    /// A failed request, `doing` saying what it was for.
    pub(crate) fn request(doing: impl Into<String>) -> impl FnOnce(ClientError) -> Self {
        let doing = doing.into();
        move |cause| KafkaError::Request { doing, cause }
    }
}

impl Retryable for KafkaError {
    fn retry(&self) -> Retry {
        match self {
            KafkaError::Connect { cause, .. } => unreachable_class_of(cause),
            KafkaError::Request { cause, .. } | KafkaError::Delivery { cause, .. } => {
                class_of(cause)
            }
            // librdkafka gave up waiting; the broker may be back by the next run.
            KafkaError::ResumeTimeout { .. } => Retry::Reconnect,
            // The same configuration, topic or record fails the same way again.
            KafkaError::BadProperty { .. }
            | KafkaError::NoBrokers
            | KafkaError::Client { .. }
            | KafkaError::ProducerFatal { .. }
            | KafkaError::PartitionCount { .. }
            | KafkaError::NoTopic { .. }
            | KafkaError::CreateTopic { .. }
            | KafkaError::CreateTopicTimeout { .. }
            | KafkaError::BadResumePoint { .. }
            | KafkaError::Start { .. }
            | KafkaError::Codec { .. }
            | KafkaError::Encode { .. }
            | KafkaError::Undecodable { .. }
            | KafkaError::DevBroker { .. }
            | KafkaError::DevBrokerTopic { .. }
            | KafkaError::RecordsLost { .. }
            | KafkaError::LogShrank { .. } => Retry::Fatal,
        }
    }
}

impl From<KafkaError> for LogError {
    fn from(err: KafkaError) -> Self {
        LogError::Transport {
            retry: err.retry(),
            source: Box::new(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::RDKafkaErrorCode as Code;
    use std::error::Error as _;

    fn request(code: Code) -> KafkaError {
        KafkaError::request("producing a record")(ClientError::MessageProduction(code))
    }

    fn undecodable() -> KafkaError {
        let codec = slotstream_schemas::Codec::shared().unwrap();
        let cause = codec.decode(b"not avro").unwrap_err();
        KafkaError::Undecodable {
            topic: "shop".into(),
            partition: 3,
            offset: 17,
            cause,
        }
    }

    #[test]
    fn each_error_kind_has_its_class() {
        let down = || ClientError::MetadataFetch(Code::AllBrokersDown);
        let connect = KafkaError::Connect {
            brokers: "k:9092".into(),
            cause: down(),
        };
        assert_eq!(connect.retry(), Retry::Unreachable);
        let refused = KafkaError::Connect {
            brokers: "k:9092".into(),
            cause: ClientError::MetadataFetch(Code::SaslAuthenticationFailed),
        };
        assert_eq!(refused.retry(), Retry::Fatal);
        assert_eq!(
            KafkaError::request("reading")(down()).retry(),
            Retry::Reconnect
        );
        assert_eq!(request(Code::NotEnoughReplicas).retry(), Retry::Later);
        assert_eq!(
            request(Code::TopicAuthorizationFailed).retry(),
            Retry::Fatal
        );
        let delivery = |code| KafkaError::Delivery {
            topic: "shop".into(),
            partition: 0,
            cause: ClientError::MessageProduction(code),
        };
        assert_eq!(delivery(Code::MessageTimedOut).retry(), Retry::Reconnect);
        assert_eq!(delivery(Code::Fatal).retry(), Retry::Fatal);
        let timeout = KafkaError::ResumeTimeout {
            topic: "shop.resume".into(),
        };
        assert_eq!(timeout.retry(), Retry::Reconnect);
        assert_eq!(undecodable().retry(), Retry::Fatal);
        let lost = KafkaError::RecordsLost {
            topic: "shop".into(),
            partition: 1,
            from: 5,
            to: 9,
        };
        assert_eq!(lost.retry(), Retry::Fatal);
        let property = ["nokey".to_string()];
        let bad = crate::KafkaSettings::with_properties("k", "t", None, &property).unwrap_err();
        assert_eq!(bad.retry(), Retry::Fatal);
    }

    #[test]
    fn as_a_log_error_it_keeps_its_class_and_its_causes() {
        let err = LogError::from(request(Code::BrokerTransportFailure));
        assert_eq!(err.retry(), Retry::Reconnect);
        let LogError::Transport { retry, source } = &err else {
            panic!("not a transport error: {err:?}")
        };
        assert_eq!(*retry, Retry::Reconnect);
        let kafka = source.downcast_ref::<KafkaError>().expect("a KafkaError");
        assert!(matches!(kafka, KafkaError::Request { .. }), "{kafka:?}");
        // The chain: the log's message, ours, then librdkafka's; none repeats another.
        let mut chain = vec![err.to_string()];
        let mut next = err.source();
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        assert_eq!(chain[0], "the log's transport failed", "{chain:?}");
        assert_eq!(chain[1], "Kafka failed while producing a record");
        assert!(chain[2].contains("BrokerTransportFailure"), "{chain:?}");
        assert_eq!(chain.join(": ").matches("producing a record").count(), 1);
        let client = kafka.source().unwrap().downcast_ref::<ClientError>();
        assert_eq!(
            client.and_then(ClientError::rdkafka_error_code),
            Some(Code::BrokerTransportFailure)
        );
    }

    #[test]
    fn an_undecodable_record_names_topic_partition_and_offset() {
        let err = undecodable();
        let text = err.to_string();
        assert!(text.contains("shop[3] offset 17 does not decode"), "{text}");
        assert!(err.source().unwrap().is::<CodecError>());
    }
}
