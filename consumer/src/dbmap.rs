//! `--map-db SRC=DST`: which destination database receives each source database's keys.
//!
//! The map applies to where records are written (the batch's `SELECT`) and to the database
//! numbers inside replicated commands (`SELECT`, `SWAPDB`, `MOVE`, `COPY … DB`). Checkpoints keep
//! the *source's* database, which is what a resumed replication stream continues from. A
//! database that is not mapped keeps its number; two source databases mapped onto one merge.

use slotstream_schemas::record::{Body, Command, Element, Record};
use std::collections::BTreeMap;
use std::fmt;

/// Source database → destination database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbMap(BTreeMap<u32, u32>);

/// A `--map-db` value that is not `SRC=DST` with two database numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--map-db {given:?}: expected SRC=DST with two database numbers (0-65535), e.g. 3=0")]
pub struct BadDbMapping {
    pub given: String,
}

impl DbMap {
    /// Parses `SRC=DST` pairs; a source database given twice keeps its last mapping.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<DbMap, BadDbMapping> {
        pairs.iter().map(|pair| parse_pair(pair.as_ref())).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The destination database of source database `db`.
    pub fn db(&self, db: u32) -> u32 {
        self.0.get(&db).copied().unwrap_or(db)
    }

    /// Maps where `record` is written and the databases its commands name; returns the
    /// source's database, which the checkpoint keeps.
    pub fn record(&self, record: &mut Record) -> u32 {
        let source_db = record.db;
        if self.is_empty() {
            return source_db;
        }
        record.db = self.db(source_db);
        match &mut record.body {
            Body::Command(command) => self.command(command),
            Body::Barrier(barrier) => barrier.commands.iter_mut().for_each(|c| self.command(c)),
            _ => {}
        }
        source_db
    }

    /// Rewrites the database numbers a replicated command names.
    pub fn command(&self, command: &mut Command) {
        if self.is_empty() || command.args.is_empty() {
            return;
        }
        let name = command.args[0].0.to_ascii_uppercase();
        let positions: Vec<usize> = match name.as_slice() {
            b"SELECT" => vec![1],
            b"SWAPDB" => vec![1, 2],
            b"MOVE" => vec![2],
            // COPY source destination [DB n] [REPLACE]
            b"COPY" => (3..command.args.len())
                .filter(|&i| command.args[i].0.eq_ignore_ascii_case(b"DB"))
                .map(|i| i + 1)
                .collect(),
            _ => return,
        };
        for i in positions {
            let Some(arg) = command.args.get_mut(i) else {
                continue;
            };
            if let Some(db) = std::str::from_utf8(&arg.0)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
            {
                *arg = Element(self.db(db).to_string().into_bytes());
            }
        }
    }
}

/// One `SRC=DST` pair.
pub fn parse_pair(pair: &str) -> Result<(u32, u32), BadDbMapping> {
    let bad = || BadDbMapping {
        given: pair.to_string(),
    };
    let (from, to) = pair.split_once('=').ok_or_else(bad)?;
    let number = |s: &str| s.trim().parse::<u16>().map(u32::from).map_err(|_| bad());
    Ok((number(from)?, number(to)?))
}

impl FromIterator<(u32, u32)> for DbMap {
    fn from_iter<I: IntoIterator<Item = (u32, u32)>>(pairs: I) -> Self {
        DbMap(pairs.into_iter().collect())
    }
}

impl fmt::Display for DbMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|(s, d)| format!("{s}={d}")).collect();
        f.write_str(&pairs.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(parts: &[&str]) -> Command {
        Command {
            args: parts
                .iter()
                .map(|p| Element(p.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn mapped(map: &DbMap, parts: &[&str]) -> Vec<String> {
        let mut command = command(parts);
        map.command(&mut command);
        command
            .args
            .iter()
            .map(|a| String::from_utf8_lossy(&a.0).into_owned())
            .collect()
    }

    #[test]
    fn parses_pairs_and_refuses_the_rest() {
        let map = DbMap::parse(&["3=0", " 5 = 1 "]).unwrap();
        assert_eq!((map.db(3), map.db(5), map.db(0), map.db(7)), (0, 1, 0, 7));
        assert_eq!(map.to_string(), "3=0,5=1");
        for bad in ["3", "a=0", "3=", "3=0=1", "70000=0", "-1=0"] {
            let error = DbMap::parse(&[bad]).unwrap_err();
            assert_eq!(error.given, bad);
            assert!(error.to_string().contains("SRC=DST"), "{error}");
        }
    }

    #[test]
    fn database_numbers_inside_commands_follow_the_map() {
        let map = DbMap::parse(&["3=0", "4=2"]).unwrap();
        assert_eq!(mapped(&map, &["select", "3"]), ["select", "0"]);
        assert_eq!(mapped(&map, &["SWAPDB", "4", "1"]), ["SWAPDB", "2", "1"]);
        assert_eq!(mapped(&map, &["MOVE", "k", "3"]), ["MOVE", "k", "0"]);
        assert_eq!(
            mapped(&map, &["COPY", "a", "b", "DB", "4", "REPLACE"]),
            ["COPY", "a", "b", "DB", "2", "REPLACE"]
        );
        // Keys and values that look like numbers are left alone.
        assert_eq!(mapped(&map, &["SET", "3", "3"]), ["SET", "3", "3"]);
        assert_eq!(mapped(&map, &["COPY", "3", "4"]), ["COPY", "3", "4"]);
    }
}
