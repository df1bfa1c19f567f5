//! Redis-style glob patterns for key filters (`*`, `?`, `[a-z]`, `[^a]`, `\` escapes), with a
//! prefix compare for the common `prefix*` form.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `prefix*` (also `*`, the empty prefix): a prefix compare.
    Prefix(Vec<u8>),
    /// No special character: the key itself.
    Exact(Vec<u8>),
    /// Anything else: matched as Redis's `stringmatchlen` does.
    Pattern(Vec<u8>),
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        let bytes = pattern.as_bytes();
        let special = |b: &u8| matches!(b, b'*' | b'?' | b'[' | b'\\');
        let kind = match bytes.split_last() {
            Some((b'*', head)) if !head.iter().any(special) => Kind::Prefix(head.to_vec()),
            _ if !bytes.iter().any(special) => Kind::Exact(bytes.to_vec()),
            _ => Kind::Pattern(bytes.to_vec()),
        };
        Glob {
            text: pattern.to_string(),
            kind,
        }
    }

    pub fn matches(&self, key: &[u8]) -> bool {
        match &self.kind {
            Kind::Prefix(prefix) => key.starts_with(prefix),
            Kind::Exact(exact) => key == exact.as_slice(),
            Kind::Pattern(pattern) => glob_match(pattern, key),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `pattern` against `key`; a `*` that fails to match is retried one byte further on.
fn glob_match(pattern: &[u8], key: &[u8]) -> bool {
    let (mut p, mut k) = (0, 0);
    // Where to go back to: just after the last `*`, and the key byte it would swallow next.
    let mut star: Option<(usize, usize)> = None;
    while k < key.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, k));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                k += 1;
                continue;
            }
            Some(b'[') => {
                if let Some((matched, end)) = class(pattern, p + 1, key[k]) {
                    if matched {
                        p = end;
                        k += 1;
                        continue;
                    }
                }
            }
            Some(b'\\') if p + 1 < pattern.len() && pattern[p + 1] == key[k] => {
                p += 2;
                k += 1;
                continue;
            }
            // An escape that does not match: no literal match either.
            Some(b'\\') if p + 1 < pattern.len() => {}
            Some(&literal) if literal == key[k] => {
                p += 1;
                k += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((after, swallowed)) => {
                p = after;
                k = swallowed + 1;
                star = Some((after, swallowed + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// A `[...]` class starting at `start` (just after `[`) against `byte`: whether it matched,
/// and where the pattern goes on after the `]`. `None` for a class without its `]`.
fn class(pattern: &[u8], start: usize, byte: u8) -> Option<(bool, usize)> {
    let mut i = start;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    loop {
        match pattern.get(i)? {
            b']' => break,
            b'\\' => {
                matched |= *pattern.get(i + 1)? == byte;
                i += 2;
            }
            &low if pattern.get(i + 1) == Some(&b'-')
                && pattern.get(i + 2).is_some_and(|&b| b != b']') =>
            {
                let high = pattern[i + 2];
                let (low, high) = if low <= high {
                    (low, high)
                } else {
                    (high, low)
                };
                matched |= (low..=high).contains(&byte);
                i += 3;
            }
            &b => {
                matched |= b == byte;
                i += 1;
            }
        }
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, key: &str) -> bool {
        Glob::new(pattern).matches(key.as_bytes())
    }

    #[test]
    fn prefixes_and_exact_names_take_the_short_way() {
        assert_eq!(Glob::new("user:*").kind, Kind::Prefix(b"user:".to_vec()));
        assert_eq!(Glob::new("*").kind, Kind::Prefix(Vec::new()));
        assert_eq!(Glob::new("plain").kind, Kind::Exact(b"plain".to_vec()));
        assert!(m("user:*", "user:1") && m("user:*", "user:") && !m("user:*", "users"));
        assert!(m("*", "") && m("*", "anything"));
        assert!(m("plain", "plain") && !m("plain", "plainer"));
    }

    #[test]
    fn patterns_match_as_redis_does() {
        assert!(m("a*b", "ab") && m("a*b", "axxb") && !m("a*b", "axxbc"));
        assert!(m("*:2", "x:y:2") && !m("*:2", "x:y:3"));
        assert!(m("h?llo", "hello") && m("h?llo", "hallo") && !m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hello") && !m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"), "a reversed range");
        assert!(m(r"a\*b", "a*b") && !m(r"a\*b", "axb"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxcxxbxxa"));
        assert!(!m("a[", "a["), "a class without its ] matches nothing");
        assert!(m("a**", "a") && m("**", ""));
    }
}
