//! Explicit key rules for commands whose keys move (`movablekeys`): servers before 7.0 give no
//! positions for them, and 7.0+ marks a few of their specs `unknown` (`SORT … STORE`) or
//! `incomplete` (`MIGRATE … KEYS`). Each rule follows what the server itself does to find the
//! keys of that command; any other movable-keys command is left unsupported rather than guessed.

use super::spec::{counted, show};
use super::KeysError;

/// How to find the keys of one movable-keys command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `[dest] numkeys key…`: scripts and functions, `Z*STORE`, `ZUNION`…, `*MPOP`,
    /// `*INTERCARD`. `dest` and `numkeys_at` are argument positions.
    NumKeys {
        dest: Option<usize>,
        numkeys_at: usize,
    },
    /// `SORT key [BY p] [LIMIT off n] [GET p]… [ASC|DESC] [ALPHA] [STORE dst]`.
    Sort,
    /// `GEORADIUS[BYMEMBER] key … [STORE dst] [STOREDIST dst]`: the last store option wins,
    /// as it does when the command runs.
    Georadius,
    /// `XREAD`/`XREADGROUP [GROUP g c] [COUNT n] [BLOCK ms] [NOACK] STREAMS key… id…`.
    Streams,
    /// `MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
    /// [KEYS key…]`.
    Migrate,
}

/// The rule for a lower-case command name, if it has one.
pub(crate) fn rule_for(name: &str) -> Option<Rule> {
    let numkeys = |dest, numkeys_at| Rule::NumKeys { dest, numkeys_at };
    Some(match name {
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => numkeys(None, 2),
        "zunionstore" | "zinterstore" | "zdiffstore" => numkeys(Some(1), 2),
        "zunion" | "zinter" | "zdiff" | "lmpop" | "zmpop" | "sintercard" | "zintercard" => {
            numkeys(None, 1)
        }
        "blmpop" | "bzmpop" => numkeys(None, 2),
        // The read-only variants take the same keys (minus the store options).
        "sort" | "sort_ro" => Rule::Sort,
        "georadius" | "georadiusbymember" | "georadius_ro" | "georadiusbymember_ro" => {
            Rule::Georadius
        }
        "xread" | "xreadgroup" => Rule::Streams,
        "migrate" => Rule::Migrate,
        _ => return None,
    })
}

impl Rule {
    /// Appends the key positions of `args` to `out`, in argument order.
    pub(crate) fn collect(
        self,
        command: &str,
        args: &[Vec<u8>],
        out: &mut Vec<usize>,
    ) -> Result<(), KeysError> {
        match self {
            Rule::NumKeys { dest, numkeys_at } => {
                if let Some(dest) = dest {
                    require(command, args, dest, "destination key")?;
                    out.push(dest);
                }
                counted(command, args, numkeys_at, numkeys_at + 1, 1, out)
            }
            Rule::Sort => sort(command, args, out),
            Rule::Georadius => georadius(command, args, out),
            Rule::Streams => streams(command, args, out),
            Rule::Migrate => migrate(command, args, out),
        }
    }
}

fn is(arg: &[u8], word: &[u8]) -> bool {
    arg.eq_ignore_ascii_case(word)
}

fn require(command: &str, args: &[Vec<u8>], at: usize, what: &str) -> Result<(), KeysError> {
    if at < args.len() {
        return Ok(());
    }
    Err(KeysError::malformed(
        command,
        format!("has no {what} (argument {at}, {} arguments)", args.len()),
    ))
}

fn sort(command: &str, args: &[Vec<u8>], out: &mut Vec<usize>) -> Result<(), KeysError> {
    require(command, args, 1, "key")?;
    out.push(1);
    let mut store = None;
    let mut i = 2;
    while let Some(arg) = args.get(i) {
        // Option arguments are skipped so that a pattern or a destination spelled like an
        // option is not read as one.
        i += if is(arg, b"limit") {
            3
        } else if is(arg, b"by") || is(arg, b"get") {
            2
        } else if is(arg, b"store") {
            require(command, args, i + 1, "STORE destination")?;
            store = Some(i + 1);
            2
        } else {
            1
        };
    }
    out.extend(store);
    Ok(())
}

fn georadius(command: &str, args: &[Vec<u8>], out: &mut Vec<usize>) -> Result<(), KeysError> {
    require(command, args, 1, "key")?;
    out.push(1);
    let mut store = None;
    // Arguments before 5 are the key, the centre and the radius (and, for GEORADIUS, the
    // unit): never an option.
    let mut i = 5;
    while let Some(arg) = args.get(i) {
        if (is(arg, b"store") || is(arg, b"storedist")) && i + 1 < args.len() {
            store = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    out.extend(store);
    Ok(())
}

fn streams(command: &str, args: &[Vec<u8>], out: &mut Vec<usize>) -> Result<(), KeysError> {
    let mut i = 1;
    let at = loop {
        let Some(arg) = args.get(i) else {
            return Err(KeysError::malformed(command, "has no STREAMS option"));
        };
        if is(arg, b"streams") {
            break i;
        }
        i += if is(arg, b"count") || is(arg, b"block") {
            2
        } else if is(arg, b"group") {
            3
        } else if is(arg, b"noack") {
            1
        } else {
            return Err(KeysError::malformed(
                command,
                format!("unexpected option {} at argument {i}", show(arg)),
            ));
        };
    };
    // One ID per key after STREAMS.
    let rest = args.len() - at - 1;
    if rest == 0 || rest % 2 == 1 {
        return Err(KeysError::malformed(
            command,
            format!("has {rest} arguments after STREAMS, not key…id pairs"),
        ));
    }
    out.extend(at + 1..=at + rest / 2);
    Ok(())
}

fn migrate(command: &str, args: &[Vec<u8>], out: &mut Vec<usize>) -> Result<(), KeysError> {
    require(command, args, 5, "timeout")?;
    let mut i = 6;
    while let Some(arg) = args.get(i) {
        if is(arg, b"keys") {
            // With KEYS the single-key argument must be empty: it is not a key then.
            if args.get(3).is_some_and(|key| !key.is_empty()) {
                return Err(KeysError::malformed(
                    command,
                    "has KEYS and a non-empty key argument",
                ));
            }
            out.extend(i + 1..args.len());
            return Ok(());
        }
        i += if is(arg, b"auth") {
            2
        } else if is(arg, b"auth2") {
            3
        } else {
            1
        };
    }
    out.push(3);
    Ok(())
}
