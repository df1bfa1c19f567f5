//! Sorted sets and geo sets in older forms: `ZADD GT|LT`, `ZRANGESTORE`, `ZDIFFSTORE`,
//! `GEOSEARCHSTORE`.

use super::{decimal, scripts, Adapted, Unsupported};
use crate::wire::Commands;
use slotstream_schemas::name::Name;

/// `ZADD key … GT|LT …` before 6.2. One member: the flag is dropped, since the command was
/// replicated only because the member changed. Several: a script compares each.
pub fn zadd(args: &mut Vec<Vec<u8>>, out: &mut Commands) -> bool {
    let mut compare = None;
    let mut only_existing = false;
    let mut i = 2;
    while i < args.len() {
        match Name::of(&args[i]).as_bytes() {
            b"GT" => compare = Some(&b"GT"[..]),
            b"LT" => compare = Some(&b"LT"[..]),
            b"XX" => only_existing = true,
            b"NX" | b"CH" | b"INCR" => {}
            _ => break,
        }
        i += 1;
    }
    let Some(compare) = compare else {
        return false;
    };
    if args.len() - i <= 2 {
        for at in (2..i).rev() {
            if matches!(Name::of(&args[at]).as_bytes(), b"GT" | b"LT") {
                args.remove(at);
            }
        }
        return false;
    }
    let xx: &[u8] = if only_existing { b"XX" } else { b"" };
    let mut argv: Vec<&[u8]> = Vec::with_capacity(2 + args.len() - i);
    argv.extend([compare, xx]);
    argv.extend(args[i..].iter().map(Vec::as_slice));
    scripts::eval(out, scripts::ZADD_COMPARED, &args[1..2], &argv);
    true
}

/// `ZRANGESTORE destination source min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]` before
/// 6.2: a script that reads the range with the older command and stores it.
pub fn zrangestore(args: &[Vec<u8>], out: &mut Commands) -> bool {
    #[derive(PartialEq)]
    enum By {
        Rank,
        Score,
        Lex,
    }
    let [_, destination, source, min, max, options @ ..] = args else {
        return false;
    };
    let (mut by, mut rev, mut limit) = (By::Rank, false, None);
    let mut i = 0;
    while i < options.len() {
        match Name::of(&options[i]).as_bytes() {
            b"BYSCORE" => by = By::Score,
            b"BYLEX" => by = By::Lex,
            b"REV" => rev = true,
            b"LIMIT" if i + 2 < options.len() => {
                limit = Some(&options[i + 1..i + 3]);
                i += 2;
            }
            _ => return false,
        }
        i += 1;
    }
    let read: &[u8] = match (&by, rev) {
        (By::Rank, false) => b"ZRANGE",
        (By::Rank, true) => b"ZREVRANGE",
        (By::Score, false) => b"ZRANGEBYSCORE",
        (By::Score, true) => b"ZREVRANGEBYSCORE",
        (By::Lex, false) => b"ZRANGEBYLEX",
        (By::Lex, true) => b"ZREVRANGEBYLEX",
    };
    if by == By::Rank && limit.is_some() {
        return false;
    }
    let with_scores = by != By::Lex;
    let mut argv: Vec<&[u8]> = vec![read, if with_scores { b"1" } else { b"0" }, min, max];
    if with_scores {
        argv.push(b"WITHSCORES");
    }
    if let Some([offset, count]) = limit {
        argv.extend([&b"LIMIT"[..], offset, count]);
    }
    scripts::eval(out, scripts::ZRANGESTORE, &[destination, source], &argv);
    true
}

/// `ZDIFFSTORE destination numkeys key …` before 6.2: a script.
pub fn zdiffstore(args: &[Vec<u8>], out: &mut Commands) -> bool {
    let [_, destination, count, inputs @ ..] = args else {
        return false;
    };
    if decimal::<usize>(count) != Some(inputs.len()) || inputs.is_empty() {
        return false;
    }
    let mut keys: Vec<&[u8]> = Vec::with_capacity(1 + inputs.len());
    keys.push(destination);
    keys.extend(inputs.iter().map(Vec::as_slice));
    scripts::eval::<_, &[u8]>(out, scripts::ZDIFFSTORE, &keys, &[]);
    true
}

/// `GEOSEARCHSTORE destination source FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit [ASC|DESC]
/// [COUNT n] [STOREDIST]` before 6.2: `GEORADIUS[BYMEMBER] … STORE|STOREDIST`, after a `DEL` of
/// the destination (which 6.2 deletes when the source does not exist, and older servers keep).
/// A box (`BYBOX`) or `ANY` has no older form.
pub fn geosearchstore(args: &[Vec<u8>], out: &mut Commands) -> Result<Adapted, Unsupported> {
    let [_, destination, source, options @ ..] = args else {
        return Ok(Adapted::AsIs);
    };
    let unsupported = Unsupported {
        what: "the BYBOX and ANY options of GEOSEARCHSTORE",
        needs: "Redis 6.2+",
    };
    let mut read: Vec<&[u8]> = Vec::with_capacity(12);
    let (mut center, mut radius, mut order, mut count) = (None, None, None, None);
    let mut store: &[u8] = b"STORE";
    let mut i = 0;
    while i < options.len() {
        let rest = &options[i..];
        match (Name::of(&rest[0]).as_bytes(), rest) {
            (b"FROMMEMBER", [_, _, ..]) => {
                center = Some(&rest[1..2]);
                i += 2;
            }
            (b"FROMLONLAT", [_, _, _, ..]) => {
                center = Some(&rest[1..3]);
                i += 3;
            }
            (b"BYRADIUS", [_, _, _, ..]) => {
                radius = Some(&rest[1..3]);
                i += 3;
            }
            (b"ASC" | b"DESC", _) => {
                order = Some(&rest[0]);
                i += 1;
            }
            (b"COUNT", [_, _, ..]) => {
                count = Some(&rest[1]);
                i += 2;
            }
            (b"STOREDIST", _) => {
                store = b"STOREDIST";
                i += 1;
            }
            (b"BYBOX" | b"ANY", _) => return Err(unsupported),
            _ => return Ok(Adapted::AsIs),
        }
    }
    let (Some(center), Some(radius)) = (center, radius) else {
        return Ok(Adapted::AsIs);
    };
    read.push(if center.len() == 1 {
        b"GEORADIUSBYMEMBER"
    } else {
        b"GEORADIUS"
    });
    read.push(source);
    read.extend(center.iter().chain(radius).map(Vec::as_slice));
    read.extend(order.map(Vec::as_slice));
    if let Some(count) = count {
        read.extend([&b"COUNT"[..], count]);
    }
    read.extend([store, destination]);
    if destination != source {
        out.push(&[&b"DEL"[..], destination]);
    }
    out.push(&read);
    Ok(Adapted::Written)
}
