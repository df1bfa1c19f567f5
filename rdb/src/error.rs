//! What can go wrong while reading an RDB snapshot, with the byte offset and key an operator needs.

use std::fmt;

/// An RDB parse failure: where it happened, in which key, and what it was.
#[derive(Debug, thiserror::Error)]
pub struct RdbError {
    /// Byte offset in the RDB stream (0 = the first byte of the magic string). For
    /// [`RdbErrorKind::Truncated`] it is the number of bytes that arrived.
    pub offset: u64,
    /// The key being read, once its name was decoded.
    pub key: Option<Vec<u8>>,
    pub kind: RdbErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum RdbErrorKind {
    #[error("the transfer ended early, before the end of the snapshot")]
    Truncated,
    #[error("reading the snapshot failed: {0}")]
    Io(#[source] std::io::Error),
    #[error("the stream does not start with an RDB header (REDIS or VALKEY magic)")]
    BadMagic,
    #[error("unsupported RDB version {0}")]
    UnsupportedVersion(String),
    #[error("unknown RDB value type {0}")]
    UnknownType(u8),
    #[error("unknown RDB opcode {0}")]
    UnknownOpcode(u8),
    #[error("the snapshot is corrupt: its CRC64 checksum is {stored:#018x} but its content hashes to {computed:#018x}")]
    Checksum { stored: u64, computed: u64 },
    #[error("invalid length encoding (first byte {0:#04x})")]
    InvalidLength(u8),
    #[error("malformed RDB structure: {0}")]
    Corrupt(String),
    #[error("a value of {size} bytes or more is larger than the limit of {limit} bytes")]
    ObjectTooLarge { size: u64, limit: usize },
    #[error("unsupported RDB content: {0}")]
    Unsupported(String),
}

impl RdbError {
    pub(crate) fn new(offset: u64, kind: RdbErrorKind) -> Self {
        RdbError {
            offset,
            key: None,
            kind,
        }
    }

    /// Attaches the key being read, unless an inner step already named one.
    pub(crate) fn with_key(mut self, key: &[u8]) -> Self {
        if self.key.is_none() {
            self.key = Some(key.to_vec());
        }
        self
    }

    /// What the operator should do about this kind of failure.
    fn advice(&self) -> &'static str {
        match self.kind {
            RdbErrorKind::Truncated | RdbErrorKind::Io(_) => {
                "the connection to the source was probably lost; slotstream must start a new full sync"
            }
            RdbErrorKind::BadMagic => {
                "check that the source address points at a Redis or Valkey server and that nothing \
                 else speaks on that port"
            }
            RdbErrorKind::UnsupportedVersion(_)
            | RdbErrorKind::UnknownType(_)
            | RdbErrorKind::UnknownOpcode(_) => {
                "this server writes a format slotstream does not know yet; check the supported \
                 server versions or upgrade slotstream"
            }
            RdbErrorKind::Checksum { .. }
            | RdbErrorKind::InvalidLength(_)
            | RdbErrorKind::Corrupt(_) => {
                "the snapshot is corrupt; start a new full sync, and if it happens again check the \
                 source server (its memory, disk, or a proxy in between)"
            }
            RdbErrorKind::ObjectTooLarge { .. } => {
                "such a length is most likely corrupt (a Redis string holds at most 512 MB): start \
                 a new full sync, and if it happens again check the source server and what is \
                 between it and slotstream; if the key is real, remove or split it on the source"
            }
            RdbErrorKind::Unsupported(_) => {
                "slotstream cannot carry this content; remove it from the source or sync without it"
            }
        }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.kind, self.offset)?;
        if let Some(key) = &self.key {
            write!(f, " (key \"{}\")", DisplayKey(key))?;
        }
        write!(f, "; {}", self.advice())
    }
}

/// A key for messages: lossy UTF-8, escaped, and cut after a few hundred characters.
pub(crate) struct DisplayKey<'a>(pub &'a [u8]);

impl fmt::Display for DisplayKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 200;
        let text = String::from_utf8_lossy(self.0);
        let mut chars = text.chars();
        for c in chars.by_ref().take(MAX_CHARS) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            write!(f, "…")?;
        }
        Ok(())
    }
}
