//! Rate limits on what the consumer writes to the destination: commands per second and payload
//! bytes per second, shared by all partitions.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

/// The limits of each phase: the snapshot's writes (slotstream's own, replayable) and the live
/// phase's replicated commands (`--snapshot-max-ops`, `--live-max-ops`, …); `None`: unlimited.
#[derive(Default)]
pub struct Throttles {
    pub snapshot: Option<Throttle>,
    pub live: Option<Throttle>,
}

impl Throttles {
    /// The limit for a batch of replicated commands (`replicated`) or of snapshot writes.
    pub fn of(&self, replicated: bool) -> Option<&Throttle> {
        if replicated {
            self.live.as_ref()
        } else {
            self.snapshot.as_ref()
        }
    }

    /// The most writes a batch should hold: a tenth of a second's worth of the faster phase's
    /// limit ([`Throttle::batch_limit`]; a slower phase's batch then waits longer, and the rate
    /// holds all the same); `None` when a phase is unlimited.
    pub fn batch_limit(&self, partitions: u32) -> Option<usize> {
        let limit = |t: &Option<Throttle>| t.as_ref().and_then(|t| t.batch_limit(partitions));
        limit(&self.snapshot).max(limit(&self.live)).filter(|_| {
            [&self.snapshot, &self.live].iter().all(|t| {
                t.as_ref()
                    .is_some_and(|t| t.batch_limit(partitions).is_some())
            })
        })
    }
}

/// Limits on apply speed; `None` fields are unlimited.
pub struct Throttle {
    ops: Option<DefaultDirectRateLimiter>,
    ops_per_second: u32,
    /// Counted in KiB, so a second's burst fits governor's 32-bit cells.
    kib: Option<DefaultDirectRateLimiter>,
}

impl Throttle {
    /// `max_ops` commands and `max_bytes` bytes per second; 0 means unlimited.
    pub fn new(max_ops: u32, max_bytes: u64) -> Option<Self> {
        let limiter = |per_second: u32| {
            NonZeroU32::new(per_second).map(|rate| RateLimiter::direct(Quota::per_second(rate)))
        };
        let kib = u32::try_from(max_bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let throttle = Self {
            ops: limiter(max_ops),
            ops_per_second: max_ops,
            kib: limiter(kib),
        };
        (throttle.ops.is_some() || throttle.kib.is_some()).then_some(throttle)
    }

    /// The most writes a batch should hold: a tenth of a second's worth, so a limited lane sends
    /// small batches often rather than a big one after a long wait.
    pub fn batch_limit(&self, partitions: u32) -> Option<usize> {
        let share = self.ops_per_second / 10 / partitions.max(1);
        (self.ops_per_second > 0).then_some(share.max(1) as usize)
    }

    /// Waits until `ops` commands of `bytes` bytes in total may be sent.
    pub async fn admit(&self, ops: usize, bytes: usize) {
        if let Some(limiter) = &self.ops {
            wait_for(limiter, ops as u64).await;
        }
        if let Some(limiter) = &self.kib {
            wait_for(limiter, (bytes as u64).div_ceil(1024)).await;
        }
    }
}

/// Takes `cells` from `limiter`, in pieces no bigger than its burst (one second's worth).
async fn wait_for(limiter: &DefaultDirectRateLimiter, mut cells: u64) {
    while cells > 0 {
        let mut piece = cells.min(u64::from(u32::MAX)) as u32;
        loop {
            let Some(n) = NonZeroU32::new(piece) else {
                return;
            };
            match limiter.until_n_ready(n).await {
                Ok(()) => break,
                // More than the burst: ask for half as much at a time.
                Err(_) => piece = (piece / 2).max(1),
            }
        }
        cells -= u64::from(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_faster_phase_sets_the_batch_size() {
        let both = Throttles {
            snapshot: Throttle::new(40_000, 0),
            live: Throttle::new(80, 0),
        };
        assert_eq!(both.batch_limit(8), Some(500));
        let live_unlimited = Throttles {
            snapshot: Throttle::new(40_000, 0),
            live: None,
        };
        assert_eq!(live_unlimited.batch_limit(8), None);
    }

    #[test]
    fn unlimited_is_no_throttle() {
        assert!(Throttle::new(0, 0).is_none());
        assert!(Throttle::new(10, 0).is_some());
    }

    #[test]
    fn a_limited_lane_batches_a_tenth_of_a_second() {
        assert_eq!(Throttle::new(40_000, 0).unwrap().batch_limit(8), Some(500));
        assert_eq!(Throttle::new(10, 0).unwrap().batch_limit(16), Some(1));
        assert_eq!(Throttle::new(0, 1 << 20).unwrap().batch_limit(16), None);
    }

    #[tokio::test]
    async fn spreads_operations_over_time() {
        let throttle = Throttle::new(100, 0).unwrap();
        throttle.admit(100, 0).await; // the first second's burst
        let started = Instant::now();
        throttle.admit(50, 0).await; // half a second more
        assert!(started.elapsed().as_millis() >= 400);
    }
}
