//! `slotstream check`: what a copy needs of its source and its target, each item judged pass,
//! warn or fail with what to do, before anything is written. The items are in
//! [`source`] and [`target`]; this module holds the verdicts and how they are printed.
//! [`preflight`] runs them before the first write of `sync`, `produce` and `consume`.

pub mod preflight;
pub mod source;
pub mod target;

use std::fmt;
use std::process::ExitCode;

/// How an item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        })
    }
}

/// One item checked: what was found and, unless it passed, what to do.
#[derive(Debug, Clone)]
pub struct Item {
    pub verdict: Verdict,
    pub name: &'static str,
    pub found: String,
    pub advice: String,
}

impl Item {
    pub fn pass(name: &'static str, found: impl Into<String>) -> Item {
        Item {
            verdict: Verdict::Pass,
            name,
            found: found.into(),
            advice: String::new(),
        }
    }

    pub fn warn(name: &'static str, found: impl Into<String>, advice: impl Into<String>) -> Item {
        Item {
            verdict: Verdict::Warn,
            name,
            found: found.into(),
            advice: advice.into(),
        }
    }

    pub fn fail(name: &'static str, found: impl Into<String>, advice: impl Into<String>) -> Item {
        Item {
            verdict: Verdict::Fail,
            name,
            found: found.into(),
            advice: advice.into(),
        }
    }
}

/// The items of one side (`source 127.0.0.1:6379`).
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub items: Vec<Item>,
}

/// Every side checked.
#[derive(Debug, Default)]
pub struct Report {
    pub sections: Vec<Section>,
}

impl Report {
    /// The worst verdict of all.
    pub fn worst(&self) -> Verdict {
        self.sections
            .iter()
            .flat_map(|s| s.items.iter().map(|i| i.verdict))
            .max()
            .unwrap_or(Verdict::Pass)
    }

    /// 0 when every item passed, 1 on any failure, 2 on warnings only.
    pub fn exit_code(&self) -> ExitCode {
        match self.worst() {
            Verdict::Pass => ExitCode::SUCCESS,
            Verdict::Fail => ExitCode::from(1),
            Verdict::Warn => ExitCode::from(2),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for section in &self.sections {
            writeln!(f, "{}", section.title)?;
            for item in &section.items {
                writeln!(f, "  {:<4}  {:<20} {}", item.verdict, item.name, item.found)?;
                if !item.advice.is_empty() {
                    writeln!(f, "        {:<20} → {}", "", item.advice)?;
                }
            }
        }
        let count = |v: Verdict| {
            self.sections
                .iter()
                .flat_map(|s| &s.items)
                .filter(|i| i.verdict == v)
                .count()
        };
        write!(
            f,
            "{} passed, {} warnings, {} failed",
            count(Verdict::Pass),
            count(Verdict::Warn),
            count(Verdict::Fail)
        )
    }
}

/// A number of bytes for people: `512 KB`, `3.2 MB`, `1.5 GB`.
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.0} KB", n / 1e3)
    }
}

/// `field:value` from an `INFO` reply.
pub fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        line.trim()
            .strip_prefix(field)
            .and_then(|rest| rest.strip_prefix(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(verdicts: &[Verdict]) -> Report {
        Report {
            sections: vec![Section {
                title: "x".into(),
                items: verdicts
                    .iter()
                    .map(|&verdict| Item {
                        verdict,
                        name: "n",
                        found: String::new(),
                        advice: String::new(),
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn the_worst_item_decides_the_exit_code() {
        assert_eq!(report(&[Verdict::Pass]).worst(), Verdict::Pass);
        assert_eq!(
            report(&[Verdict::Pass, Verdict::Warn]).worst(),
            Verdict::Warn
        );
        assert_eq!(
            report(&[Verdict::Warn, Verdict::Fail, Verdict::Pass]).worst(),
            Verdict::Fail
        );
    }

    #[test]
    fn reads_info_fields() {
        let info = "# Memory\r\nused_memory:1024\r\nused_memory_rss:2048\r\n";
        assert_eq!(info_field(info, "used_memory"), Some("1024"));
        assert_eq!(info_field(info, "maxmemory"), None);
    }
}
