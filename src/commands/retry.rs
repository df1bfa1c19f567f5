//! Reconnecting after a dropped link: one classifier for the errors of every link, one loop.
//!
//! A run that loses its source, Kafka or target connection starts again from durable state (the
//! target's checkpoints, the producer's resume point in Kafka), exactly as a restarted process
//! would, with a growing pause between attempts and a log line for each; it gives up after the
//! configured time. A link that cannot be made on the very first attempt is an error at once:
//! that is a wrong address or a server that is down, which waiting rarely fixes. A stop
//! (SIGTERM) ends the pause between attempts at once.

use crate::shutdown::Shutdown;
use slotstream_consumer::ApplyError;
use slotstream_producer::CaptureError;
use slotstream_schemas::log::LogError;
use slotstream_schemas::retry::{Retry, Retryable};
use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);

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

/// Runs `attempt` until it succeeds, fails for good, `give_up_after` has passed, or `shutdown`
/// stops it. Each attempt sees the stop itself (and drains); a stop during the pause between
/// attempts ends the run with success.
pub async fn with_retries<F, Fut>(
    give_up_after: Duration,
    shutdown: &Shutdown,
    mut attempt: F,
) -> anyhow::Result<ExitCode>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut failures = 0u32;
    loop {
        let err = match attempt().await {
            Ok(code) => return Ok(code),
            Err(err) => err,
        };
        let again = match classify(&err) {
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
        if started.elapsed() >= give_up_after {
            return Err(err.context(format!(
                "gave up after retrying for {} s (--retry-for-secs)",
                started.elapsed().as_secs()
            )));
        }
        failures += 1;
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
        pause = (pause * 2).min(LONGEST_PAUSE);
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
}
