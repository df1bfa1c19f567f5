//! Turns snapshot records into destination commands: `RESTORE key ttl payload REPLACE ABSTTL`
//! for keys, `FUNCTION LOAD REPLACE` for function libraries.

use crate::expiry::{on_target, write_hpexpireat};
use crate::wire::Commands;
use slotstream_rdb::dump::{crc64, FOOTER_LEN};
use slotstream_rdb::elements::{self, Batch, DecodeError};
use slotstream_schemas::{Function, SnapshotKey};
use std::collections::BTreeMap;

/// Writes the `RESTORE` for a snapshot key into `out`, or returns `false` when the key expired
/// (its expiry moved by the extension) before it could be applied: restoring it would only make
/// the destination delete it again.
///
/// The payload (type byte, object, RDB version, CRC64) is written straight into the batch, so
/// a value is copied once on its way from the record to the socket.
///
/// Its expiry is written `extension_ms` later (see [`crate::expiry`]).
pub fn write_restore(
    out: &mut Commands,
    key: &SnapshotKey,
    now_ms: i64,
    extension_ms: i64,
) -> bool {
    let expire_ms = key.expire_ms.map(|at| on_target(at, extension_ms));
    if expire_ms.is_some_and(|at| at <= now_ms) {
        return false;
    }
    // The source records at most one of the two, depending on its eviction policy; the target
    // keeps whichever matches its own policy and ignores the other.
    let hint = match (key.idle_s, key.freq) {
        (Some(idle), _) => Some((&b"IDLETIME"[..], idle as i64)),
        (None, Some(freq)) => Some((&b"FREQ"[..], freq as i64)),
        (None, None) => None,
    };
    out.command(if hint.is_some() { 8 } else { 6 });
    out.arg(b"RESTORE");
    out.arg(&key.key);
    out.arg_int(expire_ms.unwrap_or(0));
    out.bulk_start(1 + key.object.len() + FOOTER_LEN);
    let start = out.bytes().len();
    out.bulk_piece(&[key.rdb_type]);
    out.bulk_piece(&key.object);
    out.bulk_piece(&key.rdb_version.to_le_bytes());
    // One pass over what was just written: the checksum covers everything before it.
    let crc = crc64(0, &out.bytes()[start..]);
    out.bulk_piece(&crc.to_le_bytes());
    out.bulk_end();
    out.arg(b"REPLACE");
    out.arg(b"ABSTTL");
    if let Some((name, value)) = hint {
        out.arg(name);
        out.arg_int(value);
    }
    true
}

/// Fields per `HPEXPIREAT` written by [`write_field_expiries`].
const FIELDS_PER_COMMAND: usize = 1000;

/// After the `RESTORE` of a hash with field TTLs: `HPEXPIREAT` of each field that has one,
/// `extension_ms` later than in the payload (which the destination restored as it was), so
/// fields get the TTL extension as keys do. Fields of one expiry time share a command.
pub fn write_field_expiries(
    out: &mut Commands,
    key: &SnapshotKey,
    extension_ms: i64,
) -> Result<(), DecodeError> {
    let mut by_time: BTreeMap<i64, Vec<Vec<u8>>> = BTreeMap::new();
    elements::for_each_batch::<DecodeError>(
        key.rdb_type,
        &key.object,
        key.rdb_version,
        FIELDS_PER_COMMAND,
        |batch| {
            if let Batch::Hash(fields) = batch {
                for field in fields {
                    if let Some(at) = field.expire_ms {
                        by_time.entry(at).or_default().push(field.field);
                    }
                }
            }
            Ok(())
        },
    )?;
    for (at, fields) in by_time {
        for group in fields.chunks(FIELDS_PER_COMMAND) {
            let at = on_target(at, extension_ms);
            write_hpexpireat(out, &key.key, at, group.iter().map(Vec::as_slice));
        }
    }
    Ok(())
}

/// `FUNCTION LOAD REPLACE <code>` for a function library of the snapshot.
pub fn function_command(function: &Function) -> redis::Cmd {
    let mut cmd = redis::cmd("FUNCTION");
    cmd.arg("LOAD").arg("REPLACE").arg(&function.code[..]);
    cmd
}

/// A library's name from its code's first line (`#!lua name=mylib`), for messages.
pub fn library_name(code: &[u8]) -> String {
    let first = code.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(first);
    match text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("name="))
    {
        Some(name) => format!("<function library {name}>"),
        None => "<function library>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode;
    use slotstream_rdb::dump::restore_payload;

    fn key(expire_ms: Option<i64>) -> SnapshotKey {
        SnapshotKey {
            key: b"k".to_vec(),
            rdb_type: 0,
            object: b"\x05hello".to_vec(),
            rdb_version: 10,
            expire_ms,
            idle_s: None,
            freq: None,
        }
    }

    fn restored(key: &SnapshotKey, now_ms: i64) -> Option<Vec<Vec<u8>>> {
        let mut out = Commands::default();
        write_restore(&mut out, key, now_ms, 0).then(|| decode(&mut out).remove(0))
    }

    #[test]
    fn names_a_library_by_its_shebang() {
        assert_eq!(
            library_name(b"#!lua name=mylib\nredis.register_function('f', ...)"),
            "<function library mylib>"
        );
        assert_eq!(library_name(b"return 1"), "<function library>");
    }

    #[test]
    fn skips_keys_that_already_expired() {
        assert!(restored(&key(Some(999)), 1000).is_none());
        assert!(restored(&key(Some(1000)), 1000).is_none());
        assert!(restored(&key(Some(1001)), 1000).is_some());
        assert!(restored(&key(None), 1000).is_some());
    }

    #[test]
    fn expiry_moves_by_the_extension_and_is_skipped_only_past_it() {
        let mut out = Commands::default();
        assert!(write_restore(&mut out, &key(Some(999)), 1000, 2000));
        assert_eq!(decode(&mut out).remove(0)[2], b"2999");
        let mut none = Commands::default();
        assert!(!write_restore(&mut none, &key(Some(999)), 2999, 2000));
        assert!(none.is_empty());
    }

    #[test]
    fn builds_restore_with_absolute_ttl_and_a_sealed_payload() {
        let args = restored(&key(Some(5000)), 1000).unwrap();
        assert_eq!(args[0], b"RESTORE");
        assert_eq!(args[1], b"k");
        assert_eq!(args[2], b"5000");
        assert_eq!(args[3], restore_payload(0, b"\x05hello", 10));
        assert_eq!(args[4], b"REPLACE");
        assert_eq!(args[5], b"ABSTTL");
        assert_eq!(args.len(), 6);
    }

    #[test]
    fn passes_idle_time_or_frequency() {
        let mut idle = key(None);
        idle.idle_s = Some(42);
        assert_eq!(
            restored(&idle, 0).unwrap()[6..],
            [b"IDLETIME".to_vec(), b"42".to_vec()]
        );
        let mut freq = key(None);
        freq.freq = Some(7);
        assert_eq!(
            restored(&freq, 0).unwrap()[6..],
            [b"FREQ".to_vec(), b"7".to_vec()]
        );
    }
}
