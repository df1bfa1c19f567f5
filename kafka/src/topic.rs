//! How records sit in Kafka: topic names, message keys and headers. Both sides and any tool
//! that reads the topics follow these conventions.

/// The compacted topic where the producer keeps its resume point for a data topic.
pub fn resume_topic(data_topic: &str) -> String {
    format!("{data_topic}.resume")
}

/// Message key of a record: its hash slot, 2 bytes big-endian.
pub fn slot_key(slot: u16) -> [u8; 2] {
    slot.to_be_bytes()
}

/// Header carrying the record's epoch as decimal text (only with `produce --kind-headers`).
pub const HEADER_EPOCH: &str = "slotstream.epoch";
/// Header carrying the body kind (`SnapshotKey`, `Command`, …), to filter without decoding
/// (only with `produce --kind-headers`).
pub const HEADER_KIND: &str = "slotstream.kind";

/// Header present on a record split over several messages: `i/n`, fragment `i` of `n`.
/// Fragments of a record are consecutive in their partition; the record's offset is its last
/// fragment's.
pub const HEADER_FRAGMENT: &str = "slotstream.fragment";

/// Largest message value written: under Kafka's default 1 MB message limits, so no broker or
/// topic setting has to change for big values.
pub const MAX_MESSAGE_BYTES: usize = 512 << 10;

/// Where the producer may continue from: every record before it is acknowledged by Kafka.
/// Stored as JSON in the resume topic (readable with any Kafka tool).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResumePoint {
    /// The source's name in the records.
    pub source: String,
    /// Replication id the offset belongs to.
    pub replid: String,
    /// Last replication offset whose records are all in Kafka.
    pub offset: u64,
    /// Epoch those records belong to.
    pub epoch: u64,
    /// Partition count of the data topic.
    pub partitions: u32,
    /// Database selected in the stream at `offset` (a continued stream does not repeat it).
    #[serde(default)]
    pub db: u32,
}

impl ResumePoint {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// How to reach Kafka: bootstrap servers, the data topic and librdkafka properties.
#[derive(Debug, Clone, Default)]
pub struct KafkaSettings {
    pub brokers: String,
    pub topic: String,
    /// `key=value` librdkafka properties given by the user; they win over slotstream's.
    pub properties: Vec<(String, String)>,
}

impl KafkaSettings {
    /// Parses `key=value` lines (`#` comments, blank lines skipped) from a config file, then the
    /// command-line ones, which come later and so win.
    pub fn with_properties(
        brokers: &str,
        topic: &str,
        file_text: Option<&str>,
        flags: &[String],
    ) -> Result<Self, String> {
        let mut properties = Vec::new();
        let file_lines = file_text.into_iter().flat_map(str::lines);
        for line in file_lines.chain(flags.iter().map(String::as_str)) {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("Kafka property {line:?} is not key=value"))?;
            properties.push((key.trim().to_string(), value.trim().to_string()));
        }
        if brokers.trim().is_empty() {
            return Err("no Kafka brokers given (--brokers host:port,...)".into());
        }
        Ok(Self {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            properties,
        })
    }

    /// The full property list: bootstrap servers, then `defaults`, then the user's properties.
    pub fn client_properties(&self, defaults: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all = vec![("bootstrap.servers".to_string(), self.brokers.clone())];
        all.extend(defaults.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        all.extend(self.properties.iter().cloned());
        all
    }
}

/// The body kind's name, as written in [`HEADER_KIND`].
pub fn kind_name(body: &crate::Body) -> &'static str {
    use crate::Body;
    match body {
        Body::SnapshotKey(_) => "SnapshotKey",
        Body::SnapshotChunk(_) => "SnapshotChunk",
        Body::Command(_) => "Command",
        Body::EpochBegin(_) => "EpochBegin",
        Body::SnapshotEnd(_) => "SnapshotEnd",
        Body::Barrier(_) => "Barrier",
        Body::Heartbeat(_) => "Heartbeat",
        Body::Function(_) => "Function",
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
        assert!(KafkaSettings::with_properties("k", "t", None, &["nokey".into()]).is_err());
    }

    #[test]
    fn resume_point_round_trips_as_json() {
        let point = ResumePoint {
            source: "s".into(),
            replid: "r".repeat(40),
            offset: 12345,
            epoch: 2,
            partitions: 16,
            db: 3,
        };
        assert_eq!(ResumePoint::from_json(&point.to_json()).unwrap(), point);
        assert!(ResumePoint::from_json(b"junk").is_err());
    }

    #[test]
    fn names_and_keys() {
        assert_eq!(resume_topic("shop"), "shop.resume");
        assert_eq!(slot_key(16383), [0x3f, 0xff]);
    }
}
