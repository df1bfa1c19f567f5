//! Live commands as the destination gets them: the source's arguments, with relative expiries
//! made absolute, an absolute expiry about to pass pushed a little into the future (TTL
//! extension), and, for an older destination, in the forms it knows ([`crate::compat`]); one no
//! older form expresses stops the partition or is left out, as `--on-unsupported` says.
//!
//! Why the extension: a replica never expires keys itself, it waits for its primary's `DEL`. The
//! destination is a primary and expires keys on its own clock; applying a command a few
//! milliseconds after the source ran it, it could expire a key the source still had (and then,
//! say, a `RENAME` of it fails there and nowhere else). Keeping such keys alive for `extension`
//! more milliseconds lets the source's own `DEL` for them, which always follows in the stream,
//! remove them in order. Expiry times further away than that are left exactly as the source set
//! them.

use crate::compat::{adapt, Adapted, Dialect, Unsupported};
use crate::config::OnUnsupported;
use crate::error::{ApplyError, UnsupportedCommand};
use crate::stats::ApplyStats;
use crate::target::TargetInfo;
use crate::wire::Commands;
use slotstream_schemas::display::show_key;
use slotstream_schemas::name::Name;
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
    /// Expiry times closer than this are pushed this far ahead.
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
        absolute_expiry(&mut args, ran_ms);
        extend_expiry(&mut args, now_ms + self.extension_ms);
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

/// Rewrites relative expiries as absolute ones counted from `ran_ms`: `EXPIRE`/`PEXPIRE` as
/// `PEXPIREAT`, `SETEX`/`PSETEX` as `SET … PXAT`, and the `EX`/`PX` options of `SET` and
/// `GETEX` as `PXAT`. Other commands are left as they are.
pub fn absolute_expiry(args: &mut Vec<Vec<u8>>, ran_ms: i64) {
    let name = Name::of_command(args);
    let at = |arg: &[u8], unit_ms: i64| -> Option<Vec<u8>> {
        let value: i64 = decimal(arg)?;
        Some(
            ran_ms
                .saturating_add(value.saturating_mul(unit_ms))
                .to_string()
                .into_bytes(),
        )
    };
    match name.as_bytes() {
        b"EXPIRE" | b"PEXPIRE" if args.len() >= 3 => {
            let unit = if name == b"EXPIRE" { 1000 } else { 1 };
            if let Some(when) = at(&args[2], unit) {
                args[0] = b"PEXPIREAT".to_vec();
                args[2] = when;
            }
        }
        b"SETEX" | b"PSETEX" if args.len() == 4 => {
            let unit = if name == b"SETEX" { 1000 } else { 1 };
            if let Some(when) = at(&args[2], unit) {
                let value = std::mem::take(&mut args[3]);
                let key = std::mem::take(&mut args[1]);
                *args = vec![b"SET".to_vec(), key, value, b"PXAT".to_vec(), when];
            }
        }
        b"SET" | b"GETEX" => {
            let mut i = if name == b"SET" { 3 } else { 2 };
            while i + 1 < args.len() {
                let option = Name::of(&args[i]);
                let unit = match option.as_bytes() {
                    b"EX" => Some(1000),
                    b"PX" => Some(1),
                    _ => None,
                };
                if let Some(when) = unit.and_then(|unit| at(&args[i + 1], unit)) {
                    args[i] = b"PXAT".to_vec();
                    args[i + 1] = when;
                }
                if matches!(option.as_bytes(), b"EX" | b"PX" | b"EXAT" | b"PXAT") {
                    i += 1;
                }
                i += 1;
            }
        }
        _ => {}
    }
}

/// Moves absolute expiry times earlier than `floor_ms` to `floor_ms`, in the forms a source
/// replicates them: `SET … PXAT|EXAT t`, `GETEX … PXAT|EXAT t`, `PEXPIREAT|EXPIREAT key t`.
pub fn extend_expiry(args: &mut [Vec<u8>], floor_ms: i64) {
    let name = Name::of_command(args);
    match name.as_bytes() {
        b"SET" | b"GETEX" => {
            let start = if name == b"SET" { 3 } else { 2 };
            let mut i = start;
            while i + 1 < args.len() {
                let option = Name::of(&args[i]);
                if option == b"PXAT" || option == b"EXAT" {
                    if raise(&mut args[i + 1], option == b"EXAT", floor_ms) {
                        args[i] = b"PXAT".to_vec();
                    }
                    i += 1;
                }
                i += 1;
            }
        }
        b"PEXPIREAT" | b"EXPIREAT"
            if args.len() >= 3 && raise(&mut args[2], name == b"EXPIREAT", floor_ms) =>
        {
            args[0] = b"PEXPIREAT".to_vec();
        }
        _ => {}
    }
}

/// Raises a time argument (seconds when `seconds`, else ms) to `floor_ms`, rewritten in ms.
/// Returns whether it changed. Non-positive times mean "delete now" and are kept.
fn raise(arg: &mut Vec<u8>, seconds: bool, floor_ms: i64) -> bool {
    let Some(value) = decimal::<i64>(arg) else {
        return false;
    };
    let ms = if seconds {
        value.saturating_mul(1000)
    } else {
        value
    };
    if ms <= 0 || ms >= floor_ms {
        return false;
    }
    *arg = floor_ms.to_string().into_bytes();
    true
}

/// A decimal argument (a db number, a time).
fn decimal<T: std::str::FromStr>(arg: &[u8]) -> Option<T> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn near_expiry_is_pushed_to_the_floor_far_expiry_is_kept() {
        let mut near = args(&["SET", "k", "v", "PXAT", "1500"]);
        extend_expiry(&mut near, 2000);
        assert_eq!(near, args(&["SET", "k", "v", "PXAT", "2000"]));

        let mut far = args(&["SET", "k", "v", "PXAT", "9000"]);
        extend_expiry(&mut far, 2000);
        assert_eq!(far, args(&["SET", "k", "v", "PXAT", "9000"]));

        let mut seconds = args(&["EXPIREAT", "k", "1"]);
        extend_expiry(&mut seconds, 2000);
        assert_eq!(seconds, args(&["PEXPIREAT", "k", "2000"]));

        let mut getex = args(&["GETEX", "k", "EXAT", "1"]);
        extend_expiry(&mut getex, 2000);
        assert_eq!(getex, args(&["GETEX", "k", "PXAT", "2000"]));
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
        // Relative from when it ran, pushed past the extension, relative again for 5.0.
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
                args(&["SET", "k", "v", "PX", "10000"]),
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

    #[test]
    fn relative_expiries_count_from_when_the_source_ran_them() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["EXPIRE", "k", "10"], &["PEXPIREAT", "k", "11000"]),
            (&["pexpire", "k", "250"], &["PEXPIREAT", "k", "1250"]),
            (
                &["SETEX", "k", "2", "v"],
                &["SET", "k", "v", "PXAT", "3000"],
            ),
            (
                &["PSETEX", "k", "5", "v"],
                &["SET", "k", "v", "PXAT", "1005"],
            ),
            (
                &["SET", "k", "EX", "NX", "EX", "3"],
                &["SET", "k", "EX", "NX", "PXAT", "4000"],
            ),
            (
                &["SET", "k", "v", "px", "7", "GET"],
                &["SET", "k", "v", "PXAT", "1007", "GET"],
            ),
            (&["GETEX", "k", "EX", "1"], &["GETEX", "k", "PXAT", "2000"]),
            (
                &["SET", "k", "v", "PXAT", "5"],
                &["SET", "k", "v", "PXAT", "5"],
            ),
            (&["PEXPIREAT", "k", "5"], &["PEXPIREAT", "k", "5"]),
            (&["INCR", "k"], &["INCR", "k"]),
        ];
        for (given, wanted) in cases {
            let mut command = args(given);
            absolute_expiry(&mut command, 1000);
            assert_eq!(command, args(wanted), "{given:?}");
        }
    }

    #[test]
    fn deletions_and_values_that_look_like_options_are_kept() {
        let mut delete = args(&["PEXPIREAT", "k", "0"]);
        extend_expiry(&mut delete, 2000);
        assert_eq!(delete, args(&["PEXPIREAT", "k", "0"]));

        // The value of a SET is never read as an option.
        let mut value = args(&["SET", "k", "PXAT", "KEEPTTL"]);
        extend_expiry(&mut value, 2000);
        assert_eq!(value, args(&["SET", "k", "PXAT", "KEEPTTL"]));
    }
}
