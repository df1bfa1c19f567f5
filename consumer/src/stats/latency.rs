//! How long each batch's round trip to the target took: a histogram of fixed buckets kept in
//! atomics, so every partition task records into it without a lock and a scrape reads it whole.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (one more bucket past the last: +Inf).
pub const BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Batch round trips by duration.
#[derive(Debug, Default)]
pub struct Latency {
    /// Observations per bucket (not cumulative); the last is past every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    /// Sum of every observation, in microseconds.
    sum_us: AtomicU64,
}

/// A reading of a [`Latency`]: what Prometheus's histogram type needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyReading {
    pub sum_seconds: f64,
    pub count: u64,
    /// `(upper bound in seconds, observations in that bucket alone)`, the last bound infinite.
    pub buckets: Vec<(f64, u64)>,
}

impl Latency {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn read(&self) -> LatencyReading {
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(&self.buckets)
            .map(|(bound, count)| (bound, count.load(Ordering::Relaxed)))
            .collect();
        LatencyReading {
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            count: buckets.iter().map(|(_, n)| n).sum(),
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_trip_lands_in_the_first_bucket_that_holds_it() {
        let latency = Latency::default();
        latency.observe(Duration::from_micros(300));
        latency.observe(Duration::from_millis(1));
        latency.observe(Duration::from_millis(40));
        latency.observe(Duration::from_secs(9));
        let read = latency.read();
        assert_eq!(read.count, 4);
        assert_eq!(read.buckets.len(), BOUNDS.len() + 1);
        let at = |bound: f64| read.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(
            (at(0.0005), at(0.001), at(0.05), at(f64::INFINITY)),
            (1, 1, 1, 1)
        );
        assert!(
            (read.sum_seconds - 9.0413).abs() < 1e-9,
            "{}",
            read.sum_seconds
        );
    }
}
