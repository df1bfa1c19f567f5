//! Key specs: where the search for keys begins in an argument list and how keys are found from
//! there, as Redis 7.0+ describes them (the old first/last/step is one `index` + `range` spec).

use super::KeysError;

/// Where the keys of one spec start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BeginSearch {
    /// At a fixed argument.
    Index(usize),
    /// After the first `keyword` met when searching from `startfrom` (negative: counted from
    /// the end, searching backwards).
    Keyword { keyword: Box<[u8]>, startfrom: i64 },
}

/// Which arguments from the start are keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FindKeys {
    /// From the start to `lastkey` (relative to the start; negative: counted from the end, or
    /// with `limit`, the 1/limit share of what follows), every `keystep`.
    Range {
        lastkey: i64,
        keystep: usize,
        limit: usize,
    },
    /// The argument at `keynumidx` (relative to the start) holds the number of keys, which
    /// begin at `firstkey` (relative to the start), every `keystep`.
    Keynum {
        keynumidx: usize,
        firstkey: usize,
        keystep: usize,
    },
}

/// One complete key spec (`unknown`, `incomplete` and `not_key` specs never get here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeySpec {
    pub(crate) begin: BeginSearch,
    pub(crate) find: FindKeys,
}

impl KeySpec {
    /// The spec equivalent of old first/last/step positions; `None` if they describe no range.
    pub(crate) fn legacy(first: i64, last: i64, step: i64) -> Option<KeySpec> {
        let start = usize::try_from(first).ok().filter(|&f| f >= 1)?;
        let keystep = usize::try_from(step).ok().filter(|&s| s >= 1)?;
        let lastkey = if last >= 0 {
            last.checked_sub(first).filter(|&l| l >= 0)?
        } else {
            last
        };
        Some(KeySpec {
            begin: BeginSearch::Index(start),
            find: FindKeys::Range {
                lastkey,
                keystep,
                limit: 0,
            },
        })
    }

    /// Appends the positions of the keys this spec finds in `args` to `out`.
    pub(crate) fn collect(
        &self,
        command: &str,
        args: &[Vec<u8>],
        out: &mut Vec<usize>,
    ) -> Result<(), KeysError> {
        let first = match &self.begin {
            BeginSearch::Index(index) => *index,
            BeginSearch::Keyword { keyword, startfrom } => {
                match find_keyword(args, keyword, *startfrom) {
                    Some(at) => at + 1,
                    // An optional part that is not there: no keys from this spec.
                    None => return Ok(()),
                }
            }
        };
        match self.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => range(command, args, first, lastkey, keystep, limit, out),
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first.saturating_add(keynumidx);
                let start = first.saturating_add(firstkey);
                counted(command, args, at, start, keystep, out)
            }
        }
    }
}

/// The position of `keyword` (any case), searched the way the server searches it: forwards
/// from `startfrom` up to the next-to-last argument (a keyword needs a key after it), or
/// backwards from `args.len() + startfrom` down to argument 2.
fn find_keyword(args: &[Vec<u8>], keyword: &[u8], startfrom: i64) -> Option<usize> {
    let argc = args.len();
    let matches = |i: &usize| {
        args.get(*i)
            .is_some_and(|a| a.eq_ignore_ascii_case(keyword))
    };
    if startfrom > 0 {
        let start = usize::try_from(startfrom).ok()?;
        (start..argc.saturating_sub(1)).find(matches)
    } else {
        let back = usize::try_from(startfrom.unsigned_abs()).ok()?;
        let start = argc.checked_sub(back).filter(|&s| s < argc)?;
        (2..=start).rev().find(matches)
    }
}

/// Keys from `first` to a last position worked out from `lastkey` and `limit`, every `step`.
fn range(
    command: &str,
    args: &[Vec<u8>],
    first: usize,
    lastkey: i64,
    step: usize,
    limit: usize,
    out: &mut Vec<usize>,
) -> Result<(), KeysError> {
    let argc = args.len();
    let back = usize::try_from(lastkey.unsigned_abs()).unwrap_or(usize::MAX);
    let last = if lastkey >= 0 {
        let last = first.saturating_add(back);
        if last >= argc {
            return Err(KeysError::malformed(
                command,
                format!("expects a key at argument {last} but has {argc} arguments"),
            ));
        }
        last
    } else {
        // With a limit, the keys are the 1/limit share of what follows the start.
        let end = match argc.saturating_sub(first).checked_div(limit) {
            Some(share) => first.saturating_add(share),
            None => argc,
        };
        match end.checked_sub(back) {
            Some(last) => last,
            None => return Ok(()),
        }
    };
    // Counted from the end, the range can be empty: keys that are all optional.
    if last < first {
        return Ok(());
    }
    out.extend((first..=last).step_by(step.max(1)));
    Ok(())
}

/// `count` keys from `start`, every `step`, where `count` is the integer at argument `at`.
pub(crate) fn counted(
    command: &str,
    args: &[Vec<u8>],
    at: usize,
    start: usize,
    step: usize,
    out: &mut Vec<usize>,
) -> Result<(), KeysError> {
    let argc = args.len();
    let raw = args.get(at).ok_or_else(|| {
        KeysError::malformed(
            command,
            format!("has no key count at argument {at} ({argc} arguments)"),
        )
    })?;
    let count = parse_count(raw).ok_or_else(|| {
        KeysError::malformed(
            command,
            format!(
                "key count {} at argument {at} is not a non-negative integer",
                show(raw)
            ),
        )
    })?;
    if count == 0 {
        return Ok(());
    }
    let last = (count - 1)
        .checked_mul(step)
        .and_then(|span| span.checked_add(start))
        .filter(|&last| last < argc)
        .ok_or_else(|| {
            KeysError::malformed(
                command,
                format!("says {count} keys from argument {start} but has {argc} arguments"),
            )
        })?;
    out.extend((start..=last).step_by(step.max(1)));
    Ok(())
}

/// A non-negative decimal integer argument.
pub(crate) fn parse_count(raw: &[u8]) -> Option<usize> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// An argument for an error message: lossy UTF-8, cut short so a huge value stays readable.
pub(crate) fn show(raw: &[u8]) -> String {
    const SHOWN: usize = 40;
    let cut = raw.get(..SHOWN).unwrap_or(raw);
    let mut text = format!("{:?}", String::from_utf8_lossy(cut));
    if cut.len() < raw.len() {
        text.push('…');
    }
    text
}
