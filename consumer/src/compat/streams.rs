//! Stream commands in older forms: trimming options of `XADD`/`XTRIM`, consumer groups'
//! `XGROUP` subcommands.

use super::{scripts, Adapted, Dialect};
use crate::wire::Commands;
use slotstream_schemas::name::Name;

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold] [LIMIT n] id field value …` and
/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]`.
///
/// Sources replicate trimming as exact (`=`) and keep `LIMIT`, which only a replica's link may
/// send with `=`: every destination refuses it from a client, so `LIMIT` goes for all. Before
/// 6.2, `LIMIT`, `=` (the default then) and `NOMKSTREAM` (the stream existed, or nothing was
/// replicated) go, and `MINID`, which they lack, becomes a script that deletes the entries
/// below it, after the `XADD`.
pub fn trim(args: &mut Vec<Vec<u8>>, d: Dialect, out: &mut Commands) -> Adapted {
    let xadd = Name::of_command(args) == b"XADD";
    let (mut nomkstream, mut clause, mut limit) = (None, None, None);
    let mut approximate = false;
    let mut i = 2;
    while i < args.len() {
        match Name::of(&args[i]).as_bytes() {
            b"NOMKSTREAM" if xadd => {
                nomkstream = Some(i);
                i += 1;
            }
            kind @ (b"MAXLEN" | b"MINID") if i + 1 < args.len() => {
                let operator = matches!(&args[i + 1][..], b"=" | b"~");
                approximate = args[i + 1] == b"~";
                let threshold = i + 1 + usize::from(operator);
                clause = Some(Clause {
                    at: i,
                    operator,
                    threshold,
                    minid: kind == b"MINID",
                });
                i = threshold + 1;
            }
            b"LIMIT" if i + 1 < args.len() => {
                limit = Some(i);
                i += 2;
            }
            _ => break,
        }
    }
    // Arguments to remove, as (first, count); removed from the back so indices hold.
    let mut cuts: [(usize, usize); 3] = [(0, 0); 3];
    if let Some(at) = limit.filter(|_| !approximate || !d.redis_6_2) {
        cuts[0] = (at, 2);
    }
    let mut minid = None;
    if !d.redis_6_2 {
        if let Some(at) = nomkstream {
            cuts[1] = (at, 1);
        }
        match clause {
            Some(c) if c.minid && c.threshold < args.len() => {
                minid = full_id(&args[c.threshold]);
                if minid.is_none() {
                    return Adapted::AsIs;
                }
                cuts[2] = (c.at, c.threshold + 1 - c.at);
            }
            Some(c) if c.operator && !approximate => cuts[2] = (c.at + 1, 1),
            _ => {}
        }
    }
    cuts.sort_unstable_by_key(|&(first, _)| std::cmp::Reverse(first));
    for (first, count) in cuts.into_iter().filter(|(_, count)| *count > 0) {
        args.drain(first..first + count);
    }
    let Some(minid) = minid else {
        return Adapted::AsIs;
    };
    if xadd {
        out.push(args);
    }
    scripts::eval(out, scripts::TRIM_MINID, &args[1..2], &[minid]);
    Adapted::Written
}

/// A trimming clause: where it starts, whether an operator (`=`/`~`) follows, where its
/// threshold is.
#[derive(Clone, Copy)]
struct Clause {
    at: usize,
    operator: bool,
    threshold: usize,
    minid: bool,
}

/// A stream ID in full (`ms-seq`): a bare `ms` as `MINID` reads it (`ms-0`).
fn full_id(id: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(id).ok()?;
    let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
    let (ms, seq): (u64, u64) = (ms.parse().ok()?, seq.parse().ok()?);
    Some(format!("{ms}-{seq}"))
}

/// `XGROUP`: `CREATECONSUMER` before 6.2 as an `XREADGROUP` of the new consumer's own (empty)
/// history, which creates it and reads nothing; `ENTRIESREAD n` of `CREATE`/`SETID` before 7.0,
/// where groups do not count entries read, dropped. Returns whether it wrote other commands.
pub fn xgroup(args: &mut Vec<Vec<u8>>, d: Dialect, out: &mut Commands) -> bool {
    let Some(subcommand) = args.get(1).map(|arg| Name::of(arg)) else {
        return false;
    };
    match (subcommand.as_bytes(), &args[..]) {
        (b"CREATECONSUMER", [_, _, key, group, consumer]) if !d.redis_6_2 => {
            out.push(&[
                &b"XREADGROUP"[..],
                b"GROUP",
                group,
                consumer,
                b"COUNT",
                b"1",
                b"STREAMS",
                key,
                b"0",
            ]);
            true
        }
        (b"CREATE" | b"SETID", _) if !d.redis_7_0 => {
            if let Some(at) = (5..args.len()).find(|&i| Name::of(&args[i]) == b"ENTRIESREAD") {
                let end = (at + 2).min(args.len());
                args.drain(at..end);
            }
            false
        }
        _ => false,
    }
}
