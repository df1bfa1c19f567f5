//! Live commands in the forms an older destination knows.
//!
//! A source replicates what it ran, often already rewritten (`GETDEL` as `DEL`, `LMPOP` as
//! `LPOP key count`, `INCRBYFLOAT` as `SET … KEEPTTL`, `XREADGROUP` as `XCLAIM`s and
//! `XGROUP CREATECONSUMER`/`SETID … ENTRIESREAD`); COMPATIBILITY.md has the table, measured on
//! each server. Here each such form becomes one the destination knows, keyed by its version
//! ([`Dialect`]), with the same effect on the same data: options that only shape the reply or
//! that held on the source (a command is replicated only when it changed something) are
//! dropped, commands become their older equivalents (`LPOP key n` as `LTRIM key n -1`,
//! `LMOVE … RIGHT LEFT` as `RPOPLPUSH`), and the rest become a short Lua script that reads what
//! it needs on the destination ([`scripts`]). What no older form can express (hash field TTLs
//! on a destination without them, function libraries before Redis 7.0) is [`Unsupported`], for
//! `--on-unsupported` to decide, before anything of the batch is sent.
//!
//! Runs for every live command: a command the destination knows costs one name match and no
//! allocation.

mod scripts;
mod sorted;
mod streams;

use crate::expiry::write_hpexpireat;
use crate::target::TargetInfo;
use crate::wire::Commands;
use slotstream_schemas::name::{decimal, Name};

/// What the destination's command set has, from its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// `SET … KEEPTTL` (Redis 6.0+).
    pub keep_ttl: bool,
    /// Redis 6.2's commands and options: `SET … PXAT|EXAT`, `LPOP key count`, `LMOVE`, `COPY`,
    /// `ZADD GT|LT`, `ZRANGESTORE`, `ZDIFFSTORE`, `GEOSEARCHSTORE`, `XADD NOMKSTREAM|MINID|=`,
    /// `XGROUP CREATECONSUMER`, `FLUSHALL SYNC`, `SCRIPT FLUSH SYNC|ASYNC`.
    pub redis_6_2: bool,
    /// Redis 7.0's: `SET … NX GET`, `EXPIRE … NX|XX|GT|LT`, the stream counters
    /// (`ENTRIESREAD`, `ENTRIESADDED`, `MAXDELETEDID`), `SPUBLISH`, `FUNCTION`.
    pub redis_7_0: bool,
    /// Hash field TTLs: `HPEXPIREAT`, `HPERSIST` (Redis 7.4+, Valkey 9+).
    pub field_ttls: bool,
    /// `HSETEX`, `HGETDEL` (Valkey 9+, Redis 8.0+).
    pub hash_ex: bool,
    /// `SET … IFEQ` (Valkey 8.1+).
    pub set_ifeq: bool,
}

impl Dialect {
    pub fn of(target: &TargetInfo) -> Dialect {
        Dialect {
            keep_ttl: target.at_least(6, 0),
            redis_6_2: target.at_least(6, 2),
            redis_7_0: target.at_least(7, 0),
            field_ttls: target.has_field_ttls(),
            hash_ex: target.at_least(8, 0) || target.valkey_at_least(9, 0),
            set_ifeq: target.valkey_at_least(8, 1),
        }
    }
}

/// What to send for a live command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapted {
    /// Its arguments, as they are now (changed in place, if at all).
    AsIs,
    /// Other commands, already written (none, when it changes nothing on this destination).
    Written,
}

/// A command no form the destination knows can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported {
    /// What it does that the destination cannot, e.g. `hash field TTLs`.
    pub what: &'static str,
    /// The servers that can.
    pub needs: &'static str,
}

const FIELD_TTLS: Unsupported = Unsupported {
    what: "hash field TTLs",
    needs: "Redis 7.4+ or Valkey 9+",
};

/// Makes the command in `args` one the destination of `dialect` knows: changes `args` in place
/// ([`Adapted::AsIs`]), or writes other commands into `out` ([`Adapted::Written`]). `now_ms`
/// turns absolute expiry times into relative ones for servers without the absolute forms.
/// Arguments it cannot read are left as they are, for the destination to judge.
pub fn adapt(
    args: &mut Vec<Vec<u8>>,
    dialect: Dialect,
    now_ms: i64,
    out: &mut Commands,
) -> Result<Adapted, Unsupported> {
    let name = Name::of_command(args);
    let d = dialect;
    let written = match name.as_bytes() {
        b"SET" => return Ok(set(args, d, now_ms, out)),
        b"LPOP" | b"RPOP" if !d.redis_6_2 => pop_count(args, name == b"LPOP", out),
        b"LMOVE" | b"BLMOVE" if !d.redis_6_2 => lmove(args, out),
        b"ZADD" if !d.redis_6_2 => sorted::zadd(args, out),
        b"ZRANGESTORE" if !d.redis_6_2 => sorted::zrangestore(args, out),
        b"ZDIFFSTORE" if !d.redis_6_2 => sorted::zdiffstore(args, out),
        b"GEOSEARCHSTORE" if !d.redis_6_2 => return sorted::geosearchstore(args, out),
        b"COPY" if !d.redis_6_2 => copy(args, out),
        b"EXPIRE" | b"PEXPIRE" | b"EXPIREAT" | b"PEXPIREAT" if !d.redis_7_0 => {
            // NX|XX|GT|LT held on the source, or it would not have replicated the command.
            args.truncate(3);
            false
        }
        b"FLUSHALL" | b"FLUSHDB" if !d.redis_6_2 && args.len() == 2 => {
            // `SYNC` is what these did before 6.2; `ASYNC` exists since 4.0.
            if Name::of(&args[1]) == b"SYNC" {
                args.truncate(1);
            }
            false
        }
        b"SCRIPT" if !d.redis_6_2 && args.len() == 3 && Name::of(&args[1]) == b"FLUSH" => {
            args.truncate(2);
            false
        }
        b"SPUBLISH" if !d.redis_7_0 => {
            args[0] = b"PUBLISH".to_vec();
            false
        }
        b"FUNCTION" if !d.redis_7_0 => {
            return Err(Unsupported {
                what: "function libraries",
                needs: "Redis 7.0+ or Valkey",
            })
        }
        b"XADD" | b"XTRIM" => return Ok(streams::trim(args, d, out)),
        b"XGROUP" => streams::xgroup(args, d, out),
        b"XSETID" if !d.redis_7_0 => {
            // ENTRIESADDED and MAXDELETEDID: counters older servers do not keep.
            args.truncate(3);
            false
        }
        b"HPEXPIREAT" | b"HEXPIREAT" | b"HPEXPIRE" | b"HEXPIRE" if !d.field_ttls => {
            return Err(FIELD_TTLS)
        }
        // No field has a TTL on such a destination: there is nothing to persist.
        b"HPERSIST" if !d.field_ttls => true,
        b"HGETDEL" if !d.hash_ex => hgetdel(args, out),
        b"HSETEX" if !d.hash_ex => return hsetex(args, d, now_ms, out),
        _ => false,
    };
    Ok(if written {
        Adapted::Written
    } else {
        Adapted::AsIs
    })
}

/// `SET`'s options, from after the value: `KEEPTTL` before 6.0 (a script), `PXAT|EXAT` before
/// 6.2 (`PX` counted from `now_ms`), `GET` before 7.0 (it only shapes the reply), `IFEQ value`
/// without it (it held on the source).
fn set(args: &mut Vec<Vec<u8>>, d: Dialect, now_ms: i64, out: &mut Commands) -> Adapted {
    let mut keep_ttl = false;
    let mut i = 3;
    while i < args.len() {
        let option = Name::of(&args[i]);
        match option.as_bytes() {
            b"GET" if !d.redis_7_0 => {
                args.remove(i);
            }
            b"KEEPTTL" if !d.keep_ttl => {
                args.remove(i);
                keep_ttl = true;
            }
            b"IFEQ" if !d.set_ifeq => {
                args.drain(i..(i + 2).min(args.len()));
            }
            b"PXAT" | b"EXAT" if !d.redis_6_2 && i + 1 < args.len() => {
                if let Some(at) = decimal::<i64>(&args[i + 1]) {
                    let unit = if option == b"EXAT" { 1000 } else { 1 };
                    let left = at.saturating_mul(unit).saturating_sub(now_ms).max(1);
                    args[i] = b"PX".to_vec();
                    args[i + 1] = left.to_string().into_bytes();
                }
                i += 2;
            }
            b"EX" | b"PX" | b"EXAT" | b"PXAT" | b"IFEQ" => i += 2,
            _ => i += 1,
        }
    }
    if !keep_ttl || args.len() < 3 {
        return Adapted::AsIs;
    }
    scripts::eval(out, scripts::SET_KEEPING_TTL, &args[1..2], &args[2..]);
    Adapted::Written
}

/// `LPOP|RPOP key count` before 6.2: the same elements trimmed off (`LTRIM` empties and
/// deletes the list when `count` reaches its length, as the pops do).
fn pop_count(args: &[Vec<u8>], left: bool, out: &mut Commands) -> bool {
    let [_, key, count] = args else {
        return false;
    };
    let Some(count) = decimal::<i64>(count).filter(|n| *n >= 0) else {
        return false;
    };
    out.command(4);
    out.arg(b"LTRIM");
    out.arg(key);
    if left {
        out.arg_int(count);
        out.arg_int(-1);
    } else {
        out.arg_int(0);
        out.arg_int(-(count.saturating_add(1)));
    }
    true
}

/// `LMOVE|BLMOVE source destination from to` before 6.2: `RPOPLPUSH` for `RIGHT LEFT`, a
/// script for the other directions.
fn lmove(args: &[Vec<u8>], out: &mut Commands) -> bool {
    let [_, source, destination, from, to, ..] = args else {
        return false;
    };
    let side = |arg: &[u8]| match Name::of(arg).as_bytes() {
        b"LEFT" => Some(&b"LEFT"[..]),
        b"RIGHT" => Some(&b"RIGHT"[..]),
        _ => None,
    };
    let (Some(from), Some(to)) = (side(from), side(to)) else {
        return false;
    };
    if (from, to) == (&b"RIGHT"[..], &b"LEFT"[..]) {
        out.push(&[&b"RPOPLPUSH"[..], source, destination]);
    } else {
        scripts::eval(out, scripts::LMOVE, &[source, destination], &[from, to]);
    }
    true
}

/// `COPY source destination [DB n] [REPLACE]` before 6.2: a script.
fn copy(args: &[Vec<u8>], out: &mut Commands) -> bool {
    let [_, source, destination, options @ ..] = args else {
        return false;
    };
    let (mut db, mut replace): (&[u8], &[u8]) = (b"", b"");
    let mut i = 0;
    while i < options.len() {
        match Name::of(&options[i]).as_bytes() {
            b"DB" if i + 1 < options.len() => {
                db = &options[i + 1];
                i += 1;
            }
            b"REPLACE" => replace = b"REPLACE",
            _ => return false,
        }
        i += 1;
    }
    scripts::eval(out, scripts::COPY, &[source, destination], &[db, replace]);
    true
}

/// `HGETDEL key FIELDS n field …` without it: `HDEL`.
fn hgetdel(args: &[Vec<u8>], out: &mut Commands) -> bool {
    let [_, key, fields_word, count, fields @ ..] = args else {
        return false;
    };
    if Name::of(fields_word) != b"FIELDS" || decimal::<usize>(count) != Some(fields.len()) {
        return false;
    }
    out.command(2 + fields.len());
    out.arg(b"HDEL");
    out.arg(key);
    for field in fields {
        out.arg(field);
    }
    true
}

/// `HSETEX key [FNX|FXX] [EX|PX|EXAT|PXAT t|KEEPTTL] FIELDS n field value …` without it:
/// `HSET`, then the fields' expiry (`HPEXPIREAT`) where the destination has field TTLs, or a
/// script that keeps their TTLs (`KEEPTTL`). FNX/FXX held on the source. A TTL on a
/// destination without field TTLs is [`Unsupported`].
fn hsetex(
    args: &[Vec<u8>],
    d: Dialect,
    now_ms: i64,
    out: &mut Commands,
) -> Result<Adapted, Unsupported> {
    let [_, key, rest @ ..] = args else {
        return Ok(Adapted::AsIs);
    };
    let (mut at_ms, mut keep_ttl) = (None, false);
    let mut i = 0;
    while i < rest.len() && Name::of(&rest[i]) != b"FIELDS" {
        let option = Name::of(&rest[i]);
        let unit = match option.as_bytes() {
            b"FNX" | b"FXX" => None,
            b"KEEPTTL" => {
                keep_ttl = true;
                None
            }
            b"EX" | b"EXAT" => Some(1000),
            b"PX" | b"PXAT" => Some(1),
            _ => return Ok(Adapted::AsIs),
        };
        if let Some(unit) = unit {
            let Some(value) = rest.get(i + 1).and_then(|v| decimal::<i64>(v)) else {
                return Ok(Adapted::AsIs);
            };
            let relative = matches!(option.as_bytes(), b"EX" | b"PX");
            let base = if relative { now_ms } else { 0 };
            at_ms = Some(base.saturating_add(value.saturating_mul(unit)));
            i += 1;
        }
        i += 1;
    }
    let Some([_, count, pairs @ ..]) = rest.get(i..) else {
        return Ok(Adapted::AsIs);
    };
    let n = decimal::<usize>(count).unwrap_or(0);
    if n == 0 || pairs.len() != 2 * n {
        return Ok(Adapted::AsIs);
    }
    if at_ms.is_some() && !d.field_ttls {
        return Err(FIELD_TTLS);
    }
    if keep_ttl && d.field_ttls {
        scripts::eval(out, scripts::HSET_KEEPING_TTLS, &[key], pairs);
        return Ok(Adapted::Written);
    }
    out.command(2 + pairs.len());
    out.arg(b"HSET");
    out.arg(key);
    for arg in pairs {
        out.arg(arg);
    }
    if let Some(at) = at_ms {
        let fields = pairs.iter().step_by(2).map(Vec::as_slice);
        write_hpexpireat(out, key, at, fields);
    }
    Ok(Adapted::Written)
}

#[cfg(test)]
mod tests;
