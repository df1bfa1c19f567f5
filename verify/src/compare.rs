//! Comparing one key's two sides once they are read: expiry times, and contents by type. Pure:
//! no server is asked anything here.

use crate::report::escape;
use crate::value::Content;
use std::cmp::Ordering;

/// Longest rendering of a member or field inside a reason.
const REASON_ITEM_CHARS: usize = 60;

/// The verdict on one key's value.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Differs(String),
    /// One side lost the key (or its type) while it was being read: check it again.
    Vanished,
    /// Only a weaker check was possible (e.g. a module type whose payloads differ); not a difference.
    Warning(String),
}

/// How the target's expiry times should relate to the source's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlRule {
    /// The target's expiry is this much later (the copy's TTL extension).
    pub extension_ms: u64,
    /// Largest accepted difference from that, in ms.
    pub tolerance_ms: u64,
}

/// Compares two absolute expiry times (Unix ms): the target's should be the source's plus the
/// extension. `now` turns them into TTLs for the reason.
pub fn compare_ttl(
    source: Option<i64>,
    target: Option<i64>,
    rule: TtlRule,
    now: i64,
) -> Option<String> {
    let remaining = |at: Option<i64>| at.map_or("none".to_string(), |at| (at - now).to_string());
    let expected = |a: i64| a.saturating_add(rule.extension_ms as i64);
    match (source, target) {
        (None, None) => None,
        (Some(a), Some(b)) if expected(a).abs_diff(b) <= rule.tolerance_ms => None,
        (Some(a), Some(b)) if rule.extension_ms == 0 => Some(format!(
            "ttl {} vs {} (expiry differs by {} ms)",
            remaining(Some(a)),
            remaining(Some(b)),
            a.abs_diff(b)
        )),
        (Some(a), Some(b)) => Some(format!(
            "ttl {} vs {} (the target's expiry should be the TTL extension, {} ms, later; it \
             is {} ms later)",
            remaining(Some(a)),
            remaining(Some(b)),
            rule.extension_ms,
            b - a
        )),
        _ => Some(format!(
            "ttl {} vs {}",
            remaining(source),
            remaining(target)
        )),
    }
}

/// Compares two values read by `crate::value`.
pub fn compare_content(source: &Content, target: &Content) -> Outcome {
    match (source, target) {
        (Content::String(a), Content::String(b)) => compare_strings(a, b),
        (Content::List(a), Content::List(b)) => compare_lists(a, b),
        (Content::Set(a), Content::Set(b)) => count_reason("set member count", a.len(), b.len())
            .unwrap_or_else(|| {
                first_missing(a, b, |x| x, "set member").map_or(Outcome::Same, Outcome::Differs)
            }),
        (Content::Hash(a), Content::Hash(b)) => count_reason("hash field count", a.len(), b.len())
            .unwrap_or_else(|| compare_pairs(a, b, "hash field", "value")),
        (Content::ZSet(a), Content::ZSet(b)) => count_reason("zset member count", a.len(), b.len())
            .unwrap_or_else(|| compare_pairs(a, b, "zset member", "score")),
        _ => Outcome::Vanished,
    }
}

fn count_reason(what: &str, a: usize, b: usize) -> Option<Outcome> {
    (a != b).then(|| Outcome::Differs(format!("{what} {a} vs {b}")))
}

fn compare_strings(a: &[u8], b: &[u8]) -> Outcome {
    if a.len() != b.len() {
        return Outcome::Differs(format!("string length {} vs {}", a.len(), b.len()));
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => Outcome::Same,
        Some(at) => Outcome::Differs(format!("string differs at byte {at} of {}", a.len())),
    }
}

fn compare_lists(a: &[Vec<u8>], b: &[Vec<u8>]) -> Outcome {
    if let Some(reason) = count_reason("list length", a.len(), b.len()) {
        return reason;
    }
    match a.iter().zip(b).position(|(x, y)| x != y) {
        None => Outcome::Same,
        Some(at) => Outcome::Differs(format!(
            "list element {at}: {} vs {}",
            item(&a[at]),
            item(&b[at])
        )),
    }
}

/// Walks two sorted sequences and names the first element found on one side only.
fn first_missing<T>(a: &[T], b: &[T], id: impl Fn(&T) -> &Vec<u8>, what: &str) -> Option<String> {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let order = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => id(x).cmp(id(y)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Equal => (i, j) = (i + 1, j + 1),
            Ordering::Less => return Some(format!("{what} {} only on source", item(id(&a[i])))),
            Ordering::Greater => return Some(format!("{what} {} only on target", item(id(&b[j])))),
        }
    }
    None
}

/// Compares two field-sorted pair lists of the same length: names a field found on one side
/// only, else the first field whose value differs.
fn compare_pairs(
    a: &[(Vec<u8>, Vec<u8>)],
    b: &[(Vec<u8>, Vec<u8>)],
    what: &str,
    value_name: &str,
) -> Outcome {
    if let Some(reason) = first_missing(a, b, |pair| &pair.0, what) {
        return Outcome::Differs(reason);
    }
    match a.iter().zip(b).find(|(x, y)| x.1 != y.1) {
        None => Outcome::Same,
        Some((x, y)) => Outcome::Differs(format!(
            "{what} {} {value_name} {} vs {}",
            item(&x.0),
            item(&x.1),
            item(&y.1)
        )),
    }
}

/// A member or field as it is named in a reason: quoted, escaped and cut short.
pub fn item(bytes: &[u8]) -> String {
    format!("\"{}\"", escape(bytes, REASON_ITEM_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        items
            .iter()
            .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn ttl_rules() {
        let exact = TtlRule {
            extension_ms: 0,
            tolerance_ms: 2000,
        };
        assert_eq!(compare_ttl(None, None, exact, 0), None);
        assert_eq!(compare_ttl(Some(10_000), Some(11_500), exact, 0), None);
        assert_eq!(
            compare_ttl(Some(1_234_567), None, exact, 0).as_deref(),
            Some("ttl 1234567 vs none")
        );
        assert!(compare_ttl(Some(0), Some(60_000), exact, 0).is_some());
        let extended = TtlRule {
            extension_ms: 10_000,
            ..exact
        };
        assert_eq!(compare_ttl(Some(10_000), Some(21_500), extended, 0), None);
        assert_eq!(
            compare_ttl(Some(10_000), Some(10_000), extended, 0).as_deref(),
            Some(
                "ttl 10000 vs 10000 (the target's expiry should be the TTL extension, 10000 ms, \
                 later; it is 0 ms later)"
            )
        );
    }

    #[test]
    fn hash_reasons() {
        let a = Content::Hash(pairs(&[("a", "1"), ("b", "2")]));
        let b = Content::Hash(pairs(&[("a", "1"), ("b", "3")]));
        assert_eq!(
            compare_content(&a, &b),
            Outcome::Differs("hash field \"b\" value \"2\" vs \"3\"".into())
        );
        let c = Content::Hash(pairs(&[("a", "1"), ("c", "2")]));
        assert_eq!(
            compare_content(&a, &c),
            Outcome::Differs("hash field \"b\" only on source".into())
        );
        let d = Content::Hash(pairs(&[("a", "1")]));
        assert_eq!(
            compare_content(&a, &d),
            Outcome::Differs("hash field count 2 vs 1".into())
        );
    }

    #[test]
    fn strings_and_missing() {
        let a = Content::String(b"abc".to_vec());
        assert_eq!(
            compare_content(&a, &Content::String(b"abc".to_vec())),
            Outcome::Same
        );
        assert_eq!(
            compare_content(&a, &Content::String(b"abd".to_vec())),
            Outcome::Differs("string differs at byte 2 of 3".into())
        );
        assert_eq!(compare_content(&a, &Content::Missing), Outcome::Vanished);
    }
}
