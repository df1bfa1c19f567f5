//! librdkafka's own statistics of the producer (`statistics.interval.ms`, every 5 s): messages
//! and bytes waiting in its queue, and the brokers' request round trip, kept for
//! `--metrics-addr`. One producer per process writes the data topic, so the numbers are the
//! process's.

use rdkafka::statistics::Statistics;
use std::sync::atomic::{AtomicU64, Ordering};

/// How often librdkafka reports (`statistics.interval.ms`).
pub(crate) const INTERVAL_MS: &str = "5000";

/// The producer's last report (all zero before the first).
#[derive(Debug)]
struct ProducerStats {
    queue_messages: AtomicU64,
    queue_bytes: AtomicU64,
    rtt_avg_us: AtomicU64,
    rtt_p99_us: AtomicU64,
    reports: AtomicU64,
}

static PRODUCER: ProducerStats = ProducerStats {
    queue_messages: AtomicU64::new(0),
    queue_bytes: AtomicU64::new(0),
    rtt_avg_us: AtomicU64::new(0),
    rtt_p99_us: AtomicU64::new(0),
    reports: AtomicU64::new(0),
};

/// What the producer's last report said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProducerReading {
    /// Messages in librdkafka's queue, not yet acknowledged.
    pub queue_messages: u64,
    pub queue_bytes: u64,
    /// Request round trip to the brokers, the slowest broker's mean and 99th percentile (µs),
    /// as last measured (0 before any request).
    pub rtt_avg_us: u64,
    pub rtt_p99_us: u64,
    /// Reports received so far.
    pub reports: u64,
}

/// The producer's last report.
pub fn producer_stats() -> ProducerReading {
    ProducerReading {
        queue_messages: PRODUCER.queue_messages.load(Ordering::Relaxed),
        queue_bytes: PRODUCER.queue_bytes.load(Ordering::Relaxed),
        rtt_avg_us: PRODUCER.rtt_avg_us.load(Ordering::Relaxed),
        rtt_p99_us: PRODUCER.rtt_p99_us.load(Ordering::Relaxed),
        reports: PRODUCER.reports.load(Ordering::Relaxed),
    }
}

/// Takes in one report of the producer. A report whose window saw no request (an idle
/// producer) keeps the round trip last measured.
pub(crate) fn take_producer_report(statistics: &Statistics) {
    let windows: Vec<_> = statistics
        .brokers
        .values()
        .filter_map(|broker| broker.rtt.as_ref())
        .filter(|window| window.cnt > 0)
        .collect();
    if !windows.is_empty() {
        let avg = windows.iter().map(|w| w.avg).max().unwrap_or(0);
        let p99 = windows.iter().map(|w| w.p99).max().unwrap_or(0);
        PRODUCER
            .rtt_avg_us
            .store(avg.max(0) as u64, Ordering::Relaxed);
        PRODUCER
            .rtt_p99_us
            .store(p99.max(0) as u64, Ordering::Relaxed);
    }
    PRODUCER
        .queue_messages
        .store(statistics.msg_cnt, Ordering::Relaxed);
    PRODUCER
        .queue_bytes
        .store(statistics.msg_size, Ordering::Relaxed);
    PRODUCER.reports.fetch_add(1, Ordering::Relaxed);
}
