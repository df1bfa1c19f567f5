//! Expiry times as the destination gets them: relative ones made absolute from when the source
//! ran the command, and every absolute one moved `--ttl-extension` later.
//!
//! Why the extension: a replica never expires keys itself, it waits for its primary's `DEL`. The
//! destination is a primary and expires keys on its own clock, some lag behind the source's
//! stream. With the source's own expiry times it would drop a key that the source renews just
//! before it expires (the renewal arrives after the target's copy is gone, and later writes
//! build a new value), or that a `RENAME` still moves on the source. Moved `extension` later,
//! a key lives on the target until the source's `DEL` for it (which the source replicates when
//! it expires a key, lazily or actively) or its renewal arrives, as long as the copy's lag and
//! the clocks' skew stay under the extension. The cost: a key lives on the target up to
//! `extension` longer than on the source after the source's writes stop; `verify` expects the
//! target's expiry times that much later (its own `--ttl-extension-secs`).
//!
//! Every expiry gets the same shift, so `GT`/`LT` conditions compare on the target as they did
//! on the source.

use crate::wire::Commands;
use slotstream_schemas::name::{decimal, Name};

/// When a source expiry time passes on the destination.
pub fn on_target(at_ms: i64, extension_ms: i64) -> i64 {
    at_ms.saturating_add(extension_ms)
}

/// Whether a value with the source expiry time `at_ms` is gone on the destination at `now_ms`.
pub fn passed(at_ms: i64, extension_ms: i64, now_ms: i64) -> bool {
    on_target(at_ms, extension_ms) <= now_ms
}

/// Writes `HPEXPIREAT key at FIELDS n field…`: `fields` expire at `at_ms` (a time already as
/// the destination gets it).
pub fn write_hpexpireat<'f>(
    out: &mut Commands,
    key: &[u8],
    at_ms: i64,
    fields: impl ExactSizeIterator<Item = &'f [u8]>,
) {
    out.command(5 + fields.len());
    out.arg(b"HPEXPIREAT");
    out.arg(key);
    out.arg_int(at_ms);
    out.arg(b"FIELDS");
    out.arg_int(fields.len() as i64);
    for field in fields {
        out.arg(field);
    }
}

/// Rewrites relative expiries as absolute ones counted from `ran_ms`: `EXPIRE`/`PEXPIRE` as
/// `PEXPIREAT`, `SETEX`/`PSETEX` as `SET … PXAT`, the `EX`/`PX` options of `SET` and `GETEX` as
/// `PXAT`, and a `RESTORE`'s TTL as an `ABSTTL` one. Other commands are left as they are.
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
            let start = if name == b"SET" { 3 } else { 2 };
            for_each_option(args, start, |option, value| {
                let unit = match option.as_bytes() {
                    b"EX" => 1000,
                    b"PX" => 1,
                    _ => return None,
                };
                Some((b"PXAT".to_vec(), at(value, unit)?))
            });
        }
        b"RESTORE"
            if args.len() >= 4
                && !has_option(&args[4..], b"ABSTTL")
                && decimal::<i64>(&args[2]).is_some_and(|ttl| ttl > 0) =>
        {
            if let Some(when) = at(&args[2], 1) {
                args[2] = when;
                args.push(b"ABSTTL".to_vec());
            }
        }
        _ => {}
    }
}

/// Moves every absolute expiry time in `args` `extension_ms` later (rewritten in ms), in the
/// forms a source replicates them: `SET … PXAT|EXAT t`, `GETEX … PXAT|EXAT t`,
/// `PEXPIREAT|EXPIREAT key t`, `HPEXPIREAT|HEXPIREAT key t …`, `HSETEX|HGETEX key … PXAT|EXAT t
/// … FIELDS …` and `RESTORE key t … ABSTTL`. Non-positive times mean "delete now" and are kept.
pub fn extend_expiry(args: &mut [Vec<u8>], extension_ms: i64) {
    if extension_ms == 0 {
        return;
    }
    let name = Name::of_command(args);
    let later = |option: Name, value: &[u8]| -> Option<(Vec<u8>, Vec<u8>)> {
        let seconds = match option.as_bytes() {
            b"PXAT" => false,
            b"EXAT" => true,
            _ => return None,
        };
        Some((b"PXAT".to_vec(), shifted(value, seconds, extension_ms)?))
    };
    match name.as_bytes() {
        b"SET" => for_each_option(args, 3, later),
        b"GETEX" | b"HSETEX" | b"HGETEX" => for_each_option(args, 2, later),
        b"PEXPIREAT" | b"EXPIREAT" | b"HPEXPIREAT" | b"HEXPIREAT" if args.len() >= 3 => {
            let seconds = name == b"EXPIREAT" || name == b"HEXPIREAT";
            if let Some(when) = shifted(&args[2], seconds, extension_ms) {
                args[2] = when;
                if seconds {
                    args[0] = if name == b"EXPIREAT" {
                        b"PEXPIREAT".to_vec()
                    } else {
                        b"HPEXPIREAT".to_vec()
                    };
                }
            }
        }
        b"RESTORE" if args.len() >= 4 && has_option(&args[4..], b"ABSTTL") => {
            if let Some(when) = shifted(&args[2], false, extension_ms) {
                args[2] = when;
            }
        }
        _ => {}
    }
}

/// A time argument (seconds when `seconds`, else ms) `extension_ms` later, in ms; `None` for
/// what is not a positive time.
fn shifted(arg: &[u8], seconds: bool, extension_ms: i64) -> Option<Vec<u8>> {
    let value = decimal::<i64>(arg).filter(|v| *v > 0)?;
    let ms = if seconds {
        value.saturating_mul(1000)
    } else {
        value
    };
    Some(on_target(ms, extension_ms).to_string().into_bytes())
}

/// Calls `rewrite` on each `OPTION value` pair from `args[start]` on, up to a `FIELDS` (where a
/// hash command's fields begin), and replaces the pair with what it returns. Options without a
/// value are stepped over; a `SET`'s value (before `start`) is never read as an option.
fn for_each_option(
    args: &mut [Vec<u8>],
    start: usize,
    mut rewrite: impl FnMut(Name, &[u8]) -> Option<(Vec<u8>, Vec<u8>)>,
) {
    let mut i = start;
    while i + 1 < args.len() {
        let option = Name::of(&args[i]);
        if option == b"FIELDS" {
            return;
        }
        if let Some((name, value)) = rewrite(option, &args[i + 1]) {
            args[i] = name;
            args[i + 1] = value;
        }
        if matches!(
            Name::of(&args[i]).as_bytes(),
            b"EX" | b"PX" | b"EXAT" | b"PXAT"
        ) {
            i += 1;
        }
        i += 1;
    }
}

/// Whether `option` is among `args` (case-insensitive).
fn has_option(args: &[Vec<u8>], option: &[u8]) -> bool {
    args.iter().any(|arg| arg.eq_ignore_ascii_case(option))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn every_absolute_expiry_moves_by_the_extension() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["SET", "k", "v", "PXAT", "1500"],
                &["SET", "k", "v", "PXAT", "3500"],
            ),
            (
                &["SET", "k", "v", "PXAT", "90000"],
                &["SET", "k", "v", "PXAT", "92000"],
            ),
            (&["EXPIREAT", "k", "1"], &["PEXPIREAT", "k", "3000"]),
            (
                &["PEXPIREAT", "k", "5", "GT"],
                &["PEXPIREAT", "k", "2005", "GT"],
            ),
            (
                &["GETEX", "k", "EXAT", "1"],
                &["GETEX", "k", "PXAT", "3000"],
            ),
            (
                &["HPEXPIREAT", "h", "700", "FIELDS", "1", "f"],
                &["HPEXPIREAT", "h", "2700", "FIELDS", "1", "f"],
            ),
            (
                &["HEXPIREAT", "h", "7", "NX", "FIELDS", "1", "f"],
                &["HPEXPIREAT", "h", "9000", "NX", "FIELDS", "1", "f"],
            ),
            (
                &[
                    "HSETEX", "h", "FNX", "EXAT", "3", "FIELDS", "1", "PXAT", "4",
                ],
                &[
                    "HSETEX", "h", "FNX", "PXAT", "5000", "FIELDS", "1", "PXAT", "4",
                ],
            ),
            (
                &["HGETEX", "h", "PXAT", "10", "FIELDS", "1", "f"],
                &["HGETEX", "h", "PXAT", "2010", "FIELDS", "1", "f"],
            ),
            (
                &["RESTORE", "k", "100", "payload", "ABSTTL"],
                &["RESTORE", "k", "2100", "payload", "ABSTTL"],
            ),
            (
                &["RESTORE", "k", "0", "p", "ABSTTL"],
                &["RESTORE", "k", "0", "p", "ABSTTL"],
            ),
            (&["PEXPIREAT", "k", "0"], &["PEXPIREAT", "k", "0"]),
            // The value of a SET is never read as an option.
            (
                &["SET", "k", "PXAT", "KEEPTTL"],
                &["SET", "k", "PXAT", "KEEPTTL"],
            ),
            (&["INCR", "k"], &["INCR", "k"]),
        ];
        for (given, wanted) in cases {
            let mut command = args(given);
            extend_expiry(&mut command, 2000);
            assert_eq!(command, args(wanted), "{given:?}");
        }
        let mut none = args(&["SET", "k", "v", "PXAT", "1500"]);
        extend_expiry(&mut none, 0);
        assert_eq!(none, args(&["SET", "k", "v", "PXAT", "1500"]));
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
            (
                &["RESTORE", "k", "500", "p", "REPLACE"],
                &["RESTORE", "k", "1500", "p", "REPLACE", "ABSTTL"],
            ),
            (&["RESTORE", "k", "0", "p"], &["RESTORE", "k", "0", "p"]),
            (
                &["RESTORE", "k", "9", "p", "ABSTTL"],
                &["RESTORE", "k", "9", "p", "ABSTTL"],
            ),
            (&["INCR", "k"], &["INCR", "k"]),
        ];
        for (given, wanted) in cases {
            let mut command = args(given);
            absolute_expiry(&mut command, 1000);
            assert_eq!(command, args(wanted), "{given:?}");
        }
    }
}
