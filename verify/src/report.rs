//! [`VerifyReport`]: what a comparison found, as data: counts per database and kind of
//! difference, the first differing keys with the reason, and warnings. Printing it is the
//! caller's business (`slotstream verify` prints a table).

use std::collections::BTreeMap;
use std::time::Duration;

/// What kind of difference a key has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiffKind {
    MissingOnTarget,
    ExtraOnTarget,
    TypeDiffers,
    ValueDiffers,
    TtlDiffers,
}

impl DiffKind {
    /// How the kind is named in a report line.
    pub fn label(self) -> &'static str {
        match self {
            Self::MissingOnTarget => "missing on target",
            Self::ExtraOnTarget => "extra on target",
            Self::TypeDiffers => "type differs",
            Self::ValueDiffers => "value differs",
            Self::TtlDiffers => "ttl differs",
        }
    }
}

/// One difference of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub db: i64,
    /// The key, as the source (or, for an extra key, the target) holds it.
    pub key: Vec<u8>,
    pub kind: DiffKind,
    /// What differs, the source's side first: `string length 3 vs 4`, `type string vs list`,
    /// `hash field "f" value "1" vs "2"`. Members and fields in it are quoted with [`escape`].
    pub reason: String,
}

/// A weaker comparison that found nothing wrong but could not prove the key equal (a module
/// value whose `DUMP` payloads differ): not a difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub db: i64,
    pub key: Vec<u8>,
    pub reason: String,
}

/// Counts for one database.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DbCounts {
    /// Source keys compared (keys that expired before they were read are not counted).
    pub compared: u64,
    pub identical: u64,
    pub missing_on_target: u64,
    pub extra_on_target: u64,
    pub type_differs: u64,
    pub value_differs: u64,
    pub ttl_differs: u64,
    /// Keys that differ in any way (a key may have a value and a TTL difference).
    pub keys_differing: u64,
    pub warnings: u64,
}

impl DbCounts {
    /// Differences of every kind (a key may count more than once).
    pub fn differences(&self) -> u64 {
        self.missing_on_target
            + self.extra_on_target
            + self.type_differs
            + self.value_differs
            + self.ttl_differs
    }

    /// Adds another db's counts to these.
    pub fn add(&mut self, other: &DbCounts) {
        self.compared += other.compared;
        self.identical += other.identical;
        self.missing_on_target += other.missing_on_target;
        self.extra_on_target += other.extra_on_target;
        self.type_differs += other.type_differs;
        self.value_differs += other.value_differs;
        self.ttl_differs += other.ttl_differs;
        self.keys_differing += other.keys_differing;
        self.warnings += other.warnings;
    }

    fn count(&mut self, kind: DiffKind) {
        *match kind {
            DiffKind::MissingOnTarget => &mut self.missing_on_target,
            DiffKind::ExtraOnTarget => &mut self.extra_on_target,
            DiffKind::TypeDiffers => &mut self.type_differs,
            DiffKind::ValueDiffers => &mut self.value_differs,
            DiffKind::TtlDiffers => &mut self.ttl_differs,
        } += 1;
    }
}

/// The outcome: counts and the first differing keys.
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    /// `host:port` of each side.
    pub source: String,
    pub target: String,
    pub ttl_tolerance_ms: u64,
    pub ttl_extension_ms: u64,
    /// Counts per db, for every db that holds keys on either side.
    pub dbs: BTreeMap<i64, DbCounts>,
    /// The first `max_report` differences.
    pub differences: Vec<Difference>,
    /// The first `max_report` warnings (weaker comparisons, not differences).
    pub warnings: Vec<Warning>,
    /// How many differences (and warnings) are kept; the counts cover all of them.
    pub max_report: usize,
    pub elapsed: Duration,
}

impl VerifyReport {
    /// No differences at all (warnings do not count).
    pub fn is_identical(&self) -> bool {
        self.total().differences() == 0
    }

    /// The counts summed over all dbs.
    pub fn total(&self) -> DbCounts {
        let mut total = DbCounts::default();
        for counts in self.dbs.values() {
            total.add(counts);
        }
        total
    }

    /// Records the verdict on one key: no differences makes it identical.
    pub fn record_key(&mut self, db: i64, key: &[u8], diffs: Vec<(DiffKind, String)>) {
        let counts = self.dbs.entry(db).or_default();
        if diffs
            .iter()
            .all(|(kind, _)| *kind != DiffKind::ExtraOnTarget)
        {
            counts.compared += 1;
        }
        if diffs.is_empty() {
            counts.identical += 1;
            return;
        }
        counts.keys_differing += 1;
        for (kind, reason) in diffs {
            counts.count(kind);
            if self.differences.len() < self.max_report {
                self.differences.push(Difference {
                    db,
                    key: key.to_vec(),
                    kind,
                    reason,
                });
            }
        }
    }

    /// Records a warning about one key.
    pub fn record_warning(&mut self, db: i64, key: &[u8], reason: String) {
        self.dbs.entry(db).or_default().warnings += 1;
        if self.warnings.len() < self.max_report {
            self.warnings.push(Warning {
                db,
                key: key.to_vec(),
                reason,
            });
        }
    }
}

/// Renders bytes for a report: printable ASCII as is, `"` and `\` escaped, anything else as
/// `\xNN`; cut to `max_chars` with a trailing `...`.
pub fn escape(bytes: &[u8], max_chars: usize) -> String {
    let mut out = String::new();
    for &byte in bytes {
        let piece = match byte {
            b'"' => "\\\"".to_string(),
            b'\\' => "\\\\".to_string(),
            0x20..=0x7e => (byte as char).to_string(),
            _ => format!("\\x{byte:02x}"),
        };
        if out.len() + piece.len() > max_chars {
            out.push_str("...");
            break;
        }
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_quotes_binary_and_truncates() {
        assert_eq!(escape(b"a\"b\\c", 200), "a\\\"b\\\\c");
        assert_eq!(escape(&[0, 255, b'k'], 200), "\\x00\\xffk");
        let long = escape(&[b'x'; 300], 200);
        assert_eq!(long.len(), 203);
        assert!(long.ends_with("..."));
    }

    #[test]
    fn counts_and_differences_are_recorded_per_db() {
        let mut report = VerifyReport {
            max_report: 1,
            ..Default::default()
        };
        report.record_key(0, b"a", Vec::new());
        assert!(report.is_identical());
        report.record_key(
            1,
            b"b",
            vec![
                (DiffKind::ValueDiffers, "string length 1 vs 2".into()),
                (DiffKind::TtlDiffers, "ttl 5 vs none".into()),
            ],
        );
        report.record_key(1, b"c", vec![(DiffKind::ExtraOnTarget, "x".into())]);
        assert!(!report.is_identical());
        let db1 = report.dbs[&1];
        assert_eq!(
            (db1.compared, db1.keys_differing, db1.differences()),
            (1, 2, 3),
            "an extra key is not a compared source key"
        );
        assert_eq!(report.total().identical, 1);
        assert_eq!(
            report.differences,
            [Difference {
                db: 1,
                key: b"b".to_vec(),
                kind: DiffKind::ValueDiffers,
                reason: "string length 1 vs 2".into(),
            }],
            "only the first max_report differences are kept"
        );
    }
}
