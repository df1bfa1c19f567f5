//! The snapshot as a progress bar with rate and ETA (indicatif), when stderr is a terminal:
//! keys written (or read, for `produce`) against the keys the source held as the snapshot began
//! (`INFO keyspace`); bytes against the announced size when the key count is unknown; a
//! counter alone when neither is known (`consume`). It clears itself once the copy is past its
//! snapshot, and the live lines take over.

use super::Numbers;
use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often the bar is redrawn.
pub const EVERY: Duration = Duration::from_millis(250);

/// The bar while it is shown.
pub struct SnapshotBar {
    bar: ProgressBar,
    /// What its length counts, once known.
    counting: Option<Counting>,
    /// When keys were first seen and how many, for the rate.
    first_keys: Option<(Instant, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counting {
    Keys,
    Bytes,
    KeysOfUnknownTotal,
}

impl SnapshotBar {
    /// A bar on stderr, when stderr is a terminal (`None` otherwise: log lines instead).
    pub fn on_terminal() -> Option<SnapshotBar> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        // Dropped with the progress task (a run that ends with its snapshot): cleared too.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
            .with_finish(ProgressFinish::AndClear);
        Some(SnapshotBar {
            bar,
            counting: None,
            first_keys: None,
        })
    }

    /// Shows `numbers`; false (and the bar cleared) once the copy is past its snapshot.
    pub fn show(&mut self, numbers: &Numbers) -> bool {
        if numbers.live() {
            self.bar.finish_and_clear();
            return false;
        }
        let keys = if numbers.partitions > 0 {
            numbers.keys_applied
        } else {
            numbers.keys_read
        };
        let counting = if numbers.keys_expected > 0 {
            Counting::Keys
        } else if numbers.rdb_total > 0 {
            Counting::Bytes
        } else {
            Counting::KeysOfUnknownTotal
        };
        if self.counting != Some(counting) {
            self.bar.set_style(style(counting));
            self.counting = Some(counting);
        }
        if keys > 0 && self.first_keys.is_none() {
            self.first_keys = Some((Instant::now(), keys));
        }
        let rate = match self.first_keys {
            Some((at, first)) if at.elapsed() >= Duration::from_millis(500) => {
                ((keys - first.min(keys)) as f64 / at.elapsed().as_secs_f64()) as u64
            }
            _ => 0,
        };
        self.bar.set_message(format!("{} keys/s", HumanCount(rate)));
        match counting {
            // A key count read before the snapshot: keys written since can pass it.
            Counting::Keys => {
                self.bar.set_length(numbers.keys_expected.max(keys));
                self.bar.set_position(keys);
            }
            Counting::Bytes => {
                self.bar.set_length(numbers.rdb_total);
                self.bar
                    .set_position(numbers.rdb_bytes.min(numbers.rdb_total));
                self.bar.set_message(format!("{keys} keys"));
            }
            Counting::KeysOfUnknownTotal => self.bar.set_position(keys),
        }
        true
    }
}

fn style(counting: Counting) -> ProgressStyle {
    let template = match counting {
        Counting::Keys => {
            "snapshot [{bar:40}] {human_pos}/{human_len} keys ({percent}%), {msg}, ETA {eta}"
        }
        Counting::Bytes => {
            "snapshot [{bar:40}] {bytes}/{total_bytes} ({percent}%), {msg}, ETA {eta}"
        }
        Counting::KeysOfUnknownTotal => "snapshot {spinner} {human_pos} keys, {msg}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
