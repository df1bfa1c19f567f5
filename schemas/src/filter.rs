//! Which databases, keys and value types of the source a copy holds (`--include-db`,
//! `--exclude-db`, `--include-key`, `--exclude-key`, `--include-type`, `--exclude-type`), for
//! snapshot entries and live commands alike (types: [`by_type`]).
//!
//! Filtering happens where it saves the most for the commands that have it: on the capture
//! side, so left-out keys never reach the log (a topic holds what its filter keeps; a topic
//! for several destinations with different filters is one topic per filter). A multi-key
//! command some of whose keys are left out keeps the others where that is exact (`DEL`,
//! `UNLINK`, `TOUCH`, `MSET`); any other, and a command that moves data across the database
//! filter (`MOVE`, `SWAPDB`, `COPY … DB`), is refused ([`Decision::Refuse`]): the router stops,
//! naming it, or leaves it out with a warning when asked to (`leave_out_refused`).

mod by_type;

pub use by_type::KeyType;

use crate::glob::Glob;
use by_type::Typed;

/// The databases and keys to capture; the default keeps everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only these databases (empty: every one).
    pub include_db: Vec<u32>,
    pub exclude_db: Vec<u32>,
    /// Only keys matching one of these (empty: every key).
    pub include_key: Vec<Glob>,
    pub exclude_key: Vec<Glob>,
    /// Only values of these types (empty: every type).
    pub include_type: Vec<KeyType>,
    pub exclude_type: Vec<KeyType>,
    /// A command the filter cannot cut exactly is left out with a warning instead of stopping
    /// the capture (`--on-unsupported skip-with-warning`).
    pub leave_out_refused: bool,
}

/// What becomes of one replicated command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Captured, as given or cut to the kept keys.
    Keep(Vec<Vec<u8>>),
    /// Nothing of it is kept.
    Drop,
    /// It cannot be cut exactly: why, for the error.
    Refuse(String),
}

/// What a filter keeps of one command's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    All,
    Nothing,
    /// The command rewritten with the kept keys only (it means exactly that on them).
    Rewritten(Vec<Vec<u8>>),
    /// Some keys kept, and the command cannot be cut to them: the names left out, for errors.
    Partly {
        left_out: Vec<Vec<u8>>,
    },
}

impl KeyFilter {
    /// Whether the filter keeps everything (then it costs nothing per key).
    pub fn keeps_all(&self) -> bool {
        self.include_db.is_empty()
            && self.exclude_db.is_empty()
            && self.include_key.is_empty()
            && self.exclude_key.is_empty()
            && self.keeps_every_type()
    }

    fn keeps_every_type(&self) -> bool {
        self.include_type.is_empty() && self.exclude_type.is_empty()
    }

    pub fn keeps_type(&self, t: KeyType) -> bool {
        (self.include_type.is_empty() || self.include_type.contains(&t))
            && !self.exclude_type.contains(&t)
    }

    /// What to capture of command `args` (named `name`, upper case) run in database `db`;
    /// `keys` finds its key arguments.
    pub fn replicated<E>(
        &self,
        name: &[u8],
        db: u32,
        args: Vec<Vec<u8>>,
        keys: impl FnOnce(&[Vec<u8>]) -> Result<Vec<usize>, E>,
    ) -> Result<Decision, E> {
        let db_arg =
            |i: usize| -> Option<u32> { std::str::from_utf8(args.get(i)?).ok()?.parse().ok() };
        let across = |to: Option<u32>| match to {
            Some(to) if self.keeps_db(db) == self.keeps_db(to) => None,
            _ => Some(format!(
                "{} moves data between database {db} and one the filter {} (--include-db, \
                 --exclude-db)",
                String::from_utf8_lossy(name),
                if self.keeps_db(db) {
                    "leaves out"
                } else {
                    "keeps"
                }
            )),
        };
        match name {
            // Not bound to a database or a key.
            b"SELECT" | b"FLUSHALL" | b"SCRIPT" | b"FUNCTION" | b"PUBLISH" | b"SPUBLISH" => {
                return Ok(Decision::Keep(args))
            }
            b"SWAPDB" => {
                let (a, b) = (db_arg(1), db_arg(2));
                return Ok(match (a, b) {
                    (Some(a), Some(b)) if self.keeps_db(a) && self.keeps_db(b) => {
                        Decision::Keep(args)
                    }
                    (Some(a), Some(b)) if !self.keeps_db(a) && !self.keeps_db(b) => Decision::Drop,
                    _ => Decision::Refuse(
                        "SWAPDB swaps a database the filter keeps with one it leaves out \
                         (--include-db, --exclude-db)"
                            .into(),
                    ),
                });
            }
            b"MOVE" => {
                if let Some(why) = across(db_arg(2)) {
                    return Ok(Decision::Refuse(why));
                }
            }
            b"COPY" => {
                let to = args
                    .iter()
                    .position(|a| a.eq_ignore_ascii_case(b"DB"))
                    .map_or(Some(db), |i| db_arg(i + 1));
                if let Some(why) = across(to) {
                    return Ok(Decision::Refuse(why));
                }
            }
            _ => {}
        }
        if !self.keeps_db(db) {
            return Ok(Decision::Drop);
        }
        if self.include_key.is_empty() && self.exclude_key.is_empty() && self.keeps_every_type() {
            return Ok(Decision::Keep(args));
        }
        let mut keys = keys(&args)?;
        let mut args = args;
        let mut name: &[u8] = name;
        if !self.keeps_every_type() {
            match by_type::decide(|t| self.keeps_type(t), name, &args, &keys) {
                Typed::Keep => {}
                Typed::Drop => return Ok(Decision::Drop),
                Typed::Refuse(why) => return Ok(Decision::Refuse(why)),
                Typed::Delete(which) => {
                    let mut del = vec![b"DEL".to_vec()];
                    del.extend(
                        which
                            .iter()
                            .filter_map(|&k| keys.get(k))
                            .filter_map(|&i| args.get(i).cloned()),
                    );
                    keys = (1..del.len()).collect();
                    args = del;
                    name = b"DEL";
                }
            }
        }
        Ok(match self.command(name, &args, &keys) {
            Kept::All => Decision::Keep(args),
            Kept::Nothing => Decision::Drop,
            Kept::Rewritten(args) => Decision::Keep(args),
            Kept::Partly { left_out } => Decision::Refuse(format!(
                "{} touches keys the filter keeps and keys it leaves out ({}), and its effect on \
                 the kept ones depends on the others; widen --include-key/--exclude-key to take \
                 them together",
                String::from_utf8_lossy(name),
                left_out
                    .iter()
                    .take(3)
                    .map(|k| crate::display::show_key(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        })
    }

    pub fn keeps_db(&self, db: u32) -> bool {
        (self.include_db.is_empty() || self.include_db.contains(&db))
            && !self.exclude_db.contains(&db)
    }

    pub fn keeps_key(&self, key: &[u8]) -> bool {
        (self.include_key.is_empty() || self.include_key.iter().any(|g| g.matches(key)))
            && !self.exclude_key.iter().any(|g| g.matches(key))
    }

    pub fn keeps(&self, db: u32, key: &[u8]) -> bool {
        self.keeps_db(db) && self.keeps_key(key)
    }

    /// Whether a snapshot entry of RDB type byte `rdb_type` is kept.
    pub fn keeps_entry(&self, db: u32, key: &[u8], rdb_type: u8) -> bool {
        self.keeps(db, key)
            && (self.keeps_every_type()
                || KeyType::of_rdb_type(rdb_type).is_some_and(|t| self.keeps_type(t)))
    }

    /// What to keep of `args` (command `name`, its keys at `keys`) in a kept database.
    fn command(&self, name: &[u8], args: &[Vec<u8>], keys: &[usize]) -> Kept {
        if self.include_key.is_empty() && self.exclude_key.is_empty() {
            return Kept::All;
        }
        let kept: Vec<bool> = keys.iter().map(|&i| self.keeps_key(&args[i])).collect();
        if kept.iter().all(|&k| k) {
            return Kept::All;
        }
        if !kept.iter().any(|&k| k) {
            return Kept::Nothing;
        }
        let left_out: Vec<Vec<u8>> = keys
            .iter()
            .zip(&kept)
            .filter(|(_, &k)| !k)
            .map(|(&i, _)| args[i].clone())
            .collect();
        let step = match name {
            b"DEL" | b"UNLINK" | b"TOUCH" => 1,
            b"MSET" => 2,
            _ => return Kept::Partly { left_out },
        };
        let mut rewritten = vec![args[0].clone()];
        for chunk in args[1..].chunks(step) {
            if self.keeps_key(&chunk[0]) {
                rewritten.extend(chunk.iter().cloned());
            }
        }
        Kept::Rewritten(rewritten)
    }

    /// One line for logs: what is captured.
    pub fn describe(&self) -> String {
        let globs = |g: &[Glob]| g.iter().map(Glob::as_str).collect::<Vec<_>>().join(" ");
        let mut parts = Vec::new();
        if !self.include_db.is_empty() {
            parts.push(format!("databases {:?}", self.include_db));
        }
        if !self.exclude_db.is_empty() {
            parts.push(format!("not databases {:?}", self.exclude_db));
        }
        if !self.include_key.is_empty() {
            parts.push(format!("keys {}", globs(&self.include_key)));
        }
        if !self.exclude_key.is_empty() {
            parts.push(format!("not keys {}", globs(&self.exclude_key)));
        }
        let types = |t: &[KeyType]| t.iter().map(|t| t.name()).collect::<Vec<_>>().join(" ");
        if !self.include_type.is_empty() {
            parts.push(format!("types {}", types(&self.include_type)));
        }
        if !self.exclude_type.is_empty() {
            parts.push(format!("not types {}", types(&self.exclude_type)));
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter() -> KeyFilter {
        KeyFilter {
            include_db: vec![],
            exclude_db: vec![2],
            include_key: vec![Glob::new("keep:*")],
            exclude_key: vec![Glob::new("keep:secret*")],
            ..KeyFilter::default()
        }
    }

    fn decide(f: &KeyFilter, db: u32, words: &[&str], keys: &[usize]) -> Decision {
        let args = args(words);
        let keys = keys.to_vec();
        f.replicated::<()>(words[0].as_bytes(), db, args, |_| Ok(keys))
            .unwrap()
    }

    #[test]
    fn commands_across_the_database_filter_are_refused() {
        let f = filter();
        let refused = |d: Decision| matches!(d, Decision::Refuse(_));
        assert_eq!(decide(&f, 2, &["SET", "keep:1", "v"], &[1]), Decision::Drop);
        assert!(refused(decide(&f, 0, &["MOVE", "keep:1", "2"], &[1])));
        assert!(refused(decide(&f, 2, &["MOVE", "keep:1", "0"], &[1])));
        assert_eq!(
            decide(&f, 0, &["MOVE", "keep:1", "3"], &[1]),
            Decision::Keep(args(&["MOVE", "keep:1", "3"]))
        );
        assert!(refused(decide(&f, 0, &["SWAPDB", "0", "2"], &[])));
        assert_eq!(decide(&f, 0, &["SWAPDB", "2", "2"], &[]), Decision::Drop);
        assert!(refused(decide(
            &f,
            0,
            &["COPY", "keep:1", "keep:2", "DB", "2"],
            &[1, 2]
        )));
        assert_eq!(
            decide(&f, 2, &["FLUSHALL"], &[]),
            Decision::Keep(args(&["FLUSHALL"]))
        );
        assert!(refused(decide(
            &f,
            0,
            &["RENAME", "keep:1", "gone"],
            &[1, 2]
        )));
    }

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    #[test]
    fn databases_and_keys() {
        let f = filter();
        assert!(f.keeps(0, b"keep:1") && f.keeps(3, b"keep:1"));
        assert!(!f.keeps(2, b"keep:1"), "an excluded database");
        assert!(!f.keeps(0, b"other") && !f.keeps(0, b"keep:secret:1"));
        let only = KeyFilter {
            include_db: vec![1],
            ..KeyFilter::default()
        };
        assert!(only.keeps(1, b"x") && !only.keeps(0, b"x"));
        assert!(KeyFilter::default().keeps_all() && !f.keeps_all());
    }

    #[test]
    fn a_left_out_type_s_replacing_command_deletes_its_kept_keys_only() {
        let f = KeyFilter {
            exclude_type: vec![KeyType::String],
            ..filter()
        };
        assert_eq!(
            decide(&f, 0, &["MSET", "keep:1", "a", "other", "b"], &[1, 3]),
            Decision::Keep(args(&["DEL", "keep:1"]))
        );
        assert_eq!(decide(&f, 0, &["INCR", "keep:1"], &[1]), Decision::Drop);
        assert_eq!(
            decide(&f, 0, &["SADD", "keep:1", "m"], &[1]),
            Decision::Keep(args(&["SADD", "keep:1", "m"]))
        );
        assert!(f.keeps_entry(0, b"keep:1", 20)); // set-listpack
        assert!(!f.keeps_entry(0, b"keep:1", 0)); // string
        assert!(f.describe().contains("not types string"));
    }

    #[test]
    fn multi_key_commands_keep_the_kept_keys_where_that_is_exact() {
        let f = filter();
        let cut = |words: &[&str], keys: &[usize]| {
            let args = args(words);
            f.command(&args[0].clone(), &args, keys)
        };
        assert_eq!(cut(&["SET", "keep:1", "v"], &[1]), Kept::All);
        assert_eq!(cut(&["SET", "other", "v"], &[1]), Kept::Nothing);
        assert_eq!(
            cut(&["DEL", "keep:1", "other", "keep:2"], &[1, 2, 3]),
            Kept::Rewritten(args(&["DEL", "keep:1", "keep:2"]))
        );
        assert_eq!(
            cut(&["MSET", "other", "a", "keep:1", "b"], &[1, 3]),
            Kept::Rewritten(args(&["MSET", "keep:1", "b"]))
        );
        assert_eq!(
            cut(&["RENAME", "keep:1", "other"], &[1, 2]),
            Kept::Partly {
                left_out: args(&["other"])
            }
        );
    }
}
