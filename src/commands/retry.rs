//! Reconnecting after a dropped link: one classifier for the errors of every link, one loop.
//!
//! A run that loses its source, Kafka or target connection starts again from durable state (the
//! target's checkpoints, the producer's resume point in Kafka), exactly as a restarted process
//! would, with a growing pause between attempts and a log line for each; it gives up once an
//! outage has lasted the configured time. An outage begins at the run's first failure, and at a
//! failure of an attempt that had made live progress ([`Advanced::mark`]: applied or produced a
//! live change) or had been up for a minute; its pauses start again from the shortest.
//! Attempts that do neither (a snapshot cut short every time, a target out of memory, a
//! stalled link) are one outage, with growing pauses. A link that cannot be made on the very
//! first attempt is an error at once: that is a wrong address or a server that is down, which
//! waiting rarely fixes. A stop (SIGTERM) ends the pause between attempts at once.

use crate::shutdown::Shutdown;
use slotstream_consumer::ApplyError;
use slotstream_producer::CaptureError;
use slotstream_schemas::log::LogError;
use slotstream_schemas::retry::{Retry, Retryable};
use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// An attempt up for this long before it failed begins a new outage even without live
/// progress (an idle source whose link a NAT drops every hour is never given up on).
const STEADY: Duration = Duration::from_secs(60);

/// What an error means for the run: the answer of the first error in its chain that knows.
pub fn classify(err: &anyhow::Error) -> Retry {
    for cause in err.chain() {
        if let Some(capture) = cause.downcast_ref::<CaptureError>() {
            return capture.retry();
        }
        if let Some(apply) = cause.downcast_ref::<ApplyError>() {
            return apply.retry();
        }
        if let Some(log) = cause.downcast_ref::<LogError>() {
            return log.retry();
        }
        #[cfg(feature = "kafka")]
        if let Some(kafka) = cause.downcast_ref::<slotstream_kafka::KafkaError>() {
            return kafka.retry();
        }
    }
    Retry::Fatal
}

/// Given to each attempt, which calls [`Advanced::mark`] once it has made live progress (a live
/// change applied, or produced and acknowledged): a failure after that is a new outage, not
/// more of the last one.
#[derive(Debug, Clone, Default)]
pub struct Advanced(Arc<AtomicBool>);

impl Advanced {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// How long an outage may last before the run gives up: one of dropped links
/// (`--retry-for-secs`), and one of errors that may pass (`--retry-other-for-secs`: a target out
/// of memory, loading, busy or read-only, a cluster down, a broker electing a leader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    pub links: Duration,
    pub other: Duration,
}

impl Windows {
    pub fn secs(links: u64, other: u64) -> Windows {
        Windows {
            links: Duration::from_secs(links),
            other: Duration::from_secs(other),
        }
    }

    /// The window for an error of class `class`, and the option that sets it.
    fn of(&self, class: Retry) -> (Duration, &'static str) {
        match class {
            Retry::Later => (self.other, "--retry-other-for-secs"),
            _ => (self.links, "--retry-for-secs"),
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, an outage has lasted its window
/// ([`Windows`], by the class of its last error), or `shutdown` stops it. Each attempt sees the
/// stop itself (and drains); a stop during the pause between attempts ends the run with
/// success.
pub async fn with_retries<F, Fut>(
    windows: Windows,
    shutdown: &Shutdown,
    mut attempt: F,
) -> anyhow::Result<ExitCode>
where
    F: FnMut(Advanced) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    let mut outage = Outage::new(Instant::now());
    let mut failures = 0u32;
    loop {
        let advanced = Advanced::default();
        let began = Instant::now();
        let err = match attempt(advanced.clone()).await {
            Ok(code) => return Ok(code),
            Err(err) => err,
        };
        let class = classify(&err);
        let again = match class {
            Retry::Reconnect | Retry::Later => true,
            Retry::Unreachable => failures > 0,
            Retry::Fatal => false,
        };
        if !again {
            return Err(err);
        }
        if shutdown.is_stopping() {
            tracing::warn!(error = %format!("{err:#}"), "link lost while stopping");
            return Ok(crate::commands::stopped("instead of reconnecting"));
        }
        let now = Instant::now();
        // A new outage: the run's first failure, or one after live progress or a steady while.
        let new_outage =
            failures == 0 || advanced.is_marked() || now.saturating_duration_since(began) >= STEADY;
        let (window, option) = windows.of(class);
        let Some(pause) = outage.failed(now, new_outage, window) else {
            return Err(err.context(format!(
                "gave up after retrying for {} s ({option})",
                outage.lasted(now).as_secs()
            )));
        };
        failures += 1;
        crate::metrics::note_retry(class != Retry::Later);
        tracing::warn!(
            error = %format!("{err:#}"),
            attempt = failures,
            retry_in_s = pause.as_secs(),
            "link lost; starting again from the saved position"
        );
        // A signal ends the wait: stopping must not take until the link comes back.
        if shutdown.or_stop(tokio::time::sleep(pause)).await.is_none() {
            return Ok(crate::commands::stopped("while waiting to reconnect"));
        }
    }
}

/// The outage under way: when it began, and the pause before the next attempt.
#[derive(Debug)]
struct Outage {
    began: Instant,
    pause: Duration,
}

impl Outage {
    /// An outage beginning `now`.
    fn new(now: Instant) -> Outage {
        Outage {
            began: now,
            pause: FIRST_PAUSE,
        }
    }

    /// An attempt failed at `now` (`new_outage`: it begins a new outage, after live progress). Returns the pause before the next attempt, or `None` once the outage has
    /// lasted `give_up_after`.
    fn failed(
        &mut self,
        now: Instant,
        new_outage: bool,
        give_up_after: Duration,
    ) -> Option<Duration> {
        if new_outage {
            *self = Outage::new(now);
        }
        let left = give_up_after.checked_sub(self.lasted(now))?;
        if left.is_zero() {
            return None;
        }
        let pause = self.pause;
        self.pause = (pause * 2).min(LONGEST_PAUSE);
        // The last attempt comes when the window ends, not a long pause after it.
        Some(pause.min(left))
    }

    fn lasted(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.began)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_that_knows_decides() {
        let dropped = CaptureError::Io {
            addr: "s:1".into(),
            doing: "reading the snapshot".into(),
            cause: std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        };
        let err = anyhow::Error::new(dropped).context("capture failed");
        assert_eq!(classify(&err), Retry::Reconnect);
        let refused = ApplyError::Incompatible {
            addr: "t:1".into(),
            why: "modules".into(),
        };
        assert_eq!(classify(&anyhow::Error::new(refused)), Retry::Fatal);
        assert_eq!(classify(&anyhow::anyhow!("something else")), Retry::Fatal);
    }

    #[test]
    fn errors_that_may_pass_have_their_own_window() {
        let windows = Windows::secs(43_200, 600);
        assert_eq!(
            windows.of(Retry::Later),
            (Duration::from_secs(600), "--retry-other-for-secs")
        );
        for class in [Retry::Reconnect, Retry::Unreachable] {
            assert_eq!(
                windows.of(class),
                (Duration::from_secs(43_200), "--retry-for-secs")
            );
        }
    }

    #[test]
    fn an_outage_is_timed_from_the_link_lost_not_from_the_start() {
        let start = Instant::now();
        let window = Duration::from_secs(60);
        let mut outage = Outage::new(start);
        // Hours of work, then the link drops: a new outage, the shortest pause.
        let later = start + Duration::from_secs(3 * 3600);
        assert_eq!(outage.failed(later, true, window), Some(FIRST_PAUSE));
        // Attempts that make no link go on with growing pauses...
        let s = |secs| later + Duration::from_secs(secs);
        assert_eq!(outage.failed(s(5), false, window), Some(FIRST_PAUSE * 2));
        assert_eq!(outage.failed(s(20), false, window), Some(FIRST_PAUSE * 4));
        // ...until the outage has lasted the window.
        assert_eq!(outage.failed(s(60), false, window), None);
        assert_eq!(outage.lasted(s(60)), window);
    }

    #[test]
    fn pauses_start_again_after_a_link_that_came_back() {
        let start = Instant::now();
        let window = Duration::from_secs(3600);
        let mut outage = Outage::new(start);
        let mut at = start;
        for _ in 0..10 {
            at += Duration::from_secs(100);
            assert_eq!(outage.failed(at, true, window), Some(FIRST_PAUSE));
        }
        let pauses: Vec<_> = (1..=7)
            .map(|i| outage.failed(at + Duration::from_secs(i), false, window))
            .collect();
        let secs: Vec<u64> = pauses.iter().flatten().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn an_outage_without_progress_gives_up_from_its_first_failure() {
        let start = Instant::now();
        let mut outage = Outage::new(start);
        let window = Duration::from_secs(10);
        let at = |secs| start + Duration::from_secs(secs);
        assert_eq!(outage.failed(at(3), false, window), Some(FIRST_PAUSE));
        // Never a pause past the window's end.
        outage.pause = LONGEST_PAUSE;
        assert_eq!(
            outage.failed(at(8), false, window),
            Some(Duration::from_secs(2))
        );
        assert_eq!(outage.failed(at(10), false, window), None);
    }

    #[test]
    fn attempts_that_make_no_progress_are_one_outage() {
        // A target out of memory: every attempt links, then fails within a moment.
        let start = Instant::now();
        let window = Duration::from_secs(60);
        let mut outage = Outage::new(start);
        let mut at = start;
        let mut secs = Vec::new();
        while let Some(pause) = outage.failed(at, false, window) {
            secs.push(pause.as_secs());
            at += pause + Duration::from_millis(10);
        }
        assert_eq!(secs, [1, 2, 4, 8, 16, 28]);
        assert!(outage.lasted(at) >= window);
    }
}
