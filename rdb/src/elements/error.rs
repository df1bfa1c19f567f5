//! What can be wrong with an object that is decoded into elements, and where.

/// Why an object could not be decoded. Offsets count bytes from the start of the object (the
/// byte after the RDB type byte), except inside [`DecodeError::Within`], whose inner error
/// counts from the start of the embedded structure (after LZF decompression, if it was
/// compressed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("RDB type {rdb_type} is not a value type known at RDB version {rdb_version}")]
    UnknownType { rdb_type: u8, rdb_version: u16 },
    #[error("RDB type {rdb_type} ({what}) cannot be decoded into elements")]
    Unsupported { rdb_type: u8, what: &'static str },
    #[error("{what} at offset {offset} runs past the end ({})", shortfall(*.needed, *.left))]
    Truncated {
        what: &'static str,
        offset: usize,
        /// Bytes it takes, 0 when unknown (a header cut short before its size shows).
        needed: u64,
        left: usize,
    },
    #[error("invalid {what} at offset {offset}: {detail}")]
    Invalid {
        what: &'static str,
        offset: usize,
        detail: String,
    },
    #[error("{count} unexpected bytes after the end of the {what}, at offset {offset}")]
    Trailing {
        what: &'static str,
        offset: usize,
        count: usize,
    },
    #[error("in the {container} stored at offset {offset}{note}: {inner}", note = compressed_note(*.compressed))]
    Within {
        container: &'static str,
        offset: usize,
        compressed: bool,
        inner: Box<DecodeError>,
    },
}

fn shortfall(needed: u64, left: usize) -> String {
    match needed {
        0 => format!("only {left} bytes left"),
        n => format!("{n} bytes needed, {left} left"),
    }
}

fn compressed_note(compressed: bool) -> &'static str {
    if compressed {
        " (LZF-compressed; offsets below count decompressed bytes)"
    } else {
        ""
    }
}

impl DecodeError {
    pub(crate) fn invalid(what: &'static str, offset: usize, detail: impl Into<String>) -> Self {
        DecodeError::Invalid {
            what,
            offset,
            detail: detail.into(),
        }
    }

    pub(crate) fn truncated(what: &'static str, offset: usize, needed: u64, left: usize) -> Self {
        DecodeError::Truncated {
            what,
            offset,
            needed,
            left,
        }
    }
}
