//! `--source-max-bytes`: at most so many bytes a second read from the source's replication
//! link, snapshot and live stream alike (DTS's limit on what a migration takes from the source).
//!
//! A token bucket holding a tenth of a second's worth: a read takes at most what the bucket
//! holds, and waits (the capture thread sleeps) when it is empty. What slotstream does not read
//! waits in the source's output buffer for the replica, so keep `client-output-buffer-limit
//! replica` above what the source writes faster than the limit, or the source drops the link.

use std::time::{Duration, Instant};

/// The smallest bucket, so a low limit still reads in useful pieces.
const MIN_BURST: f64 = 4096.0;

#[derive(Debug, Clone)]
pub struct ReadLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl ReadLimit {
    /// A limit of `bytes_per_second`; `None` for 0 (unlimited).
    pub fn new(bytes_per_second: u64) -> Option<ReadLimit> {
        let per_second = bytes_per_second as f64;
        let burst = (per_second / 10.0).max(MIN_BURST);
        (bytes_per_second > 0).then_some(ReadLimit {
            per_second,
            burst,
            tokens: burst,
            last: Instant::now(),
        })
    }

    /// How many of `wanted` bytes the next read may take, after waiting for some when none are
    /// left (at least 1 of a non-empty read).
    pub fn grant(&mut self, wanted: usize) -> usize {
        if wanted == 0 {
            return 0;
        }
        self.refill();
        if self.tokens < 1.0 {
            let wait = (1.0 - self.tokens) / self.per_second;
            std::thread::sleep(Duration::from_secs_f64(wait));
            self.refill();
        }
        wanted.min(self.tokens as usize).max(1)
    }

    /// `bytes` were read.
    pub fn spent(&mut self, bytes: usize) {
        self.tokens -= bytes as f64;
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keep_to_the_rate() {
        let mut limit = ReadLimit::new(200_000).unwrap();
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
        assert!(ReadLimit::new(0).is_none());
    }
}
