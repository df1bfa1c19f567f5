//! The `DUMP`/`RESTORE` payload format: RDB type byte, object bytes, then a footer of the
//! 2-byte little-endian RDB version and the 8-byte little-endian CRC-64/Jones of everything
//! before the checksum.
//!
//! A snapshot record carries the type byte, object and RDB version separately; the consumer
//! seals them back into the payload `RESTORE` checks. The same CRC64 ends a whole RDB, where
//! the cutter checks it.

use crc::{Crc, Table, CRC_64_REDIS};

/// Bytes the footer adds after type byte and object.
pub const FOOTER_LEN: usize = 10;

/// Redis's `crc64` (CRC-64/Jones, reflected, no final xor, as in Redis `crc64.c`), slicing by
/// 16 bytes: the footer of `DUMP` payloads and the checksum at the end of an RDB.
pub(crate) static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// Redis `crc64(init, bytes)`: the CRC-64/Jones of `bytes`, continuing from `init` (0 to start;
/// the result of a previous call to continue over more bytes).
pub fn crc64(init: u64, bytes: &[u8]) -> u64 {
    // The `crc` crate takes the initial value in unreflected form and reflects it; Redis keeps
    // the register reflected, so hand it over pre-reversed to continue exactly where Redis would.
    let mut digest = CRC64.digest_with_initial(init.reverse_bits());
    digest.update(bytes);
    digest.finalize()
}

/// Builds a `RESTORE` payload from its parts.
pub fn restore_payload(rdb_type: u8, object: &[u8], rdb_version: u16) -> Vec<u8> {
    let mut payload = Vec::with_capacity(1 + object.len() + FOOTER_LEN);
    payload.push(rdb_type);
    payload.extend_from_slice(object);
    seal_payload(&mut payload, rdb_version);
    payload
}

/// Appends the footer (RDB version, CRC64) to a buffer that holds the type byte and the object,
/// turning it into a `RESTORE` payload in place, without copying the object.
pub fn seal_payload(buf: &mut Vec<u8>, rdb_version: u16) {
    buf.reserve(FOOTER_LEN);
    buf.extend_from_slice(&rdb_version.to_le_bytes());
    let crc = crc64(0, buf);
    buf.extend_from_slice(&crc.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_test_support::{RedisServer, Reply, RespClient};

    #[test]
    fn crc64_matches_redis_check_value() {
        // The check value in Redis's crc64.c self-test.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(0, b""), 0);
    }

    #[test]
    fn crc64_continues_across_calls() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = crc64(0, &data);
        for split in [0, 1, 5, 16, 17, 500, 999, 1000] {
            let (a, b) = data.split_at(split);
            assert_eq!(crc64(crc64(0, a), b), whole, "split at {split}");
        }
    }

    #[test]
    fn seal_equals_restore_payload() {
        let mut buf = vec![0u8];
        buf.extend_from_slice(b"\x05hello");
        seal_payload(&mut buf, 11);
        assert_eq!(buf, restore_payload(0, b"\x05hello", 11));
        assert_eq!(buf.len(), 1 + 6 + FOOTER_LEN);
        assert_eq!(&buf[7..9], &11u16.to_le_bytes());
        // A sealed payload's CRC over all of it is zero (residue of a reflected CRC, xorout 0).
        assert_eq!(crc64(0, &buf), 0);
    }

    fn dump(conn: &mut RespClient, key: &[u8]) -> Vec<u8> {
        match conn.raw(&[b"DUMP", key]) {
            Reply::Bulk(Some(payload)) => payload,
            other => panic!("DUMP {key:?}: {other:?}"),
        }
    }

    #[test]
    fn reproduces_real_dump_payloads() {
        let Some(server) = RedisServer::try_start(&[]) else {
            return;
        };
        let mut conn = server.resp();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let setup: [&[&[u8]]; 5] = [
            &[b"SET", b"k", b"hello"],
            &[b"SET", b"n", b"12345"],
            &[b"SET", b"big", &big],
            &[b"RPUSH", b"list", b"a", b"b", b"c"],
            &[b"HSET", b"hash", b"f1", b"v1", b"f2", b"v2"],
        ];
        for command in setup {
            assert!(!matches!(conn.raw(command), Reply::Error(_)));
        }
        for key in [&b"k"[..], b"n", b"big", b"list", b"hash"] {
            let payload = dump(&mut conn, key);
            let len = payload.len();
            assert!(len > FOOTER_LEN + 1);
            let version = u16::from_le_bytes([payload[len - 10], payload[len - 9]]);
            let rebuilt = restore_payload(payload[0], &payload[1..len - FOOTER_LEN], version);
            assert_eq!(rebuilt, payload, "key {:?}", String::from_utf8_lossy(key));

            // And the server accepts the rebuilt payload.
            let restored = conn.raw(&[b"RESTORE", b"copy", b"0", &rebuilt, b"REPLACE"]);
            assert_eq!(restored, Reply::Status("OK".into()));
            assert_eq!(dump(&mut conn, b"copy"), payload);
        }
    }
}
