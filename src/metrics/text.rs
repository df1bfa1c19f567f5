//! The run's numbers as Prometheus text (prometheus-client's encoder): counters of what was
//! read, applied, refused and left out, the snapshot's size, lag and checkpoint per partition,
//! batch round trips, throttle waits, retries, and readiness. Labels are bounded: a partition
//! and a shard, never a key.

use super::{LATER, RECONNECTS};
use crate::progress::Numbers;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use slotstream_consumer::stats::LatencyReading;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Whose lag.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    /// `slots-<first slot>` of a cluster source's shard; empty for a whole source.
    shard: String,
    partition: String,
}

/// Which capture: a shard of a cluster source, or the whole source (empty).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShardLabels {
    shard: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: String,
}

/// A shard's label value, `slots-<first slot>` (empty for a whole source).
fn shard_label(first_slot: Option<u16>) -> String {
    first_slot.map(|s| format!("slots-{s}")).unwrap_or_default()
}

/// A partition's labels.
fn labels_of(key: &slotstream_consumer::stats::LagKey) -> PartitionLabels {
    PartitionLabels {
        shard: shard_label(key.shard),
        partition: key.partition.to_string(),
    }
}

/// A histogram read from the apply side's atomics, encoded as Prometheus's histogram type.
#[derive(Debug)]
struct Histogram(LatencyReading);

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let Histogram(reading) = self;
        encoder.encode_histogram::<NoLabelSet>(
            reading.sum_seconds,
            reading.count,
            &reading.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// `numbers` (and `ready`) in the text format.
pub fn render(numbers: &Numbers, ready: bool) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("slotstream");
    let mut counter = |name: &str, help: &str, value: u64| {
        let counter: Counter = Counter::default();
        counter.inc_by(value);
        registry.register(name, help, counter);
    };
    counter(
        "snapshot_keys_read",
        "Snapshot keys read from the source",
        numbers.keys_read,
    );
    counter(
        "snapshot_keys_applied",
        "Snapshot keys written to the target",
        numbers.keys_applied,
    );
    counter(
        "snapshot_bytes_read",
        "Snapshot bytes read from the source",
        numbers.rdb_bytes,
    );
    counter(
        "commands_applied",
        "Live commands applied to the target",
        numbers.commands,
    );
    counter(
        "commands_refused",
        "Replicated commands the target answered with an error of their own",
        numbers.refused,
    );
    counter(
        "left_out",
        "Keys and commands left out as the target cannot hold them (--on-unsupported)",
        numbers.left_out,
    );
    let gauge = |registry: &mut Registry, name: &str, help: &str, value: i64| {
        let gauge: Gauge = Gauge::default();
        gauge.set(value);
        registry.register(name, help, gauge);
    };
    gauge(
        &mut registry,
        "snapshot_bytes_expected",
        "Snapshot size the source announced (0: not announced)",
        numbers.rdb_total as i64,
    );
    gauge(
        &mut registry,
        "partitions",
        "Partitions the apply side runs (of every shard)",
        numbers.partitions as i64,
    );
    gauge(
        &mut registry,
        "partitions_live",
        "Partitions that have applied a live record, so are past their snapshot",
        numbers.lags_ms.len() as i64,
    );
    gauge(
        &mut registry,
        "captures_live",
        "Captures past their snapshot, following live changes",
        numbers.captures_live as i64,
    );
    gauge(
        &mut registry,
        "lag_alert",
        "1 while a partition's lag is over --alert-lag-secs",
        i64::from(super::alert::raised()),
    );
    gauge(
        &mut registry,
        "ready",
        "1 when /readyz answers 200",
        i64::from(ready),
    );
    let lag = Family::<PartitionLabels, Gauge<f64, AtomicU64>>::default();
    for (key, ms) in &numbers.lags_ms {
        lag.get_or_create(&labels_of(key)).set(*ms as f64 / 1000.0);
    }
    registry.register(
        "lag_seconds",
        "Apply time minus the time the source wrote the partition's newest record applied",
        lag,
    );
    let epoch = Family::<PartitionLabels, Gauge>::default();
    let offset = Family::<PartitionLabels, Gauge>::default();
    for (key, applied) in &numbers.applied {
        epoch
            .get_or_create(&labels_of(key))
            .set(applied.epoch as i64);
        offset
            .get_or_create(&labels_of(key))
            .set(applied.offset as i64);
    }
    registry.register(
        "checkpoint_epoch",
        "Epoch of the partition's last stored checkpoint",
        epoch,
    );
    registry.register(
        "checkpoint_offset",
        "Source replication offset the partition's last stored checkpoint reached",
        offset,
    );
    let source = Family::<ShardLabels, Gauge>::default();
    for (shard, offset) in &numbers.source_offsets {
        let labels = ShardLabels {
            shard: shard_label(*shard),
        };
        source.get_or_create(&labels).set(*offset as i64);
    }
    registry.register(
        "source_offset",
        "Source replication offset the capture has followed to (minus a partition's \
         checkpoint_offset: its lag in bytes)",
        source,
    );
    registry.register(
        "batch_seconds",
        "Round trip of each batch (its commands and checkpoint) to the target",
        Histogram(numbers.batch_latency.clone()),
    );
    let waited: Counter<f64, AtomicU64> = Counter::default();
    waited.inc_by(numbers.throttle_waited.as_secs_f64());
    registry.register(
        "throttle_wait_seconds",
        "Time batches waited for the write limits (--max-ops and the like), partitions added up",
        waited,
    );
    if let Some(kafka) = &numbers.kafka_producer {
        gauge(
            &mut registry,
            "kafka_producer_queue_messages",
            "Messages in librdkafka's producer queue, not yet acknowledged (its last report)",
            kafka.queue_messages as i64,
        );
        gauge(
            &mut registry,
            "kafka_producer_queue_bytes",
            "Bytes of those messages",
            kafka.queue_bytes as i64,
        );
        let seconds = |registry: &mut Registry, name: &str, help: &str, value: Duration| {
            let gauge: Gauge<f64, AtomicU64> = Gauge::default();
            gauge.set(value.as_secs_f64());
            registry.register(name, help, gauge);
        };
        seconds(
            &mut registry,
            "kafka_broker_rtt_avg_seconds",
            "Mean request round trip to the brokers, the slowest broker's (librdkafka)",
            kafka.rtt_avg,
        );
        seconds(
            &mut registry,
            "kafka_broker_rtt_p99_seconds",
            "99th percentile of the request round trip to the brokers, the slowest broker's",
            kafka.rtt_p99,
        );
    }
    let retries = Family::<CauseLabels, Counter>::default();
    for (cause, count) in [("reconnect", &RECONNECTS), ("later", &LATER)] {
        let labels = CauseLabels {
            cause: cause.to_string(),
        };
        retries
            .get_or_create(&labels)
            .inc_by(count.load(Ordering::Relaxed));
    }
    registry.register(
        "retries",
        "Attempts started again: after a dropped link (reconnect) or an error that may pass (later)",
        retries,
    );
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_consumer::stats::LagKey;

    #[test]
    fn numbers_become_prometheus_text() {
        let mut numbers = Numbers {
            keys_applied: 42,
            partitions: 2,
            ..Numbers::default()
        };
        let key = LagKey {
            shard: Some(5461),
            partition: 3,
        };
        numbers.lags_ms.insert(key, 1500);
        let applied = slotstream_consumer::stats::Applied {
            epoch: 7,
            offset: 9000,
        };
        numbers.applied.insert(key, applied);
        numbers.source_offsets.insert(Some(5461), 9500);
        let latency = slotstream_consumer::stats::Latency::default();
        latency.observe(std::time::Duration::from_millis(3));
        latency.observe(std::time::Duration::from_millis(4));
        numbers.batch_latency = latency.read();
        numbers.throttle_waited = std::time::Duration::from_millis(2500);
        numbers.kafka_producer = Some(crate::progress::KafkaProducer {
            queue_messages: 12,
            queue_bytes: 3400,
            rtt_avg: Duration::from_micros(1500),
            rtt_p99: Duration::from_millis(8),
        });
        let text = render(&numbers, false).unwrap();
        for line in [
            "slotstream_checkpoint_epoch{shard=\"slots-5461\",partition=\"3\"} 7\n",
            "slotstream_checkpoint_offset{shard=\"slots-5461\",partition=\"3\"} 9000\n",
            "slotstream_batch_seconds_count 2\n",
            "slotstream_source_offset{shard=\"slots-5461\"} 9500\n",
            "slotstream_batch_seconds_bucket{le=\"0.0025\"} 0\n",
            "slotstream_batch_seconds_bucket{le=\"0.005\"} 2\n",
            "slotstream_batch_seconds_bucket{le=\"+Inf\"} 2\n",
            "slotstream_throttle_wait_seconds_total 2.5\n",
            "slotstream_kafka_producer_queue_messages 12\n",
            "slotstream_kafka_broker_rtt_avg_seconds 0.0015\n",
            "slotstream_kafka_broker_rtt_p99_seconds 0.008\n",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
        assert!(
            text.contains("slotstream_snapshot_keys_applied_total 42\n"),
            "{text}"
        );
        assert!(
            text.contains("slotstream_lag_seconds{shard=\"slots-5461\",partition=\"3\"} 1.5\n"),
            "{text}"
        );
        assert!(text.contains("slotstream_ready 0\n"), "{text}");
        assert!(text.contains("slotstream_partitions_live 1\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
