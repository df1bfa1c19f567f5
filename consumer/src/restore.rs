//! Turns snapshot records into destination commands: `RESTORE key ttl payload REPLACE ABSTTL`
//! for keys, `FUNCTION LOAD REPLACE` for function libraries.

use slotstream_schemas::dump::seal_payload;
use slotstream_schemas::{Function, SnapshotKey};

/// The `RESTORE` for a snapshot key, or `None` when the key expired before it could be applied
/// (restoring it would only make the destination delete it again).
///
/// Takes the key by value: the object buffer is released as soon as the payload is built, so a
/// big value is not held twice longer than needed. Returns the key name with the command, for
/// error messages.
///
/// A key that would expire within `extension_ms` lives that long on the destination, so the
/// source's own `DEL` removes it (see [`crate::command`]).
pub fn restore_command(
    key: SnapshotKey,
    now_ms: i64,
    extension_ms: i64,
) -> Option<(Vec<u8>, redis::Cmd)> {
    if key.expire_ms.is_some_and(|at| at <= now_ms) {
        return None;
    }
    let expire_ms = key.expire_ms.map(|at| at.max(now_ms + extension_ms));
    let mut payload = Vec::with_capacity(key.object.len() + 11);
    payload.push(key.rdb_type);
    payload.extend_from_slice(&key.object);
    drop(key.object);
    seal_payload(&mut payload, key.rdb_version);

    let mut cmd = redis::cmd("RESTORE");
    cmd.arg(&key.key[..])
        .arg(expire_ms.unwrap_or(0))
        .arg(payload)
        .arg("REPLACE")
        .arg("ABSTTL");
    // The source records at most one of the two, depending on its eviction policy; the target
    // keeps whichever matches its own policy and ignores the other.
    if let Some(idle) = key.idle_s {
        cmd.arg("IDLETIME").arg(idle);
    } else if let Some(freq) = key.freq {
        cmd.arg("FREQ").arg(freq);
    }
    Some((key.key, cmd))
}

/// `FUNCTION LOAD REPLACE <code>` for a function library of the snapshot.
pub fn function_command(function: &Function) -> redis::Cmd {
    let mut cmd = redis::cmd("FUNCTION");
    cmd.arg("LOAD").arg("REPLACE").arg(&function.code[..]);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn skips_keys_that_already_expired() {
        assert!(restore_command(key(Some(999)), 1000, 0).is_none());
        assert!(restore_command(key(Some(1000)), 1000, 0).is_none());
        assert!(restore_command(key(Some(1001)), 1000, 0).is_some());
        assert!(restore_command(key(None), 1000, 0).is_some());
    }

    #[test]
    fn builds_restore_with_absolute_ttl() {
        let (name, cmd) = restore_command(key(Some(5000)), 1000, 0).unwrap();
        assert_eq!(name, b"k");
        let args: Vec<Vec<u8>> = cmd
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => bytes.to_vec(),
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(args[0], b"RESTORE");
        assert_eq!(args[1], b"k");
        assert_eq!(args[2], b"5000");
        assert_eq!(&args[3][..7], b"\x00\x05hello");
        assert_eq!(&args[3][7..9], &10u16.to_le_bytes());
        assert_eq!(args[4], b"REPLACE");
        assert_eq!(args[5], b"ABSTTL");
    }
}
