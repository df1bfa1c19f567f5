//! Live commands as the destination gets them: the source's arguments, with expiry times made
//! absolute and moved by the TTL extension ([`crate::expiry`]), and, for an older destination,
//! in the forms it knows ([`crate::compat`]); one no older form expresses stops the partition or
//! is left out, as `--on-unsupported` says.

use crate::compat::{adapt, Adapted, Dialect, Unsupported};
use crate::config::OnUnsupported;
use crate::error::{ApplyError, UnsupportedCommand};
use crate::expiry::{absolute_expiry, extend_expiry};
use crate::stats::ApplyStats;
use crate::target::TargetInfo;
use crate::wire::Commands;
use slotstream_schemas::display::show_key;
use slotstream_schemas::name::{decimal, Name};
use slotstream_schemas::Command;
use std::sync::atomic::Ordering;

/// Live commands left out after which only every this many is warned about.
const WARN_EVERY: u64 = 10_000;

/// Writes live commands for one destination.
pub struct LiveWriter<'a> {
    pub target: &'a TargetInfo,
    /// The destination's address and the partition, for errors.
    pub addr: &'a str,
    pub partition: u32,
    /// Every expiry time is moved this much later (see [`crate::expiry`]).
    pub extension_ms: i64,
    pub on_unsupported: OnUnsupported,
    pub stats: &'a ApplyStats,
}

/// What became of a live command; each names the key its commands concern (its first key, or
/// its name).
#[derive(Debug, PartialEq, Eq)]
pub enum Live {
    /// Its commands are written.
    Written(Vec<u8>),
    /// Left out, as `--on-unsupported=skip-with-warning` says (warned and counted).
    LeftOut(Vec<u8>),
}

impl LiveWriter<'_> {
    /// Writes what to send for `command` (run in `db`) into `out`.
    ///
    /// `ran_ms` is when the source ran it (the record's capture time): relative expiries, which
    /// sources before Redis 7.0 replicate as they were given, count from then, not from whenever
    /// the destination applies them.
    pub fn write(
        &self,
        out: &mut Commands,
        command: Command,
        db: u32,
        ran_ms: i64,
        now_ms: i64,
    ) -> Result<Live, ApplyError> {
        let mut args: Vec<Vec<u8>> = command.args.into_iter().map(|a| a.0).collect();
        self.warn_if_later_than_extension(now_ms - ran_ms);
        absolute_expiry(&mut args, ran_ms);
        extend_expiry(&mut args, self.extension_ms);
        match adapt(&mut args, Dialect::of(self.target), now_ms, out) {
            Ok(Adapted::AsIs) => out.push(&args),
            Ok(Adapted::Written) => {}
            Err(unsupported) => {
                let name = Name::of_command(&args);
                return self.unsupported(name, db, key_of(args), unsupported);
            }
        }
        Ok(Live::Written(key_of(args)))
    }

    /// Warns (the first time, then one in [`WARN_EVERY`]) when commands apply later after the
    /// source ran them than the TTL extension: a key the source renewed within that lag of its
    /// expiry may already be gone on the target.
    fn warn_if_later_than_extension(&self, late_ms: i64) {
        if self.extension_ms == 0 || late_ms <= self.extension_ms {
            return;
        }
        let before = self
            .stats
            .later_than_extension
            .fetch_add(1, Ordering::Relaxed);
        if before.is_multiple_of(WARN_EVERY) {
            tracing::warn!(
                partition = self.partition,
                late_ms,
                extension_ms = self.extension_ms,
                so_far = before + 1,
                "live commands apply {:.1} s after the source ran them, more than the TTL \
                 extension ({:.1} s): a key the source renewed that close to its expiry may be \
                 gone on the target already; raise --ttl-extension-secs above the lag (one in \
                 {WARN_EVERY} is logged)",
                late_ms as f64 / 1000.0,
                self.extension_ms as f64 / 1000.0,
            );
        }
    }

    /// Stops (the default) or leaves the command out with a warning, as `--on-unsupported` says.
    fn unsupported(
        &self,
        name: Name,
        db: u32,
        key: Vec<u8>,
        unsupported: Unsupported,
    ) -> Result<Live, ApplyError> {
        let Unsupported { what, needs } = unsupported;
        match self.on_unsupported {
            OnUnsupported::Fail => Err(ApplyError::Unsupported(Box::new(UnsupportedCommand {
                addr: self.addr.to_string(),
                version: self.target.version.clone(),
                partition: self.partition,
                db,
                key: show_key(&key),
                command: format!("{name:?}"),
                what,
                needs,
            }))),
            OnUnsupported::SkipWithWarning => {
                self.stats.left_out.fetch_add(1, Ordering::Relaxed);
                let before = self.stats.left_out_commands.fetch_add(1, Ordering::Relaxed);
                if before < 20 || (before + 1).is_multiple_of(WARN_EVERY) {
                    tracing::warn!(
                        partition = self.partition,
                        db,
                        key = %show_key(&key),
                        command = ?name,
                        target = %self.target.version,
                        left_out_so_far = before + 1,
                        "live command left out: {what} need {needs} (after the first 20, one \
                         in {WARN_EVERY} is logged)"
                    );
                }
                Ok(Live::LeftOut(key))
            }
        }
    }
}

/// The name to show for a command: its first key, or its name.
fn key_of(mut args: Vec<Vec<u8>>) -> Vec<u8> {
    if args.len() > 1 {
        args.swap_remove(1)
    } else {
        args.pop().unwrap_or_default()
    }
}

/// The database `command` selects, when it is a `SELECT` (inside a `MULTI` block, the one
/// place a replicated `SELECT` reaches the destination as a command).
pub fn selected_db(command: &Command) -> Option<u32> {
    match &command.args[..] {
        [name, db] if name.0.eq_ignore_ascii_case(b"SELECT") => decimal(&db.0),
        _ => None,
    }
}

/// For `SWAPDB 0 n` (or `SWAPDB n 0`): `n`, the database that db 0's keys move to, the
/// destination's checkpoints among them.
pub fn swapped_with_db0(command: &Command) -> Option<u32> {
    let [name, a, b] = &command.args[..] else {
        return None;
    };
    if !name.0.eq_ignore_ascii_case(b"SWAPDB") {
        return None;
    }
    match (decimal::<u32>(&a.0)?, decimal::<u32>(&b.0)?) {
        (0, 0) => None,
        (0, other) | (other, 0) => Some(other),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn what_no_older_form_expresses_stops_or_is_left_out_as_asked() {
        use crate::target::parse_info;
        use slotstream_schemas::retry::{Retry, Retryable};
        let target = parse_info("redis_version:7.0.15\r\n");
        let stats = ApplyStats::default();
        let writer = |on_unsupported| LiveWriter {
            target: &target,
            addr: "t:1",
            partition: 3,
            extension_ms: 0,
            on_unsupported,
            stats: &stats,
        };
        let hexpire = || Command {
            args: args(&["HPEXPIREAT", "h", "5000", "FIELDS", "1", "f"])
                .into_iter()
                .map(slotstream_schemas::Element)
                .collect(),
        };
        let mut out = Commands::default();
        let err = writer(OnUnsupported::Fail)
            .write(&mut out, hexpire(), 2, 0, 1000)
            .unwrap_err();
        let text = err.to_string();
        for part in [
            "HPEXPIREAT",
            "redis 7.0.15",
            "\"h\" (db 2, partition 3)",
            "hash field TTLs need Redis 7.4+",
            "--on-unsupported=skip-with-warning",
        ] {
            assert!(text.contains(part), "{part} is not in: {text}");
        }
        assert_eq!(err.retry(), Retry::Fatal);
        assert!(out.is_empty());

        let skipped = writer(OnUnsupported::SkipWithWarning)
            .write(&mut out, hexpire(), 2, 0, 1000)
            .unwrap();
        assert_eq!(skipped, Live::LeftOut(b"h".to_vec()));
        assert!(out.is_empty());
        assert_eq!(stats.left_out(), 1);

        let persist = Command {
            args: args(&["HPERSIST", "h", "FIELDS", "1", "f"])
                .into_iter()
                .map(slotstream_schemas::Element)
                .collect(),
        };
        let written = writer(OnUnsupported::Fail)
            .write(&mut out, persist, 2, 0, 1000)
            .unwrap();
        assert_eq!(written, Live::Written(b"h".to_vec()));
        assert!(
            out.is_empty(),
            "nothing to persist where fields have no TTLs"
        );
    }

    #[test]
    fn commands_are_written_in_the_destinations_forms() {
        use crate::target::parse_info;
        let target = parse_info("redis_version:5.0.10\r\n");
        let stats = ApplyStats::default();
        let writer = LiveWriter {
            target: &target,
            addr: "t:1",
            partition: 0,
            extension_ms: 10_000,
            on_unsupported: OnUnsupported::Fail,
            stats: &stats,
        };
        let command = |parts: &[&str]| Command {
            args: args(parts)
                .into_iter()
                .map(slotstream_schemas::Element)
                .collect(),
        };
        let mut out = Commands::default();
        // Relative from when it ran, moved by the extension, relative again for 5.0.
        for (given, key) in [
            (&["SET", "k", "v", "EX", "1"][..], "k"),
            (&["LPOP", "l", "2"], "l"),
        ] {
            let written = writer
                .write(&mut out, command(given), 0, 1_000, 5_000)
                .unwrap();
            assert_eq!(written, Live::Written(key.as_bytes().to_vec()));
        }
        assert_eq!(
            crate::wire::decode(&mut out),
            [
                args(&["SET", "k", "v", "PX", "7000"]),
                args(&["LTRIM", "l", "2", "-1"])
            ]
        );
    }

    #[test]
    fn select_is_recognised_by_its_name_not_its_first_key() {
        let command = |parts: &[&str]| Command {
            args: args(parts)
                .into_iter()
                .map(slotstream_schemas::Element)
                .collect(),
        };
        assert_eq!(selected_db(&command(&["select", "2"])), Some(2));
        assert_eq!(selected_db(&command(&["SET", "SELECT", "2"])), None);
        assert_eq!(selected_db(&command(&["GET", "2"])), None);
    }

    #[test]
    fn finds_the_db_swapped_with_db0() {
        let command = |parts: &[&str]| Command {
            args: args(parts)
                .into_iter()
                .map(slotstream_schemas::Element)
                .collect(),
        };
        assert_eq!(swapped_with_db0(&command(&["SWAPDB", "0", "3"])), Some(3));
        assert_eq!(swapped_with_db0(&command(&["swapdb", "5", "0"])), Some(5));
        assert_eq!(swapped_with_db0(&command(&["SWAPDB", "1", "2"])), None);
        assert_eq!(swapped_with_db0(&command(&["SWAPDB", "0", "0"])), None);
    }
}
