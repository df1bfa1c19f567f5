//! What a verification compares when the copy was mapped or filtered: each source database
//! against the target database `--map-db` sent it to, and only the keys and types the filter
//! keeps (on both sides: a target key the filter would leave out is not the copy's).

use crate::side::KeyType;
use slotstream_schemas::filter::{KeyFilter, KeyType as Type};
use std::collections::{BTreeMap, BTreeSet};

/// The databases and keys a copy holds, and where each source database went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Source database → target database; unmapped databases keep their number.
    pub db_map: BTreeMap<u32, u32>,
    pub filter: KeyFilter,
}

impl Scope {
    pub fn target_db(&self, source_db: u32) -> u32 {
        self.db_map.get(&source_db).copied().unwrap_or(source_db)
    }

    pub fn keeps_key(&self, key: &[u8]) -> bool {
        self.filter.keeps_key(key)
    }

    /// Whether the copy holds values of this type (`--include-type`, `--exclude-type`).
    pub fn keeps_kind(&self, kind: &KeyType) -> bool {
        let t = match kind {
            KeyType::None => return true,
            KeyType::String => Type::String,
            KeyType::List => Type::List,
            KeyType::Set => Type::Set,
            KeyType::ZSet => Type::ZSet,
            KeyType::Hash => Type::Hash,
            KeyType::Stream => Type::Stream,
            KeyType::Other(_) => Type::Module,
        };
        self.filter.keeps_type(t)
    }

    /// The `(source db, target db)` pairs to compare, given the databases holding keys on each
    /// side: every source database the filter keeps that holds keys, or whose target database
    /// does (a target database is its own source's unless the map sends another there). A
    /// target database no kept source database goes to is not the copy's. Two source databases
    /// with keys that go to one target database are refused: their keys share it, and one's
    /// would be taken for extra keys of the other.
    pub fn pairs(
        &self,
        source: &BTreeSet<i64>,
        target: &BTreeSet<i64>,
    ) -> Result<Vec<(i64, i64)>, String> {
        let mut dbs: BTreeSet<u32> = source
            .iter()
            .filter_map(|&db| u32::try_from(db).ok())
            .collect();
        for &t in target {
            let Ok(t) = u32::try_from(t) else { continue };
            let mapped_here: Vec<u32> = self
                .db_map
                .iter()
                .filter(|(_, &to)| to == t)
                .map(|(&from, _)| from)
                .collect();
            if mapped_here.is_empty() && !self.db_map.contains_key(&t) {
                dbs.insert(t);
            }
            dbs.extend(mapped_here);
        }
        let mut pairs = Vec::new();
        let mut onto: BTreeMap<u32, u32> = BTreeMap::new();
        for db in dbs.into_iter().filter(|&db| self.filter.keeps_db(db)) {
            let to = self.target_db(db);
            if let Some(first) = onto.insert(to, db) {
                return Err(format!(
                    "source databases {first} and {db} both go to target database {to} \
                     (--map-db); verify them one at a time, mapping only one"
                ));
            }
            pairs.push((i64::from(db), i64::from(to)));
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dbs: &[i64]) -> BTreeSet<i64> {
        dbs.iter().copied().collect()
    }

    #[test]
    fn without_a_map_or_filter_every_database_is_compared_with_itself() {
        let scope = Scope::default();
        assert_eq!(
            scope.pairs(&set(&[0, 3]), &set(&[0, 7])),
            Ok(vec![(0, 0), (3, 3), (7, 7)])
        );
    }

    #[test]
    fn mapped_and_filtered_databases() {
        let scope = Scope {
            db_map: [(1, 5)].into_iter().collect(),
            filter: KeyFilter {
                exclude_db: vec![2],
                ..KeyFilter::default()
            },
        };
        // db 1 goes to 5; the target's db 1 is no source's; db 2 is left out.
        assert_eq!(
            scope.pairs(&set(&[0, 1, 2]), &set(&[0, 1, 2, 5])),
            Ok(vec![(0, 0), (1, 5)])
        );
        // The target's db 5 alone still brings source db 1 in (all its keys extra).
        assert_eq!(scope.pairs(&set(&[]), &set(&[5])), Ok(vec![(1, 5)]));
        // Source db 5 with keys would share target db 5 with db 1.
        let shared = scope.pairs(&set(&[1, 5]), &set(&[5])).unwrap_err();
        assert!(shared.contains("source databases 1 and 5"), "{shared}");
    }
}
