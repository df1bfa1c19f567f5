//! When the source wrote each replication offset, as closely as the capture can tell.
//!
//! A record's capture time is what lag and the TTL extension's safety are judged by: a key
//! the source gave a short TTL stays on the destination until `expiry + extension`, so a
//! copy that applies the source's writes later than the extension after the source ran them
//! loses keys the source renewed or renamed just in time. Counting from when the capture
//! *read* a command is not enough: when the destination is slow, the log fills, the capture
//! stops reading, and the source's writes wait in its replica output buffer, where no lag
//! shows. So a side connection samples the source's `master_repl_offset` every 100 ms (from the
//! `PSYNC` on, snapshot included: what the source buffers meanwhile is dated too), and a
//! command ending at offset `o` is dated by the first sample at or past `o`: the source had
//! written it by then (at most a sample's interval and a round trip late). A command past
//! every sample is newer than the last one: it is dated now. Without samples (the source
//! refuses `INFO`, the side connection fails) every record is dated when it is read, as
//! before, and one warning says so.

use crate::config::SourceConfig;
use slotstream_schemas::now_ms;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How often the source's offset is sampled.
const EVERY: Duration = Duration::from_millis(100);
/// Samples kept while the capture is behind: over an hour of them at [`EVERY`]. Past that,
/// the newest are not kept (records they would date are dated when read).
const MAX_SAMPLES: usize = 40_000;

/// One sample: the source's replication offset had reached `offset` at `ms` (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub offset: u64,
    pub ms: i64,
}

/// Dates replication offsets from samples of the source's own offset.
pub struct SourceClock {
    samples: VecDeque<Sample>,
    incoming: Option<Receiver<Sample>>,
    stop: Arc<AtomicBool>,
}

impl SourceClock {
    /// Starts sampling the source `config` names on a thread of its own; it ends when the
    /// clock is dropped.
    pub fn start(config: &SourceConfig, node: &str) -> SourceClock {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (config, node, flag) = (config.clone(), node.to_string(), Arc::clone(&stop));
        let spawned = std::thread::Builder::new()
            .name("source-clock".into())
            .spawn(move || sample(&config, &node, &tx, &flag));
        let incoming = match spawned {
            Ok(_) => Some(rx),
            Err(err) => {
                tracing::warn!(%err, "cannot start sampling the source's offset: lag is counted from when commands are read");
                None
            }
        };
        SourceClock {
            samples: VecDeque::new(),
            incoming,
            stop,
        }
    }

    /// A clock fed by hand (tests, and a capture with no side connection).
    pub fn from_samples(samples: impl IntoIterator<Item = Sample>) -> SourceClock {
        SourceClock {
            samples: samples.into_iter().collect(),
            incoming: None,
            stop: Arc::new(AtomicBool::new(true)),
        }
    }

    /// When the source had written the stream up to `offset`, from the samples taken in by the
    /// last [`SourceClock::refresh`]: `None` when none reaches it (the capture is current: date
    /// it now). Offsets asked must not decrease.
    pub fn written_by(&mut self, offset: u64) -> Option<i64> {
        self.drop_before(offset);
        self.samples.front().map(|s| s.ms)
    }

    /// When the source wrote past `offset`: until then, the stream up to `offset` was all of
    /// it. `None` when no sample is past it (the capture has read all the source wrote).
    /// What a heartbeat at `offset` is dated by.
    pub fn written_past(&mut self, offset: u64) -> Option<i64> {
        self.drop_before(offset);
        self.samples
            .iter()
            .find(|s| s.offset > offset)
            .map(|s| s.ms)
    }

    fn drop_before(&mut self, offset: u64) {
        while self.samples.front().is_some_and(|s| s.offset < offset) {
            self.samples.pop_front();
        }
    }

    /// Takes in the samples taken since the last call: once per read from the source, not per
    /// command. Keeps the first sample of each offset: a source that writes nothing for a while
    /// reports the same offset again and again, and only when it first got there matters.
    pub fn refresh(&mut self) {
        let Some(incoming) = &self.incoming else {
            return;
        };
        while let Ok(sample) = incoming.try_recv() {
            let repeated = self
                .samples
                .back()
                .is_some_and(|s| s.offset >= sample.offset);
            if !repeated && self.samples.len() < MAX_SAMPLES {
                self.samples.push_back(sample);
            }
        }
    }
}

impl Drop for SourceClock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The sampling thread: `INFO replication` every [`EVERY`] until stopped or the clock is gone;
/// a failure is warned about once and retried a second later.
fn sample(config: &SourceConfig, node: &str, out: &Sender<Sample>, stop: &AtomicBool) {
    let mut warned = false;
    while !stop.load(Ordering::Relaxed) {
        let result = config.client_connection().and_then(|mut conn| loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let info: String = redis::cmd("INFO").arg("replication").query(&mut conn)?;
            let ms = now_ms();
            if let Some(offset) = master_offset(&info) {
                if out.send(Sample { offset, ms }).is_err() {
                    return Ok(());
                }
            }
            std::thread::sleep(EVERY);
        });
        match result {
            Ok(()) => return,
            Err(err) if !warned => {
                warned = true;
                tracing::warn!(source = %node, %err, "cannot sample the source's replication offset; until it can, lag counts from when each command is read, which hides what waits in the source's replica buffer");
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The source's replication offset now (`None` when its `INFO` does not say). Blocking.
pub fn read_offset(config: &SourceConfig) -> redis::RedisResult<Option<u64>> {
    let mut conn = config.client_connection()?;
    let info: String = redis::cmd("INFO").arg("replication").query(&mut conn)?;
    Ok(master_offset(&info))
}

/// `master_repl_offset` from an `INFO replication` reply.
pub(crate) fn master_offset(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("master_repl_offset:"))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64, ms: i64) -> Sample {
        Sample { offset, ms }
    }

    #[test]
    fn an_offset_is_dated_by_the_first_sample_that_reached_it() {
        let mut clock = SourceClock::from_samples([at(100, 1_000), at(250, 1_100), at(900, 1_200)]);
        assert_eq!(clock.written_by(50), Some(1_000));
        assert_eq!(clock.written_by(100), Some(1_000));
        assert_eq!(clock.written_by(101), Some(1_100));
        assert_eq!(clock.written_by(600), Some(1_200));
        assert_eq!(clock.written_by(900), Some(1_200));
    }

    #[test]
    fn a_heartbeat_is_dated_by_when_the_source_moved_past_it() {
        let mut clock = SourceClock::from_samples([at(100, 1_000), at(250, 1_100)]);
        assert_eq!(clock.written_past(100), Some(1_100));
        assert_eq!(
            clock.written_past(250),
            None,
            "nothing written since: current"
        );
    }

    #[test]
    fn past_every_sample_is_now() {
        let mut clock = SourceClock::from_samples([at(100, 1_000)]);
        assert_eq!(clock.written_by(101), None);
        assert_eq!(clock.written_by(5_000), None);
    }

    #[test]
    fn reads_the_offset_from_info() {
        let info = "# Replication\r\nrole:master\r\nmaster_repl_offset:12345\r\n";
        assert_eq!(master_offset(info), Some(12_345));
        assert_eq!(master_offset("role:master\r\n"), None);
    }
}
