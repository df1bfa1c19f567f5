//! The verify report: per-db counts, the first differing keys, and how it prints.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Longest key rendering in the report, in characters.
const KEY_CHARS: usize = 200;

/// What kind of difference a key has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    MissingOnTarget,
    ExtraOnTarget,
    TypeDiffers,
    ValueDiffers,
    TtlDiffers,
}

impl DiffKind {
    fn label(self) -> &'static str {
        match self {
            Self::MissingOnTarget => "missing on target",
            Self::ExtraOnTarget => "extra on target",
            Self::TypeDiffers => "type differs",
            Self::ValueDiffers => "value differs",
            Self::TtlDiffers => "ttl differs",
        }
    }
}

/// One difference, as listed in the report.
#[derive(Debug, Clone)]
pub struct Difference {
    pub db: i64,
    /// The key, escaped and truncated (see [`escape`]).
    pub key: String,
    pub kind: DiffKind,
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
    pub fn differences(&self) -> u64 {
        self.missing_on_target
            + self.extra_on_target
            + self.type_differs
            + self.value_differs
            + self.ttl_differs
    }

    fn add(&mut self, other: &DbCounts) {
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
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// `host:port` of each side.
    pub source: String,
    pub target: String,
    pub ttl_tolerance_ms: u64,
    /// Counts per db, for every db that holds keys on either side.
    pub dbs: BTreeMap<i64, DbCounts>,
    /// The first `max_report` differences.
    pub differences: Vec<Difference>,
    /// The first `max_report` warnings (weaker comparisons, not differences).
    pub warnings: Vec<Difference>,
    pub max_report: usize,
    pub elapsed: Duration,
}

impl VerifyReport {
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
                    key: escape(key, KEY_CHARS),
                    kind,
                    reason,
                });
            }
        }
    }

    pub fn record_warning(&mut self, db: i64, key: &[u8], reason: String) {
        self.dbs.entry(db).or_default().warnings += 1;
        if self.warnings.len() < self.max_report {
            self.warnings.push(Difference {
                db,
                key: escape(key, KEY_CHARS),
                kind: DiffKind::ValueDiffers,
                reason,
            });
        }
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        writeln!(
            f,
            "verify: source {} vs target {} (ttl tolerance {} ms), {:.1} s",
            self.source,
            self.target,
            self.ttl_tolerance_ms,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            f,
            "{:>5} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6} {:>6}",
            "db", "keys", "identical", "missing", "extra", "type", "value", "ttl"
        )?;
        let rows = self.dbs.iter().map(|(db, c)| (db.to_string(), c));
        let total_row = (self.dbs.len() > 1).then(|| ("all".to_string(), &total));
        for (db, c) in rows.chain(total_row) {
            writeln!(
                f,
                "{:>5} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6} {:>6}",
                db,
                c.compared,
                c.identical,
                c.missing_on_target,
                c.extra_on_target,
                c.type_differs,
                c.value_differs,
                c.ttl_differs
            )?;
        }
        if !self.differences.is_empty() {
            writeln!(
                f,
                "differences (first {} of {}):",
                self.differences.len(),
                total.differences()
            )?;
            for d in &self.differences {
                writeln!(
                    f,
                    "  db {} \"{}\": {}: {}",
                    d.db,
                    d.key,
                    d.kind.label(),
                    d.reason
                )?;
            }
        }
        if !self.warnings.is_empty() {
            writeln!(
                f,
                "warnings (first {} of {}):",
                self.warnings.len(),
                total.warnings
            )?;
            for w in &self.warnings {
                writeln!(f, "  db {} \"{}\": {}", w.db, w.key, w.reason)?;
            }
        }
        if self.is_identical() {
            let dbs = self.dbs.values().filter(|c| c.compared > 0).count();
            write!(
                f,
                "verify: identical ({} keys in {dbs} dbs)",
                total.compared
            )
        } else {
            write!(
                f,
                "verify: {} differences in {} keys",
                total.differences(),
                total.keys_differing
            )
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
    fn last_line_names_the_outcome() {
        let mut report = VerifyReport {
            max_report: 10,
            ..Default::default()
        };
        report.record_key(0, b"a", Vec::new());
        assert!(report.is_identical());
        assert!(report
            .to_string()
            .ends_with("verify: identical (1 keys in 1 dbs)"));
        report.record_key(
            1,
            b"b",
            vec![
                (DiffKind::ValueDiffers, "string length 1 vs 2".into()),
                (DiffKind::TtlDiffers, "ttl 5 vs none".into()),
            ],
        );
        let text = report.to_string();
        assert!(!report.is_identical());
        assert!(text.contains("db 1 \"b\": value differs: string length 1 vs 2"));
        assert!(text.ends_with("verify: 2 differences in 1 keys"));
    }
}
