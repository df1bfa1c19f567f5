//! How records sit in Kafka: topic names, message keys, headers and fragments. Both sides and
//! any tool that reads the topics follow these conventions.

use slotstream_schemas::Body;

/// The compacted topic where the producer keeps its resume point for a data topic.
pub fn resume_topic(data_topic: &str) -> String {
    format!("{data_topic}.resume")
}

/// Message key of a record: its hash slot, 2 bytes big-endian.
pub fn slot_key(slot: u16) -> [u8; 2] {
    slot.to_be_bytes()
}

/// Header carrying the record's epoch as decimal text (only with `produce --kind-headers`).
pub const HEADER_EPOCH: &str = "slotstream.epoch";
/// Header carrying the body kind (`SnapshotKey`, `Command`, …), to filter without decoding
/// (only with `produce --kind-headers`).
pub const HEADER_KIND: &str = "slotstream.kind";

/// Header present on a record split over several messages: `i/n`, fragment `i` of `n`.
/// Fragments of a record are consecutive in their partition; the record's offset is its last
/// fragment's.
pub const HEADER_FRAGMENT: &str = "slotstream.fragment";

/// Largest message value written: under Kafka's default 1 MB message limits, so no broker or
/// topic setting has to change for big values.
pub const MAX_MESSAGE_BYTES: usize = 512 << 10;

/// The [`HEADER_FRAGMENT`] value of fragment `index` of `count`.
pub fn fragment_header(index: usize, count: usize) -> String {
    format!("{index}/{count}")
}

/// Reads a [`HEADER_FRAGMENT`] value: `i/n` → `(i, n)`.
pub fn parse_fragment(value: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(value).ok()?;
    let (index, count) = text.split_once('/')?;
    Some((index.parse().ok()?, count.parse().ok()?))
}

/// The body kind's name, as written in [`HEADER_KIND`].
pub fn kind_name(body: &Body) -> &'static str {
    match body {
        Body::SnapshotKey(_) => "SnapshotKey",
        Body::SnapshotChunk(_) => "SnapshotChunk",
        Body::Command(_) => "Command",
        Body::EpochBegin(_) => "EpochBegin",
        Body::SnapshotEnd(_) => "SnapshotEnd",
        Body::Barrier(_) => "Barrier",
        Body::Heartbeat(_) => "Heartbeat",
        Body::Function(_) => "Function",
        Body::Fork(_) => "Fork",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert_eq!(resume_topic("shop"), "shop.resume");
        assert_eq!(slot_key(16383), [0x3f, 0xff]);
    }

    #[test]
    fn fragment_headers_round_trip() {
        assert_eq!(
            parse_fragment(fragment_header(2, 5).as_bytes()),
            Some((2, 5))
        );
        for junk in [&b"2"[..], b"a/5", b"2/", b"\xff/1"] {
            assert_eq!(parse_fragment(junk), None, "{junk:?}");
        }
    }
}
