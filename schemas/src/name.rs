//! A command or option name in upper case, on the stack: matching names is on the hot path of
//! every live command, and `to_ascii_uppercase` allocated each time. And [`decimal`], a numeric
//! argument.

/// Longest name kept; longer ones match nothing (no Redis command or option is this long).
const MAX: usize = 32;

/// An upper-cased name.
#[derive(Clone, Copy)]
pub struct Name {
    bytes: [u8; MAX],
    len: usize,
}

impl Name {
    pub fn of(name: &[u8]) -> Name {
        let mut bytes = [0u8; MAX];
        if name.len() > MAX {
            // Never equal to a real name: one byte that no name has.
            bytes[0] = 0xff;
            return Name { bytes, len: 1 };
        }
        bytes[..name.len()].copy_from_slice(name);
        bytes[..name.len()].make_ascii_uppercase();
        Name {
            bytes,
            len: name.len(),
        }
    }

    /// The name of a command given as its arguments (empty for none).
    pub fn of_command(args: &[Vec<u8>]) -> Name {
        Name::of(args.first().map(Vec::as_slice).unwrap_or_default())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// A command argument read as a decimal number (a db, a count, a time); `None` if it is not one.
pub fn decimal<T: std::str::FromStr>(arg: &[u8]) -> Option<T> {
    std::str::from_utf8(arg).ok()?.parse().ok()
}

impl std::ops::Deref for Name {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Name {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == &other[..]
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_cases_and_refuses_overlong_names() {
        assert_eq!(Name::of(b"pexpireAt").as_bytes(), b"PEXPIREAT");
        assert_eq!(Name::of(b"").as_bytes(), b"");
        assert_ne!(Name::of(&[b'a'; 40]).as_bytes(), &[b'A'; 40][..]);
        assert_eq!(
            Name::of_command(&[b"set".to_vec(), b"k".to_vec()]).as_bytes(),
            b"SET"
        );
    }
}
