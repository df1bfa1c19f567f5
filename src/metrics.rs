//! `--metrics-addr`: the run's counters over HTTP for Prometheus, orchestrators and people.
//! `/metrics` is Prometheus text, `/` a status page (`/status.json` its data), `/healthz`
//! answers while the process is up, `/readyz` once the copy is
//! past its snapshot and within `--ready-lag-secs` ([`ready`]). The numbers are the ones the
//! progress lines read ([`Numbers`]), as the current attempt's closure returns them (each
//! command hands it over with [`publish`]).
//!
//! # Layout
//! - `text`: [`Numbers`] → Prometheus text.
//! - `server`: the HTTP listener (hyper), one task per connection.
//! - `alert`: `--alert-lag-secs` and `--alert-webhook`.
//! - `status`: the status page at `/` and its `/status.json`.
//! - `problems`: the last warnings and errors logged, for the page.

pub mod alert;
pub mod problems;
mod server;
mod status;
mod text;

pub use server::serve;

/// Starts what the command asked for: the lag alert (`alert`) and the server (`addr`).
pub async fn start(
    addr: Option<std::net::SocketAddr>,
    ready_lag: Duration,
    alert: Option<alert::LagAlert>,
) -> anyhow::Result<()> {
    if let Some(alert) = alert {
        alert::watch(alert);
    }
    match addr {
        Some(addr) => {
            serve(addr, ready_lag).await?;
            status::keep_history();
            Ok(())
        }
        None => Ok(()),
    }
}

use crate::progress::{Numbers, Reader};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The reader of the attempt running now ([`publish`]); `None` before the first.
static CURRENT: Mutex<Option<Reader>> = Mutex::new(None);

/// Attempts started again after a failure, by what failed: a link (`reconnect`) or an error
/// that may pass (`later`).
static RECONNECTS: AtomicU64 = AtomicU64::new(0);
static LATER: AtomicU64 = AtomicU64::new(0);

/// Makes `read` the source of the numbers served from now on.
pub fn publish(read: Reader) {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(read);
}

/// One more retry; `link`: after a dropped link, else after an error that may pass.
pub fn note_retry(link: bool) {
    let counter = if link { &RECONNECTS } else { &LATER };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The numbers as they stand (all zero before the first attempt).
fn current() -> Numbers {
    let read = CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone();
    read.map(|read| (*read)()).unwrap_or_default()
}

/// Whether the copy is ready: [`Numbers::live`], and every partition's lag within `ready_lag`.
pub fn ready(numbers: &Numbers, ready_lag: Duration) -> bool {
    let within = numbers
        .lags_ms
        .values()
        .all(|&ms| ms as u128 <= ready_lag.as_millis());
    numbers.live() && within
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_consumer::stats::LagKey;

    fn lag(partition: u32, ms: i64) -> (LagKey, i64) {
        let key = LagKey {
            shard: None,
            partition,
        };
        (key, ms)
    }

    #[test]
    fn ready_once_every_partition_is_live_and_within_the_lag() {
        let limit = Duration::from_secs(30);
        let mut numbers = Numbers {
            partitions: 2,
            ..Numbers::default()
        };
        assert!(!ready(&numbers, limit), "no partition live yet");
        numbers.lags_ms.extend([lag(0, 10)]);
        assert!(!ready(&numbers, limit), "one of two");
        numbers.lags_ms.extend([lag(1, 40_000)]);
        assert!(!ready(&numbers, limit), "one 40 s behind");
        numbers.lags_ms.extend([lag(1, 200)]);
        assert!(ready(&numbers, limit));
        let capture = Numbers {
            captures: 2,
            captures_live: 1,
            ..Numbers::default()
        };
        assert!(!ready(&capture, limit));
        assert!(ready(
            &Numbers {
                captures_live: 2,
                ..capture
            },
            limit
        ));
    }
}
