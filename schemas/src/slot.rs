//! Redis Cluster hash slots (CRC16/XMODEM of the key or its hash tag, mod 16384) and the map
//! from slots to topic partitions.
//!
//! Partitions own contiguous slot ranges: `partition = slot * P / 16384`. So a partition is a
//! slot range, and everything that shares a slot (a key and its temporary build key, a
//! checkpoint carrying the slot's hash tag) shares a partition and its order.

use crc::{Crc, Table, CRC_16_XMODEM};
use std::ops::{Range, RangeInclusive};

/// Number of hash slots in Redis Cluster.
pub const SLOTS: u16 = 16384;

/// The slot of a record that has no one slot: a barrier whose keys span slots, or that names
/// no key. Outside `0..SLOTS`.
pub const NO_SLOT: u16 = SLOTS;

/// Redis's `crc16` (CRC-16/XMODEM: poly 0x1021, init 0, not reflected), slicing by 16 bytes.
static CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_XMODEM);

/// The hash slot of `key`, as Redis Cluster computes it (`keyHashSlot`).
///
/// Hash tags: if the key has a `{`, and a `}` somewhere after the first `{`, and at least one
/// byte between them, only the bytes between that first `{` and the first `}` after it are
/// hashed. So `{user1000}.following` and `{user1000}.followers` share a slot, `foo{}{bar}`
/// hashes the whole key, and `foo{{bar}}zap` hashes `{bar`.
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) & (SLOTS - 1)
}

/// The part of `key` that is hashed: its hash tag, or the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    let after = &key[open + 1..];
    match after.iter().position(|&b| b == b'}') {
        Some(close) if close > 0 => &after[..close],
        _ => key,
    }
}

/// A short hash tag that hashes to `slot`: a key holding `{tag}` lives in that slot, on
/// whichever node owns it (per-slot checkpoints use it to share their slot's transactions).
/// The shortest such tag of lowercase letters and digits, computed once for all slots.
pub fn slot_tag(slot: u16) -> &'static str {
    static TAGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut tags = vec![String::new(); usize::from(SLOTS)];
        let mut missing = usize::from(SLOTS);
        let mut n: u64 = 0;
        while missing > 0 {
            // Base-36 digits of n, for every length in turn: "0".."z", "00".."zz", ...
            let mut tag = Vec::new();
            let mut rest = n;
            loop {
                tag.push(ALPHABET[(rest % 36) as usize]);
                rest /= 36;
                if rest == 0 {
                    break;
                }
                rest -= 1;
            }
            let slot = usize::from(key_slot(&tag));
            if tags[slot].is_empty() {
                tags[slot] = String::from_utf8_lossy(&tag).into_owned();
                missing -= 1;
            }
            n += 1;
        }
        tags
    });
    &tags[usize::from(slot & (SLOTS - 1))]
}

/// The partition that owns `slot` in a topic of `partitions` partitions: `slot * P / 16384`.
///
/// `partitions` must be at least 1. With more partitions than slots, some partitions own no
/// slot.
pub fn partition_for_slot(slot: u16, partitions: u32) -> u32 {
    // At most 16383 * (2^32 - 1) / 16384 < 2^32, so the result fits.
    (u64::from(slot) * u64::from(partitions) / u64::from(SLOTS)) as u32
}

/// The slots `partition` owns in a topic of `partitions` partitions: the contiguous range of
/// slots `s` with `partition_for_slot(s, partitions) == partition`. Empty when the partition owns
/// no slot (more partitions than slots, or `partition >= partitions`).
pub fn slots_of_partition(partition: u32, partitions: u32) -> Range<u16> {
    if partitions == 0 || partition >= partitions {
        return SLOTS..SLOTS;
    }
    // The first slot s with s * P >= p * 16384, i.e. ceil(p * 16384 / P).
    let first = |p: u32| {
        let start = (u64::from(p) * u64::from(SLOTS)).div_ceil(u64::from(partitions));
        start.min(u64::from(SLOTS)) as u16
    };
    first(partition)..first(partition + 1)
}

/// A set of slots as sorted, disjoint, inclusive ranges: what one shard of a cluster serves.
/// Shown as `0-5460,16000`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotRanges(Vec<RangeInclusive<u16>>);

impl SlotRanges {
    /// Every slot.
    pub fn all() -> SlotRanges {
        SlotRanges(vec![0..=SLOTS - 1])
    }

    /// Adds `range`, merging it with those it touches.
    pub fn push(&mut self, range: RangeInclusive<u16>) {
        if range.is_empty() {
            return;
        }
        self.0.push(range);
        self.0.sort_by_key(|r| *r.start());
        let mut merged: Vec<RangeInclusive<u16>> = Vec::with_capacity(self.0.len());
        for range in self.0.drain(..) {
            match merged.last_mut() {
                Some(last) if u32::from(*range.start()) <= u32::from(*last.end()) + 1 => {
                    *last = *last.start()..=(*last.end()).max(*range.end());
                }
                _ => merged.push(range),
            }
        }
        self.0 = merged;
    }

    /// Adds every range of `other`.
    pub fn extend(&mut self, other: &SlotRanges) {
        for range in &other.0 {
            self.push(range.clone());
        }
    }

    pub fn contains(&self, slot: u16) -> bool {
        self.0.iter().any(|r| r.contains(&slot))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The lowest slot, if any.
    pub fn first(&self) -> Option<u16> {
        self.0.first().map(|r| *r.start())
    }

    /// The slots not in the set.
    pub fn complement(&self) -> SlotRanges {
        let mut missing = SlotRanges::default();
        let mut next: u32 = 0;
        for range in &self.0 {
            if u32::from(*range.start()) > next {
                missing.push(next as u16..=*range.start() - 1);
            }
            next = u32::from(*range.end()) + 1;
        }
        if next < u32::from(SLOTS) {
            missing.push(next as u16..=SLOTS - 1);
        }
        missing
    }
}

impl std::fmt::Display for SlotRanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, range) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            if range.start() == range.end() {
                write!(f, "{}", range.start())?;
            } else {
                write!(f, "{}-{}", range.start(), range.end())?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for SlotRanges {
    type Err = String;

    /// Reads what [`Display`](std::fmt::Display) writes: `0-5460,16000`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut ranges = SlotRanges::default();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let slot = |s: &str| {
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|&n| n < SLOTS)
                    .ok_or_else(|| format!("{s:?} in {text:?} is not a slot (0-16383)"))
            };
            let (first, last) = match part.split_once('-') {
                Some((first, last)) => (slot(first)?, slot(last)?),
                None => (slot(part)?, slot(part)?),
            };
            if first > last {
                return Err(format!("{part:?} in {text:?} goes backwards"));
            }
            ranges.push(first..=last);
        }
        Ok(ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_ranges_read_back_what_they_show() {
        let ranges: SlotRanges = "0-49,100-300,16383".parse().unwrap();
        assert_eq!(ranges.to_string(), "0-49,100-300,16383");
        assert!("5-3".parse::<SlotRanges>().is_err());
        assert!("16384".parse::<SlotRanges>().is_err());
        assert!("x".parse::<SlotRanges>().is_err());
    }

    #[test]
    fn slot_ranges_merge_and_complement() {
        let mut ranges = SlotRanges::default();
        ranges.push(100..=199);
        ranges.push(0..=49);
        ranges.push(200..=300);
        ranges.push(16383..=16383);
        assert_eq!(ranges.to_string(), "0-49,100-300,16383");
        assert!(ranges.contains(150) && !ranges.contains(50) && ranges.contains(16383));
        assert_eq!(ranges.complement().to_string(), "50-99,301-16382");
        assert!(SlotRanges::all().complement().is_empty());
        assert_eq!(SlotRanges::default().complement(), SlotRanges::all());
        assert_eq!(ranges.first(), Some(0));
    }

    #[test]
    fn every_slot_has_a_short_tag_that_hashes_to_it() {
        for slot in 0..SLOTS {
            let tag = slot_tag(slot);
            assert!(!tag.is_empty() && tag.len() <= 4, "{slot}: {tag:?}");
            assert_eq!(key_slot(format!("x:{{{tag}}}:y").as_bytes()), slot);
        }
    }
    use slotstream_test_support::{RedisServer, Reply};

    #[test]
    fn crc16_matches_redis_check_value() {
        // The check value Redis's crc16.c documents.
        assert_eq!(CRC16.checksum(b"123456789"), 0x31C3);
    }

    #[test]
    fn known_slots() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b""), 0);
        assert_eq!(key_slot(b"123456789"), 0x31C3 & 0x3FFF);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(
            key_slot(b"{user1000}.following"),
            key_slot(b"{user1000}.followers")
        );
    }

    #[test]
    fn hash_tag_rules() {
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"foo{bar"), b"foo{bar");
        assert_eq!(hash_tag(b"foo}bar{"), b"foo}bar{");
        assert_eq!(hash_tag(b"}{x}"), b"x");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"{}"), b"{}");
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(
            key_slot(b"foo{}{bar}"),
            CRC16.checksum(b"foo{}{bar}") & 0x3FFF
        );
    }

    #[test]
    fn partition_map_and_slot_ranges_agree() {
        for partitions in [1u32, 2, 3, 7, 16, 64, 16384] {
            let mut owned = vec![0u32; partitions as usize];
            let mut expected_start = 0u16;
            for partition in 0..partitions {
                let range = slots_of_partition(partition, partitions);
                // Ranges tile 0..16384 in order.
                assert_eq!(range.start, expected_start, "P={partitions} p={partition}");
                expected_start = range.end;
                for slot in range {
                    assert_eq!(partition_for_slot(slot, partitions), partition);
                    owned[partition as usize] += 1;
                }
            }
            assert_eq!(expected_start, SLOTS);
            for slot in 0..SLOTS {
                let partition = partition_for_slot(slot, partitions);
                assert!(partition < partitions);
                assert!(slots_of_partition(partition, partitions).contains(&slot));
            }
            // Balanced: sizes differ by at most one.
            let (min, max) = (owned.iter().min(), owned.iter().max());
            assert!(max.zip(min).is_some_and(|(max, min)| max - min <= 1));
        }
    }

    #[test]
    fn agrees_with_cluster_keyslot() {
        let Some(server) = RedisServer::try_start(&["--cluster-enabled", "yes"]) else {
            return;
        };
        let mut conn = server.resp();
        let mut keys: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"foo".to_vec(),
            b"{user1000}.following".to_vec(),
            b"foo{}{bar}".to_vec(),
            b"foo{{bar}}zap".to_vec(),
            b"foo{bar}{zap}".to_vec(),
            b"{".to_vec(),
            b"}{x}".to_vec(),
            vec![0, 255, b'{', 0, b'}', 7],
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300usize {
            let key = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // Mostly printable, with braces and high bytes mixed in.
                    [b'{', b'}', 0xff, b'a' + (seed >> 59) as u8][(seed & 3) as usize]
                })
                .collect();
            keys.push(key);
        }
        for key in &keys {
            let reply = conn.raw(&[b"CLUSTER", b"KEYSLOT", key]);
            assert_eq!(reply, Reply::Int(i64::from(key_slot(key))), "key {key:?}");
        }
    }

    #[test]
    fn partition_edges() {
        assert_eq!(partition_for_slot(16383, 1), 0);
        assert_eq!(partition_for_slot(16383, 16), 15);
        assert_eq!(partition_for_slot(16383, u32::MAX), 16383 * (1 << 18) - 1);
        assert!(slots_of_partition(5, 5).is_empty());
        assert!(slots_of_partition(0, 0).is_empty());
        // More partitions than slots: partition 1 of 32768 owns nothing, partition 2 owns slot 1.
        assert!(slots_of_partition(1, 32768).is_empty());
        assert_eq!(slots_of_partition(2, 32768), 1..2);
    }
}
