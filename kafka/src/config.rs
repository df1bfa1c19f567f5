//! How slotstream's Kafka clients are configured: the user's settings, slotstream's defaults for
//! each role, and the one place that turns both into a librdkafka configuration.

use crate::error::KafkaError;
use rdkafka::config::{ClientConfig, FromClientConfig};

/// librdkafka settings of the producer: exactly-once-friendly, batched production. The user's
/// `--kafka-config` properties override them.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
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
    // Only failures are of interest (the writer's delivery tracker); success is known from
    // `flush`. A report per message cost about a sixth of the producer's CPU on small commands.
    ("delivery.report.only.error", "true"),
];

/// librdkafka settings of the data topic's reader (`consume`, `replay`).
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    // Records of transactions that did not commit are never applied.
    ("isolation.level", "read_committed"),
    // Small fetch waits keep latency low on quiet partitions and on brokers that hold fetches.
    ("fetch.wait.max.ms", "10"),
    // What librdkafka prefetches per partition, which also bounds what a paused partition
    // leaves parked (see the dispatcher): memory stays bounded with many partitions.
    ("queued.min.messages", "20000"),
    ("queued.max.messages.kbytes", "8192"),
    // Once a partition's prefetch queue is over those limits librdkafka stops fetching it for
    // this long (default 1 s): with the queue drained in a few ms, that pause, not the target,
    // bounded the apply rate (about 35,000 records/s). Shorter than ~50 ms spins the fetcher
    // and loses on a small machine; measured in BENCHMARKS.md.
    ("fetch.queue.backoff.ms", "100"),
];

/// librdkafka settings of the producer's resume-point reader: it reads the resume topic's tail
/// up to librdkafka's end-of-partition event and commits nothing.
pub const RESUME_READER_DEFAULTS: &[(&str, &str)] = &[
    ("group.id", "slotstream-resume-reader"),
    ("enable.auto.commit", "false"),
    ("enable.partition.eof", "true"),
    ("fetch.wait.max.ms", "10"),
];

/// How to reach Kafka: bootstrap servers, the data topic and librdkafka properties.
#[derive(Debug, Clone, Default)]
pub struct KafkaSettings {
    pub brokers: String,
    pub topic: String,
    /// `key=value` librdkafka properties given by the user; they win over slotstream's.
    pub properties: Vec<(String, String)>,
    /// The shard of a cluster source this client writes or reads for (`slots-0`): its resume
    /// point has a key of its own. `None` for a whole source.
    pub shard: Option<String>,
}

impl KafkaSettings {
    /// Parses `key=value` lines (`#` comments, blank lines skipped) from a config file, then the
    /// command-line ones, which come later and so win.
    pub fn with_properties(
        brokers: &str,
        topic: &str,
        file_text: Option<&str>,
        flags: &[String],
    ) -> Result<Self, KafkaError> {
        let mut properties = Vec::new();
        let file_lines = file_text.into_iter().flat_map(str::lines);
        for line in file_lines.chain(flags.iter().map(String::as_str)) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| KafkaError::BadProperty {
                    line: line.to_string(),
                })?;
            properties.push((key.trim().to_string(), value.trim().to_string()));
        }
        if brokers.trim().is_empty() {
            return Err(KafkaError::NoBrokers);
        }
        Ok(Self {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            properties,
            shard: None,
        })
    }

    /// The full property list: bootstrap servers, then `defaults`, then the user's properties.
    pub fn client_properties(&self, defaults: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all = vec![("bootstrap.servers".to_string(), self.brokers.clone())];
        all.extend(defaults.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        all.extend(self.properties.iter().cloned());
        all
    }

    /// A librdkafka configuration of [`Self::client_properties`].
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in self.client_properties(defaults) {
            config.set(key, value);
        }
        config
    }

    /// Creates a client (`role` names it in errors) with `defaults` under the user's properties.
    pub(crate) fn create<T: FromClientConfig>(
        &self,
        role: &'static str,
        defaults: &[(&str, &str)],
    ) -> Result<T, KafkaError> {
        self.client_config(defaults)
            .create()
            .map_err(|cause| KafkaError::Client { role, cause })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_win_over_defaults() {
        let settings = KafkaSettings::with_properties(
            "k:9092",
            "t",
            Some("# comment\nacks = 1\n\nlinger.ms=50"),
            &["linger.ms=7".to_string()],
        )
        .unwrap();
        let all = settings.client_properties(&[("acks", "all"), ("linger.ms", "5")]);
        let last = |key: &str| {
            all.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(last("bootstrap.servers").as_deref(), Some("k:9092"));
        assert_eq!(last("acks").as_deref(), Some("1"));
        assert_eq!(last("linger.ms").as_deref(), Some("7"));
        let config = settings.client_config(PRODUCER_DEFAULTS);
        assert_eq!(config.get("linger.ms"), Some("7"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
    }

    #[test]
    fn bad_properties_and_missing_brokers_are_named() {
        let err = KafkaSettings::with_properties("k", "t", None, &["nokey".into()]).unwrap_err();
        assert!(
            matches!(&err, KafkaError::BadProperty { line } if line == "nokey"),
            "{err}"
        );
        let err = KafkaSettings::with_properties(" ", "t", None, &[]).unwrap_err();
        assert!(err.to_string().contains("--brokers"), "{err}");
    }
}
