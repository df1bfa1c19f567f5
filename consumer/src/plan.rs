//! How a snapshot key reaches the destination, decided in one place: skipped (expired), a pair
//! of a shared `MSET`, a `RESTORE` of its payload, or its value rewritten as commands.

use crate::expiry::passed;
use crate::target::TargetInfo;
use slotstream_rdb::elements;
use slotstream_schemas::SnapshotKey;
use std::borrow::Cow;

/// Strings up to this size may travel in an `MSET`.
const MSET_MOST_BYTES: usize = 16 << 10;

/// What to write for one snapshot key.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyPlan<'a> {
    /// Its expiry passed before it could be applied: writing it would only make the
    /// destination delete it again. Counted and skipped.
    Expired,
    /// A small string that needs nothing but setting (no TTL, no LRU/LFU hint): a pair of an
    /// `MSET` shared with its neighbours, which costs the destination a third less than a
    /// `RESTORE` each (measured on Redis 7.0). The value is decoded.
    Mset(Cow<'a, [u8]>),
    /// `RESTORE` of its payload: the destination reads the record's RDB format.
    Restore,
    /// Its value written as plain commands: the destination cannot `RESTORE` that format.
    Rewrite,
}

/// Plans `key` for `target` at `now_ms`, its expiry moved by `extension_ms` on the destination.
///
/// A string that does not decode takes the `RESTORE` path, where the destination reports a bad
/// value with its own error. `MSET`s span slots: they are for standalone destinations.
pub fn plan<'a>(
    key: &'a SnapshotKey,
    target: &TargetInfo,
    now_ms: i64,
    extension_ms: i64,
) -> KeyPlan<'a> {
    if key
        .expire_ms
        .is_some_and(|at| passed(at, extension_ms, now_ms))
    {
        return KeyPlan::Expired;
    }
    let plain = key.rdb_type == elements::TYPE_STRING
        && key.expire_ms.is_none()
        && key.idle_s.is_none()
        && key.freq.is_none()
        && key.object.len() <= MSET_MOST_BYTES;
    if plain {
        if let Ok(value) = elements::string_value(&key.object) {
            return KeyPlan::Mset(value);
        }
    }
    if target.restores(key.rdb_version) {
        KeyPlan::Restore
    } else {
        KeyPlan::Rewrite
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::parse_info;

    /// An RDB string object: length byte, then the bytes (up to 63 of them).
    fn string_object(value: &[u8]) -> Vec<u8> {
        let mut object = vec![value.len() as u8];
        object.extend_from_slice(value);
        object
    }

    fn key(rdb_type: u8, object: Vec<u8>, rdb_version: u16) -> SnapshotKey {
        SnapshotKey {
            key: b"k".to_vec(),
            rdb_type,
            object,
            rdb_version,
            expire_ms: None,
            idle_s: None,
            freq: None,
        }
    }

    /// RDB type byte of a plain set.
    const SET_TYPE: u8 = 2;

    #[test]
    fn each_key_gets_one_plan() {
        let redis7 = parse_info("redis_version:7.0.15\r\n");
        let now = 1_000_000;

        let plain = key(elements::TYPE_STRING, string_object(b"hello"), 10);
        assert_eq!(
            plan(&plain, &redis7, now, 0),
            KeyPlan::Mset(Cow::Borrowed(b"hello"))
        );

        let mut with_ttl = key(elements::TYPE_STRING, string_object(b"v"), 10);
        with_ttl.expire_ms = Some(now + 60_000);
        assert_eq!(plan(&with_ttl, &redis7, now, 0), KeyPlan::Restore);

        let mut with_hint = key(elements::TYPE_STRING, string_object(b"v"), 10);
        with_hint.idle_s = Some(5);
        assert_eq!(plan(&with_hint, &redis7, now, 0), KeyPlan::Restore);

        let mut gone = key(elements::TYPE_STRING, string_object(b"v"), 10);
        gone.expire_ms = Some(now - 1);
        assert_eq!(plan(&gone, &redis7, now, 0), KeyPlan::Expired);

        let newer = key(SET_TYPE, vec![0], 12);
        assert_eq!(plan(&newer, &redis7, now, 0), KeyPlan::Rewrite);
        let same = key(SET_TYPE, vec![0], 10);
        assert_eq!(plan(&same, &redis7, now, 0), KeyPlan::Restore);

        let undecodable = key(elements::TYPE_STRING, vec![0xff], 10);
        assert_eq!(plan(&undecodable, &redis7, now, 0), KeyPlan::Restore);
    }
}
