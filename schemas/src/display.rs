//! How keys and URLs are shown in logs and errors: escaped, truncated, never with a password.

/// Shows a key: printable ASCII as is, other bytes as `\xNN`, cut after 200 bytes.
pub fn show_key(key: &[u8]) -> String {
    let mut shown = String::with_capacity(key.len().min(200) + 2);
    shown.push('"');
    for &byte in key.iter().take(200) {
        match byte {
            b'"' | b'\\' => {
                shown.push('\\');
                shown.push(byte as char);
            }
            0x20..=0x7e => shown.push(byte as char),
            _ => shown.push_str(&format!("\\x{byte:02x}")),
        }
    }
    if key.len() > 200 {
        shown.push('…');
    }
    shown.push('"');
    shown
}

/// The URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let user = url[scheme_end + 3..at].split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_truncates_keys() {
        assert_eq!(show_key(b"user:1"), "\"user:1\"");
        assert_eq!(show_key(b"a\"b\\\x00\xff"), "\"a\\\"b\\\\\\x00\\xff\"");
        assert_eq!(show_key(&[b'k'; 300]).chars().count(), 203);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("redis://u:pw@h:1"), "redis://u:***@h:1");
        assert_eq!(redact_url("redis://:pw@h:1"), "redis://:***@h:1");
        assert_eq!(redact_url("redis://h:1"), "redis://h:1");
    }
}
