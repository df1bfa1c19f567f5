//! Live commands as the destination gets them: the source's arguments, sent as they are, except
//! that an absolute expiry about to pass is pushed a little into the future (TTL extension).
//!
//! Why: a replica never expires keys itself, it waits for its primary's `DEL`. The destination
//! is a primary and expires keys on its own clock; applying a command a few milliseconds after
//! the source ran it, it could expire a key the source still had (and then, say, a `RENAME` of it
//! fails there and nowhere else). Keeping such keys alive for `extension` more milliseconds lets
//! the source's own `DEL` for them, which always follows in the stream, remove them in order.
//! Expiry times further away than that are left exactly as the source set them.

use crate::wire::Commands;
use slotstream_schemas::name::Name;
use slotstream_schemas::Command;

/// Writes the command to send into `out`; returns the name to show in errors (its first key,
/// or its name).
///
/// `ran_ms` is when the source ran it (the record's capture time): relative expiries, which
/// sources before Redis 7.0 replicate as they were given, count from then, not from whenever
/// the destination applies them.
///
/// A destination older than Redis 6.2 has no `SET … PXAT`: there the absolute time becomes a
/// `PX` counted from now (`has_pxat` false).
pub fn write_command(
    out: &mut Commands,
    command: Command,
    ran_ms: i64,
    now_ms: i64,
    extension_ms: i64,
    has_pxat: bool,
) -> Vec<u8> {
    let mut args: Vec<Vec<u8>> = command.args.into_iter().map(|a| a.0).collect();
    absolute_expiry(&mut args, ran_ms);
    extend_expiry(&mut args, now_ms + extension_ms);
    if !has_pxat {
        relative_set_expiry(&mut args, now_ms);
    }
    out.push(&args);
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

/// `SET … PXAT|EXAT t` as `SET … PX (t - now)` (at least 1 ms), for servers before 6.2.
pub fn relative_set_expiry(args: &mut [Vec<u8>], now_ms: i64) {
    if Name::of_command(args) != b"SET" {
        return;
    }
    let mut i = 3;
    while i + 1 < args.len() {
        let option = Name::of(&args[i]);
        if option == b"PXAT" || option == b"EXAT" {
            if let Some(at) = decimal::<i64>(&args[i + 1]) {
                let at_ms = if option == b"EXAT" {
                    at.saturating_mul(1000)
                } else {
                    at
                };
                args[i] = b"PX".to_vec();
                args[i + 1] = at_ms.saturating_sub(now_ms).max(1).to_string().into_bytes();
            }
            i += 1;
        }
        i += 1;
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
    fn absolute_set_expiry_becomes_relative_for_old_servers() {
        let mut set = args(&["SET", "k", "v", "PXAT", "5000", "NX"]);
        relative_set_expiry(&mut set, 1000);
        assert_eq!(set, args(&["SET", "k", "v", "PX", "4000", "NX"]));
        let mut past = args(&["SET", "k", "v", "EXAT", "1"]);
        relative_set_expiry(&mut past, 9000);
        assert_eq!(past, args(&["SET", "k", "v", "PX", "1"]));
        let mut other = args(&["PEXPIREAT", "k", "5000"]);
        relative_set_expiry(&mut other, 1000);
        assert_eq!(other, args(&["PEXPIREAT", "k", "5000"]));
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
