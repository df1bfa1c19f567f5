//! slotstream's Kafka transport: the log traits of `slotstream_schemas::log` over librdkafka
//! (through `rdkafka`), the conventions records follow in Kafka, the producer's resume point,
//! and the in-memory broker behind `slotstream dev-broker`.
//!
//! Producer and consumer know only the traits; the command picks this transport for `produce`,
//! `consume` and `replay` (the binary builds without it: `--no-default-features`).
//!
//! # Layout
//! - [`config`]: [`KafkaSettings`] (brokers, topic, the user's librdkafka properties), each
//!   role's defaults, and the one place a librdkafka configuration is built.
//! - [`topic`]: how records sit in Kafka: resume topic name, message key, headers, fragments.
//! - [`writer`]: [`KafkaWriter`], the `LogWriter`: records → messages, fragments, delivery
//!   failures.
//! - [`resume`]: the producer's resume point in `<topic>.resume`, saved and loaded.
//! - [`reader`]: [`KafkaLog`] and [`KafkaReader`], the `PartitionReader`s of a data topic.
//! - `dispatch`: the reader's fetch thread: routes messages to partitions, parks, finds holes.
//! - `admin`: a topic's partition count; creating a missing topic.
//! - [`dev_broker`]: [`DevBroker`], librdkafka's mock cluster with its topics.
//! - [`error`]: [`KafkaError`], with librdkafka's error as its cause.
//! - `classify`: what a librdkafka error means for a run (`Retryable`).

#![forbid(unsafe_code)]

mod admin;
mod classify;
pub mod config;
pub mod dev_broker;
mod dispatch;
pub mod error;
pub mod reader;
pub mod resume;
pub mod stats;
pub mod topic;
pub mod writer;

pub use admin::{topic_ends, topic_is_empty};
pub use config::KafkaSettings;
pub use dev_broker::DevBroker;
pub use error::KafkaError;
pub use reader::{KafkaLog, KafkaReader};
pub use resume::{load_resume_point, load_resume_points, StoredPoints};
pub use stats::{producer_stats, ProducerReading};
pub use writer::KafkaWriter;
