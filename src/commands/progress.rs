//! Progress reporting during a snapshot: a log line every few seconds with keys and bytes done
//! and the rates, and the process's peak memory.

use slotstream_consumer::ApplyStats;
use slotstream_producer::CaptureStats;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(2);

/// A background task that logs progress until stopped.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn spawn(capture: Arc<CaptureStats>, apply: Arc<ApplyStats>) -> Self {
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut ticker = tokio::time::interval(EVERY);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let seconds = started.elapsed().as_secs_f64().max(0.001);
                let read = capture.rdb_bytes();
                let total = capture.rdb_total();
                let percent = if total > 0 {
                    format!("{:.0}%", read as f64 * 100.0 / total as f64)
                } else {
                    "?".to_string()
                };
                tracing::info!(
                    keys_read = capture.keys(),
                    keys_applied = apply.keys(),
                    read_mb = read >> 20,
                    done = %percent,
                    keys_per_s = (apply.keys() as f64 / seconds) as u64,
                    mb_per_s = format!("{:.1}", read as f64 / seconds / 1048576.0),
                    rss_mb = current_rss_bytes().map(|b| b >> 20).unwrap_or(0),
                    "snapshot progress"
                );
            }
        });
        Self { task }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Peak resident memory of this process (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    status_field("VmHWM:")
}

fn current_rss_bytes() -> Option<u64> {
    status_field("VmRSS:")
}

fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    let kb: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
