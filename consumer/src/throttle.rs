//! Rate limits on what the consumer writes to the destination: commands per second and payload
//! bytes per second, shared by all partitions, and changeable while they run.
//!
//! A limit is a governor limiter of fixed resolution (a cell is a nanosecond of the allowed
//! rate, a second's worth of burst) and a rate read on each admission: `n` writes at `r` per
//! second cost `n / r` seconds of cells. Changing the rate ([`Throttles::set`]) changes only
//! the price of what comes next; the time the limiter has already handed out stays spent, so
//! a new limit holds from the next batch on without a burst of its own.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Cells a second: one a nanosecond.
const CELLS_PER_SECOND: u32 = 1_000_000_000;

/// Limits on one phase's writes: commands (with each key of a batched `MSET` counted) and
/// payload bytes per second; 0 is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    pub ops: u64,
    pub bytes: u64,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.ops, self.bytes) {
            (0, 0) => write!(f, "unlimited"),
            (0, bytes) => write!(f, "{bytes} bytes/s"),
            (ops, 0) => write!(f, "{ops} ops/s"),
            (ops, bytes) => write!(f, "{ops} ops/s and {bytes} bytes/s"),
        }
    }
}

/// The limits of each phase: the snapshot's writes (slotstream's own, replayable) and the live
/// phase's replicated commands (`--snapshot-max-ops`, `--live-max-ops`, …). Clones share the
/// limits: [`Throttles::set`] through any of them changes what every partition waits for.
#[derive(Clone, Default)]
pub struct Throttles {
    snapshot: Arc<Throttle>,
    live: Arc<Throttle>,
    /// Microseconds batches waited for a limit, all partitions together.
    waited_us: Arc<AtomicU64>,
}

impl Throttles {
    pub fn new(snapshot: Rate, live: Rate) -> Self {
        let throttles = Self::default();
        throttles.set(snapshot, live);
        throttles
    }

    /// Sets new limits, from each partition's next batch on.
    pub fn set(&self, snapshot: Rate, live: Rate) {
        self.snapshot.set(snapshot);
        self.live.set(live);
    }

    /// Waits until a batch of `ops` writes and `bytes` bytes may be sent: replicated commands
    /// (`replicated`) by the live limit, slotstream's own writes by the snapshot's.
    pub async fn admit(&self, replicated: bool, ops: usize, bytes: usize) {
        let throttle = if replicated {
            &self.live
        } else {
            &self.snapshot
        };
        if throttle.ops.get() == 0 && throttle.bytes.get() == 0 {
            return;
        }
        let started = std::time::Instant::now();
        throttle.ops.take(ops as u64).await;
        throttle.bytes.take(bytes as u64).await;
        let waited = started.elapsed().as_micros() as u64;
        self.waited_us.fetch_add(waited, Ordering::Relaxed);
    }

    /// How long batches have waited for a limit so far, every partition's waits added up.
    pub fn waited(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.waited_us.load(Ordering::Relaxed))
    }

    /// The most writes a batch should hold now: a tenth of a second's worth of its phase's
    /// limit (`replicated`: the live one), shared by `partitions`, so a limited lane sends
    /// small batches often rather than a big one after a long wait; `None` when the phase's
    /// writes are unlimited.
    pub fn batch_limit(&self, partitions: u32, replicated: bool) -> Option<usize> {
        let throttle = if replicated {
            &self.live
        } else {
            &self.snapshot
        };
        let ops = throttle.ops.get();
        (ops > 0).then(|| (ops / 10 / u64::from(partitions.max(1))).max(1) as usize)
    }
}

impl fmt::Display for Throttles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot {}, live {}",
            self.snapshot.rate(),
            self.live.rate()
        )
    }
}

/// One phase's limits.
#[derive(Default)]
struct Throttle {
    ops: Limit,
    bytes: Limit,
}

impl Throttle {
    fn set(&self, rate: Rate) {
        self.ops.set(rate.ops);
        self.bytes.set(rate.bytes);
    }

    fn rate(&self) -> Rate {
        Rate {
            ops: self.ops.get(),
            bytes: self.bytes.get(),
        }
    }
}

/// So many units a second (0: unlimited), measured out in nanoseconds of the limiter's time.
struct Limit {
    per_second: AtomicU64,
    clock: DefaultDirectRateLimiter,
}

impl Default for Limit {
    fn default() -> Self {
        let cells = NonZeroU32::new(CELLS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        Self {
            per_second: AtomicU64::new(0),
            clock: RateLimiter::direct(Quota::per_second(cells)),
        }
    }
}

impl Limit {
    fn set(&self, per_second: u64) {
        self.per_second.store(per_second, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.per_second.load(Ordering::Relaxed)
    }

    /// Waits until `units` more may pass, in pieces no bigger than the burst (a second).
    async fn take(&self, units: u64) {
        let per_second = self.get();
        if per_second == 0 || units == 0 {
            return;
        }
        let cells = u128::from(units) * u128::from(CELLS_PER_SECOND);
        let mut cells = cells.div_ceil(u128::from(per_second));
        while cells > 0 {
            let piece = cells.min(u128::from(CELLS_PER_SECOND)) as u32;
            let Some(n) = NonZeroU32::new(piece) else {
                return;
            };
            // A piece within the burst is always admitted in time.
            if self.clock.until_n_ready(n).await.is_err() {
                return;
            }
            cells -= u128::from(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn ops(ops: u64) -> Rate {
        Rate { ops, bytes: 0 }
    }

    #[test]
    fn each_phase_batches_a_tenth_of_a_second_of_its_own_limit() {
        let both = Throttles::new(ops(40_000), ops(80));
        assert_eq!(both.batch_limit(8, false), Some(500));
        assert_eq!(both.batch_limit(8, true), Some(1));
        let live_unlimited = Throttles::new(ops(2_000), Rate::default());
        assert_eq!(live_unlimited.batch_limit(1, false), Some(200));
        assert_eq!(live_unlimited.batch_limit(1, true), None);
        let bytes_only = Rate {
            ops: 0,
            bytes: 1 << 20,
        };
        assert_eq!(
            Throttles::new(bytes_only, bytes_only).batch_limit(16, false),
            None
        );
    }

    #[tokio::test]
    async fn spreads_operations_over_time() {
        let throttles = Throttles::new(ops(100), ops(100));
        throttles.admit(false, 100, 0).await; // the first second's burst
        let started = Instant::now();
        throttles.admit(false, 50, 0).await; // half a second more
        assert!(started.elapsed().as_millis() >= 400);
    }

    #[tokio::test]
    async fn a_limit_set_through_one_clone_holds_for_every_clone() {
        let throttles = Throttles::new(Rate::default(), ops(10));
        throttles.admit(true, 10, 0).await; // the burst
        let other = throttles.clone();
        other.set(Rate::default(), ops(1_000));
        assert_eq!(throttles.to_string(), "snapshot unlimited, live 1000 ops/s");
        // 500 writes at the new limit take half a second; at the old one they took 50.
        let started = Instant::now();
        throttles.admit(true, 500, 0).await;
        let took = started.elapsed().as_secs_f64();
        assert!(took >= 0.4, "{took} s: the new limit did not hold");
        assert!(took < 30.0, "{took} s: the old limit still held");
    }

    #[tokio::test]
    async fn bytes_are_limited_apart_from_commands() {
        let rate = Rate {
            ops: 0,
            bytes: 1_000_000,
        };
        let throttles = Throttles::new(rate, rate);
        throttles.admit(false, 1, 1_000_000).await; // the burst
        let started = Instant::now();
        throttles.admit(false, 1, 500_000).await;
        assert!(started.elapsed().as_millis() >= 400);
    }
}
