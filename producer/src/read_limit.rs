//! `--source-max-bytes`: at most so many bytes a second read from the source's replication
//! link, snapshot and live stream alike (DTS's limit on what a migration takes from the source).
//!
//! A token bucket holding a tenth of a second's worth: a read takes at most what the bucket
//! holds, and waits (the capture thread sleeps) when it is empty. What slotstream does not read
//! waits in the source's output buffer for the replica, so keep `client-output-buffer-limit
//! replica` above what the source writes faster than the limit, or the source drops the link.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The smallest bucket, so a low limit still reads in useful pieces.
const MIN_BURST: f64 = 4096.0;

/// The limit in bytes a second (0: unlimited), shared: clones see a change made through any of
/// them (a SIGHUP re-reading the options) from their next read on.
#[derive(Debug, Clone, Default)]
pub struct ReadRate(Arc<AtomicU64>);

impl ReadRate {
    pub fn new(bytes_per_second: u64) -> Self {
        Self(Arc::new(AtomicU64::new(bytes_per_second)))
    }

    pub fn set(&self, bytes_per_second: u64) {
        self.0.store(bytes_per_second, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One reader's bucket under a [`ReadRate`].
#[derive(Debug, Clone)]
pub struct ReadLimit {
    rate: ReadRate,
    tokens: f64,
    last: Instant,
}

impl ReadLimit {
    pub fn new(rate: &ReadRate) -> ReadLimit {
        let mut limit = ReadLimit {
            rate: rate.clone(),
            tokens: 0.0,
            last: Instant::now(),
        };
        limit.tokens = limit.burst(rate.get() as f64);
        limit
    }

    /// How many of `wanted` bytes the next read may take, after waiting for some when none are
    /// left (at least 1 of a non-empty read).
    pub fn grant(&mut self, wanted: usize) -> usize {
        let per_second = self.rate.get() as f64;
        if wanted == 0 || per_second == 0.0 {
            return wanted;
        }
        self.refill(per_second);
        if self.tokens < 1.0 {
            let wait = (1.0 - self.tokens) / per_second;
            std::thread::sleep(Duration::from_secs_f64(wait));
            self.refill(per_second);
        }
        wanted.min(self.tokens as usize).max(1)
    }

    /// `bytes` were read.
    pub fn spent(&mut self, bytes: usize) {
        if self.rate.get() > 0 {
            self.tokens -= bytes as f64;
        }
    }

    /// A tenth of a second's worth.
    fn burst(&self, per_second: f64) -> f64 {
        (per_second / 10.0).max(MIN_BURST)
    }

    fn refill(&mut self, per_second: f64) {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * per_second;
        self.tokens = (self.tokens + earned).min(self.burst(per_second));
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keep_to_the_rate() {
        let rate = ReadRate::new(200_000);
        let mut limit = ReadLimit::new(&rate);
        let started = Instant::now();
        let mut read = 0;
        while read < 100_000 {
            let n = limit.grant(65_536);
            assert!(n <= 20_000, "a grant above the burst: {n}");
            limit.spent(n);
            read += n;
        }
        // 100 KB at 200 KB/s, the first 20 KB (the burst) at once: not under 0.4 s (a busy
        // machine may take longer; that is not the limit's doing).
        let took = started.elapsed().as_secs_f64();
        assert!((0.35..5.0).contains(&took), "{took} s");
        rate.set(0);
        assert_eq!(limit.grant(1 << 20), 1 << 20, "unlimited");
    }
}
