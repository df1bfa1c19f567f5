//! `--include-type` / `--exclude-type`: which value types a copy holds, and what becomes of a
//! live command under them.
//!
//! A snapshot entry carries its type. A live command names its type by what it is: `SADD` writes
//! a set, `SET` a string. A command of a left-out type is dropped, since its key (of that type,
//! or absent: a command of another type fails on the source with `WRONGTYPE` and is not
//! replicated) is absent on the target; except a command that replaces whatever its key held
//! (`SET`, `MSET`, `*STORE`, `BITOP`, `GEO… STORE`, `RESTORE`), which becomes a `DEL` of its
//! keys, since the key may have been of a kept type until then. Generic commands (`DEL`,
//! `EXPIRE`, `PERSIST`, …) are kept: on a key the target does not hold they do nothing. Commands
//! that move a key whose type they do not say (`RENAME`, `RENAMENX`, `MOVE`, `COPY`,
//! `SORT … STORE`, scripts sent verbatim), and `ZUNIONSTORE`/`ZINTERSTORE`/`ZDIFFSTORE` when
//! sorted sets are kept and sets left out (their inputs may be sets), cannot be copied exactly
//! and are refused. Commands this table does not know are taken for module commands.

use std::fmt;
use std::str::FromStr;

/// A value type, as `TYPE` names it (HyperLogLogs and bitmaps are strings, geo sets sorted
/// sets); `module` is every module type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyType {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
    Module,
}

impl KeyType {
    pub const ALL: [KeyType; 7] = [
        KeyType::String,
        KeyType::List,
        KeyType::Set,
        KeyType::ZSet,
        KeyType::Hash,
        KeyType::Stream,
        KeyType::Module,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::List => "list",
            KeyType::Set => "set",
            KeyType::ZSet => "zset",
            KeyType::Hash => "hash",
            KeyType::Stream => "stream",
            KeyType::Module => "module",
        }
    }

    /// The type of an RDB type byte (a snapshot entry's, or a `DUMP` payload's first byte);
    /// `None` for a byte that is not a value type.
    pub fn of_rdb_type(rdb_type: u8) -> Option<KeyType> {
        Some(match rdb_type {
            0 => KeyType::String,
            1 | 10 | 14 | 18 => KeyType::List,
            2 | 11 | 20 => KeyType::Set,
            3 | 5 | 12 | 17 => KeyType::ZSet,
            4 | 9 | 13 | 16 | 22..=25 => KeyType::Hash,
            15 | 19 | 21 => KeyType::Stream,
            6 | 7 => KeyType::Module,
            _ => return None,
        })
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().to_ascii_lowercase();
        KeyType::ALL
            .into_iter()
            .find(|t| t.name() == text)
            .ok_or_else(|| {
                format!(
                    "{text:?} is not a value type (one of {})",
                    KeyType::ALL.map(KeyType::name).join(", ")
                )
            })
    }
}

/// What a type filter makes of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Typed {
    Keep,
    Drop,
    /// `DEL` of the keys at these indices of the command's key list.
    Delete(Vec<usize>),
    Refuse(String),
}

/// What the filter keeping types `keeps` makes of command `name` (upper case) with arguments
/// `args`, whose keys are the arguments at `keys`.
pub(super) fn decide(
    keeps: impl Fn(KeyType) -> bool,
    name: &[u8],
    args: &[Vec<u8>],
    keys: &[usize],
) -> Typed {
    let shown = String::from_utf8_lossy(name);
    let refuse = |why: &str| {
        Typed::Refuse(format!(
            "{shown} {why}, so under --include-type/--exclude-type it cannot be copied exactly"
        ))
    };
    let every_key = || (0..keys.len()).collect::<Vec<_>>();
    match name {
        b"RENAME" | b"RENAMENX" | b"MOVE" | b"COPY" => {
            return refuse("moves a key without saying its type")
        }
        b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
            return refuse("runs a script whose writes it does not list")
        }
        b"SORT" if args.iter().any(|a| a.eq_ignore_ascii_case(b"STORE")) => {
            return refuse("stores what it reads from a key of any type")
        }
        b"RESTORE" => {
            let payload_type = args.get(3).and_then(|p| p.first()).copied();
            return match payload_type.and_then(KeyType::of_rdb_type) {
                Some(t) if keeps(t) => Typed::Keep,
                Some(_) => Typed::Delete(every_key()),
                None => refuse("restores a value of a type not known here"),
            };
        }
        _ => {}
    }
    if GENERIC.contains(&name) {
        return Typed::Keep;
    }
    let t = command_type(name);
    if keeps(t) {
        let from_sets = matches!(name, b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE");
        if from_sets && !keeps(KeyType::Set) {
            return refuse("may read sets, which the filter leaves out");
        }
        return Typed::Keep;
    }
    match name {
        // The destination first; its inputs may be of a kept type (sets into a sorted set).
        b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => Typed::Delete(vec![0]),
        _ if REPLACING.contains(&name) => Typed::Delete(every_key()),
        _ => Typed::Drop,
    }
}

/// Commands that act on a key of any type.
const GENERIC: &[&[u8]] = &[
    b"DEL",
    b"UNLINK",
    b"EXPIRE",
    b"PEXPIRE",
    b"EXPIREAT",
    b"PEXPIREAT",
    b"PERSIST",
    b"TOUCH",
];

/// Commands of a left-out type that replace whatever their key held.
const REPLACING: &[&[u8]] = &[
    b"SET",
    b"SETEX",
    b"PSETEX",
    b"MSET",
    b"BITOP",
    b"SINTERSTORE",
    b"SUNIONSTORE",
    b"SDIFFSTORE",
    b"ZRANGESTORE",
    b"GEORADIUS",
    b"GEORADIUSBYMEMBER",
    b"GEOSEARCHSTORE",
];

/// The type command `name` (upper case) writes; a command not listed is a module's.
fn command_type(name: &[u8]) -> KeyType {
    const TYPES: &[(KeyType, &[&[u8]])] = &[
        (
            KeyType::String,
            &[
                b"SET",
                b"SETNX",
                b"SETEX",
                b"PSETEX",
                b"MSET",
                b"MSETNX",
                b"APPEND",
                b"INCR",
                b"DECR",
                b"INCRBY",
                b"DECRBY",
                b"INCRBYFLOAT",
                b"SETRANGE",
                b"GETSET",
                b"GETDEL",
                b"GETEX",
                b"SETBIT",
                b"BITOP",
                b"BITFIELD",
                b"PFADD",
                b"PFMERGE",
                b"PFCOUNT",
                b"DELIFEQ",
            ],
        ),
        (
            KeyType::List,
            &[
                b"LPUSH",
                b"RPUSH",
                b"LPUSHX",
                b"RPUSHX",
                b"LPOP",
                b"RPOP",
                b"LINSERT",
                b"LSET",
                b"LREM",
                b"LTRIM",
                b"RPOPLPUSH",
                b"LMOVE",
                b"BLPOP",
                b"BRPOP",
                b"BRPOPLPUSH",
                b"BLMOVE",
                b"LMPOP",
                b"BLMPOP",
            ],
        ),
        (
            KeyType::Set,
            &[
                b"SADD",
                b"SREM",
                b"SPOP",
                b"SMOVE",
                b"SINTERSTORE",
                b"SUNIONSTORE",
                b"SDIFFSTORE",
            ],
        ),
        (
            KeyType::ZSet,
            &[
                b"ZADD",
                b"ZINCRBY",
                b"ZREM",
                b"ZREMRANGEBYSCORE",
                b"ZREMRANGEBYRANK",
                b"ZREMRANGEBYLEX",
                b"ZPOPMIN",
                b"ZPOPMAX",
                b"BZPOPMIN",
                b"BZPOPMAX",
                b"ZMPOP",
                b"BZMPOP",
                b"ZUNIONSTORE",
                b"ZINTERSTORE",
                b"ZDIFFSTORE",
                b"ZRANGESTORE",
                b"GEOADD",
                b"GEORADIUS",
                b"GEORADIUSBYMEMBER",
                b"GEOSEARCHSTORE",
            ],
        ),
        (
            KeyType::Hash,
            &[
                b"HSET",
                b"HSETNX",
                b"HMSET",
                b"HDEL",
                b"HINCRBY",
                b"HINCRBYFLOAT",
                b"HEXPIRE",
                b"HPEXPIRE",
                b"HEXPIREAT",
                b"HPEXPIREAT",
                b"HPERSIST",
                b"HGETDEL",
                b"HGETEX",
                b"HSETEX",
            ],
        ),
        (
            KeyType::Stream,
            &[
                b"XADD",
                b"XTRIM",
                b"XDEL",
                b"XGROUP",
                b"XACK",
                b"XCLAIM",
                b"XAUTOCLAIM",
                b"XSETID",
                b"XREADGROUP",
                b"XDELEX",
                b"XACKDEL",
            ],
        ),
    ];
    TYPES
        .iter()
        .find(|(_, names)| names.contains(&name))
        .map_or(KeyType::Module, |(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    /// Keeps everything but lists.
    fn no_lists(t: KeyType) -> bool {
        t != KeyType::List
    }

    #[test]
    fn a_left_out_type_is_dropped_or_deleted_where_it_replaces() {
        let d = |words: &[&str], keys: &[usize]| {
            decide(no_lists, words[0].as_bytes(), &args(words), keys)
        };
        assert_eq!(d(&["SET", "k", "v"], &[1]), Typed::Keep);
        assert_eq!(d(&["RPUSH", "k", "v"], &[1]), Typed::Drop);
        assert_eq!(d(&["DEL", "k"], &[1]), Typed::Keep);
        let strings_out = |t: KeyType| t != KeyType::String;
        let s = |words: &[&str], keys: &[usize]| {
            decide(strings_out, words[0].as_bytes(), &args(words), keys)
        };
        assert_eq!(s(&["SET", "k", "v"], &[1]), Typed::Delete(vec![0]));
        assert_eq!(
            s(&["MSET", "a", "1", "b", "2"], &[1, 3]),
            Typed::Delete(vec![0, 1])
        );
        assert_eq!(s(&["INCR", "k"], &[1]), Typed::Drop);
        assert_eq!(s(&["EXPIRE", "k", "10"], &[1]), Typed::Keep);
    }

    #[test]
    fn commands_that_hide_a_type_are_refused() {
        for words in [
            &["RENAME", "a", "b"][..],
            &["COPY", "a", "b"],
            &["SORT", "a", "STORE", "b"],
            &["EVAL", "return 1", "0"],
        ] {
            let typed = decide(no_lists, words[0].as_bytes(), &args(words), &[1]);
            assert!(matches!(typed, Typed::Refuse(_)), "{words:?}: {typed:?}");
        }
        // Sorted sets kept, sets left out: a union may read sets.
        let no_sets = |t: KeyType| t != KeyType::Set;
        let union = args(&["ZUNIONSTORE", "d", "2", "a", "b"]);
        assert!(matches!(
            decide(no_sets, b"ZUNIONSTORE", &union, &[1, 3, 4]),
            Typed::Refuse(_)
        ));
        // Sorted sets left out: only the destination goes.
        let no_zsets = |t: KeyType| t != KeyType::ZSet;
        assert_eq!(
            decide(no_zsets, b"ZUNIONSTORE", &union, &[1, 3, 4]),
            Typed::Delete(vec![0])
        );
    }

    #[test]
    fn restore_goes_by_its_payload_and_unknown_commands_by_modules() {
        let mut restore = args(&["RESTORE", "k", "0"]);
        restore.push(vec![14, 1, 2]); // a quicklist
        assert_eq!(
            decide(no_lists, b"RESTORE", &restore, &[1]),
            Typed::Delete(vec![0])
        );
        restore[3][0] = 0;
        assert_eq!(decide(no_lists, b"RESTORE", &restore, &[1]), Typed::Keep);
        let no_modules = |t: KeyType| t != KeyType::Module;
        let json = args(&["JSON.SET", "k", "$", "1"]);
        assert_eq!(decide(no_modules, b"JSON.SET", &json, &[1]), Typed::Drop);
    }

    #[test]
    fn names_parse_and_rdb_names_map() {
        assert_eq!("ZSet".parse::<KeyType>(), Ok(KeyType::ZSet));
        assert!("sortedset".parse::<KeyType>().is_err());
        assert_eq!(
            KeyType::of_rdb_type(25), // hash-listpack-ex
            Some(KeyType::Hash)
        );
        assert_eq!(KeyType::of_rdb_type(7), Some(KeyType::Module)); // module-2
        assert_eq!(KeyType::of_rdb_type(0), Some(KeyType::String));
    }
}
