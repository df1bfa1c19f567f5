//! Parser tests on real RDB files written by each supported server version
//! (`rdb/tests/fixtures`, made by `scripts/make-rdb-fixtures.sh`), checked against the
//! DUMP payloads the same servers returned for every key.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use super::primitive::{parse_length, parse_string_header, Length, StringHeader};
use super::*;
use crate::dump::CRC64;

mod malformed;
mod synthetic;
mod throughput;

/// Every fixture RDB, as (version name, bytes).
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "rdb") {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out.sort();
    assert!(
        out.len() >= 6,
        "expected the fixtures of six or more versions"
    );
    out
}

struct Dump {
    payload: Vec<u8>,
    /// None: no TTL; Some((ms, exact)).
    expiry: Option<(i64, bool)>,
}

/// The `.dumps` file of a fixture: (db, key) -> DUMP payload and expiry.
fn dumps(name: &str) -> BTreeMap<(u32, Vec<u8>), Dump> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.dumps"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut map = BTreeMap::new();
    for line in text.lines() {
        // Split on single spaces: the empty key is an empty field.
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 4, "bad line {line:?}");
        let expiry = match f[3] {
            "-" => None,
            s => match s.strip_prefix('~') {
                Some(approx) => Some((approx.parse().unwrap(), false)),
                None => Some((s.parse().unwrap(), true)),
            },
        };
        let dump = Dump {
            payload: hex(f[2]),
            expiry,
        };
        map.insert((f[0].parse().unwrap(), hex(f[1])), dump);
    }
    map
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Parses a whole RDB; also checks that each key's object ends where the reader stands.
fn parse_all<R: Read>(inner: R, whole: &[u8]) -> Result<(RdbHeader, Vec<Entry>), RdbError> {
    let mut reader = RdbReader::new(inner);
    let header = reader.read_header()?;
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry()? {
        if let Entry::Key(k) = &entry {
            let end = reader.position() as usize;
            assert_eq!(&whole[end - k.object.len()..end], &k.object[..]);
        }
        entries.push(entry);
    }
    assert_eq!(reader.position(), whole.len() as u64);
    Ok((header, entries))
}

fn keys(entries: &[Entry]) -> impl Iterator<Item = &KeyEntry> {
    entries.iter().filter_map(|e| match e {
        Entry::Key(k) => Some(k),
        _ => None,
    })
}

/// A reader that hands out at most `step(n)` bytes per read call.
struct Trickle<'a> {
    data: &'a [u8],
    calls: usize,
    step: fn(usize) -> usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        let n = (self.step)(self.calls)
            .max(1)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn every_key_matches_the_servers_dump_payload() {
    for (name, bytes) in fixtures() {
        let (header, entries) =
            parse_all(&bytes[..], &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = dumps(&name);
        let mut seen = BTreeMap::new();
        for k in keys(&entries) {
            let id = (k.db, k.key.clone());
            let dump = expected
                .get(&id)
                .unwrap_or_else(|| panic!("{name}: key {:?} in db {} not in .dumps", k.key, k.db));
            let p = &dump.payload;
            // DUMP payload: type byte, value, 2-byte RDB version, 8-byte CRC64.
            assert_eq!(
                k.rdb_type,
                p[0],
                "{name}: type of {:?}",
                String::from_utf8_lossy(&k.key)
            );
            assert!(
                k.object[..] == p[1..p.len() - 10],
                "{name}: object of {:?} (type {}) differs from its DUMP payload",
                String::from_utf8_lossy(&k.key),
                k.rdb_type
            );
            let footer_version = u16::from_le_bytes([p[p.len() - 10], p[p.len() - 9]]);
            assert_eq!(footer_version, header.version, "{name}: DUMP version");
            let crc = u64::from_le_bytes(p[p.len() - 8..].try_into().unwrap());
            assert_eq!(
                crc,
                CRC64.checksum(&p[..p.len() - 8]),
                "{name}: DUMP checksum"
            );
            match dump.expiry {
                None => assert_eq!(k.expire_ms, None, "{name}: {:?} has no TTL", k.key),
                Some((ms, true)) => assert_eq!(k.expire_ms, Some(ms), "{name}: TTL of {:?}", k.key),
                Some((ms, false)) => {
                    let got = k
                        .expire_ms
                        .unwrap_or_else(|| panic!("{name}: TTL of {:?}", k.key));
                    assert!((got - ms).abs() < 60_000, "{name}: TTL of {:?}", k.key);
                }
            }
            assert_eq!(seen.insert(id, ()), None, "{name}: key read twice");
        }
        assert_eq!(
            seen.len(),
            expected.len(),
            "{name}: keys in .dumps missing from the RDB"
        );
        let aux: Vec<&[u8]> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Aux { key, .. } => Some(&key[..]),
                _ => None,
            })
            .collect();
        assert!(
            aux.contains(&&b"redis-ver"[..]) || aux.contains(&&b"valkey-ver"[..]),
            "{name}"
        );
    }
}

#[test]
fn fixtures_cover_the_formats_each_version_writes() {
    for (name, bytes) in fixtures() {
        let (header, entries) = parse_all(&bytes[..], &bytes).unwrap();
        let types: std::collections::BTreeSet<u8> = keys(&entries).map(|k| k.rdb_type).collect();
        let has = |t: u8| types.contains(&t);
        let functions = entries
            .iter()
            .filter(|e| matches!(e, Entry::Function { .. }))
            .count();
        let dbs: Vec<u32> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::SelectDb { db } => Some(*db),
                _ => None,
            })
            .collect();
        assert_eq!(dbs, [0, 1, 3], "{name}");
        assert!(has(0) && has(11) && has(5) && has(4), "{name}: {types:?}");
        match name.as_str() {
            "redis-5.0.10" | "redis-6.0.9" | "redis-6.2.14" => {
                assert_eq!(header.version, 9);
                assert!(
                    has(12) && has(13) && has(14) && has(15) && has(2),
                    "{name}: {types:?}"
                );
                assert_eq!(functions, 0);
            }
            _ => {
                assert!(
                    has(16) && has(17) && has(18) && functions == 1,
                    "{name}: {types:?}"
                );
            }
        }
        match name.as_str() {
            "redis-7.0.15" => assert!(header.version == 10 && has(19)),
            "valkey-8.1.8" => assert!(header.version == 11 && has(20) && has(21)),
            "redis-7.4.1" => {
                assert!(header.version == 12 && !header.valkey);
                assert!(has(7) && has(24) && has(25) && has(21), "{types:?}");
                let modules: Vec<&str> = entries
                    .iter()
                    .filter_map(|e| match e {
                        Entry::ModuleAux {
                            module, raw, bytes, ..
                        } => {
                            assert_eq!(*bytes, raw.len() as u64);
                            Some(module.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                assert!(modules.contains(&"scdtype00"), "{modules:?}");
            }
            "valkey-9.1.2" => assert!(header.version == 80 && header.valkey && has(22)),
            _ => {}
        }
        // LRU/LFU metadata where the fixture was made under such a policy.
        let idle = keys(&entries).filter(|k| k.idle_s.is_some()).count();
        let freq = keys(&entries).filter(|k| k.freq.is_some()).count();
        let total = keys(&entries).count();
        match name.as_str() {
            "redis-6.0.9" | "valkey-8.1.8" => assert!(idle == total && freq == 0, "{name}"),
            "redis-6.2.14" => assert!(freq == total && idle == 0, "{name}"),
            _ => assert!(idle == 0 && freq == 0, "{name}"),
        }
        // A key starts at its first prefix opcode, or at its type byte.
        for k in keys(&entries) {
            let first = bytes[k.offset as usize];
            let prefixed = k.expire_ms.is_some() || k.idle_s.is_some() || k.freq.is_some();
            if prefixed {
                assert!([248, 249, 252, 253].contains(&first), "{name}: {:?}", k.key);
            } else {
                assert_eq!(first, k.rdb_type, "{name}: {:?}", k.key);
            }
        }
    }
}

#[test]
fn short_reads_give_the_same_entries() {
    for (name, bytes) in fixtures() {
        let (_, expected) = parse_all(&bytes[..], &bytes).unwrap();
        let one = Trickle {
            data: &bytes,
            calls: 0,
            step: |_| 1,
        };
        let (_, got) = parse_all(one, &bytes).unwrap();
        assert!(got == expected, "{name}: 1-byte reads");
        let odd = Trickle {
            data: &bytes,
            calls: 0,
            step: |n| (n * 7919) % 23,
        };
        let (_, got) = parse_all(odd, &bytes).unwrap();
        assert!(got == expected, "{name}: uneven reads");
    }
}

#[test]
fn checksum_matches_redis_crc64() {
    assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    for (name, bytes) in fixtures() {
        let (body, stored) = bytes.split_at(bytes.len() - 8);
        let stored = u64::from_le_bytes(stored.try_into().unwrap());
        assert_ne!(stored, 0, "{name}");
        assert_eq!(CRC64.checksum(body), stored, "{name}");
    }
}

#[test]
fn a_flipped_byte_fails_the_checksum() {
    for (name, mut bytes) in fixtures() {
        let at = bytes.windows(11).position(|w| w == b"hello world").unwrap();
        bytes[at] = b'j';
        let err = parse_all(&bytes[..], &bytes).unwrap_err();
        assert!(
            matches!(err.kind, RdbErrorKind::Checksum { .. }),
            "{name}: {err}"
        );
        assert_eq!(err.offset, bytes.len() as u64 - 8, "{name}");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}

#[test]
fn truncation_anywhere_is_reported_as_truncated() {
    for (name, bytes) in fixtures() {
        for cut in (0..bytes.len())
            .step_by(13)
            .chain([bytes.len() - 1, bytes.len() - 8])
        {
            let part = &bytes[..cut];
            let mut reader = RdbReader::new(part);
            let err = loop {
                match reader.next_entry() {
                    Ok(Some(_)) => continue,
                    Ok(None) => panic!("{name}: a cut at {cut} parsed to the end"),
                    Err(e) => break e,
                }
            };
            assert!(
                matches!(err.kind, RdbErrorKind::Truncated),
                "{name} cut {cut}: {err}"
            );
            assert_eq!(err.offset, cut as u64);
            assert!(
                reader.next_entry().is_err(),
                "a failed reader keeps failing"
            );
        }
    }
}

#[test]
fn an_unknown_type_byte_is_reported_at_its_offset() {
    let (name, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "redis-7.0.15")
        .unwrap();
    let (_, entries) = parse_all(&bytes[..], &bytes).unwrap();
    let key = keys(&entries).find(|k| k.key == b"str:raw").unwrap();
    let mut patched = bytes.clone();
    assert_eq!(patched[key.offset as usize], 0, "{name}");
    patched[key.offset as usize] = 30;
    let err = parse_all(&patched[..], &patched).unwrap_err();
    assert!(matches!(err.kind, RdbErrorKind::UnknownType(30)), "{err}");
    assert_eq!(err.offset, key.offset);
    let text = err.to_string();
    assert!(text.contains("unknown RDB value type 30"), "{text}");
    assert!(text.contains(&format!("offset {}", key.offset)), "{text}");
    assert!(text.contains("does not know yet"), "{text}");
}

#[test]
fn headers_are_checked() {
    let kind = |b: &[u8]| RdbReader::new(b).read_header().map_err(|e| e.kind);
    assert!(matches!(kind(b"RADIS0009"), Err(RdbErrorKind::BadMagic)));
    assert!(matches!(
        kind(b"\0\0\0\0\0\0\0\0\0"),
        Err(RdbErrorKind::BadMagic)
    ));
    assert!(matches!(
        kind(b"REDIS0013"),
        Err(RdbErrorKind::UnsupportedVersion(_))
    ));
    assert!(matches!(
        kind(b"REDIS0000"),
        Err(RdbErrorKind::UnsupportedVersion(_))
    ));
    assert!(matches!(
        kind(b"REDIS00x9"),
        Err(RdbErrorKind::UnsupportedVersion(_))
    ));
    assert!(matches!(
        kind(b"VALKEY079"),
        Err(RdbErrorKind::UnsupportedVersion(_))
    ));
    assert!(matches!(kind(b"REDIS"), Err(RdbErrorKind::Truncated)));
    assert!(matches!(kind(b""), Err(RdbErrorKind::Truncated)));
    assert_eq!(
        kind(b"REDIS0001").unwrap(),
        RdbHeader {
            version: 1,
            valkey: false
        }
    );
    assert_eq!(
        kind(b"VALKEY080").unwrap(),
        RdbHeader {
            version: 80,
            valkey: true
        }
    );
    assert_eq!(kind(b"VALKEY081").unwrap().version, 81);
}

#[test]
fn bytes_after_the_rdb_are_handed_back() {
    let junk: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
    for (name, bytes) in fixtures() {
        let mut stream = bytes.clone();
        stream.extend_from_slice(&junk);
        // All buffered: the junk comes back from the reader's buffer.
        let mut reader = RdbReader::new(&stream[..]);
        while reader.next_entry().unwrap().is_some() {}
        assert_eq!(reader.position(), bytes.len() as u64);
        let (rest, inner) = reader.into_parts();
        assert_eq!([rest, inner.to_vec()].concat(), junk, "{name}");
        // Read one byte at a time: nothing beyond the checksum is read, so it stays in inner.
        let mut reader = RdbReader::new(Trickle {
            data: &stream,
            calls: 0,
            step: |_| 1,
        });
        while reader.next_entry().unwrap().is_some() {}
        let (rest, inner) = reader.into_parts();
        assert!(rest.is_empty(), "{name}");
        assert_eq!(inner.data, &junk[..], "{name}");
        // Uneven reads: split between the two, in order.
        let mut reader = RdbReader::new(Trickle {
            data: &stream,
            calls: 0,
            step: |n| 1 + n % 64,
        });
        while reader.next_entry().unwrap().is_some() {}
        let (rest, inner) = reader.into_parts();
        assert_eq!([rest, inner.data.to_vec()].concat(), junk, "{name}");
    }
}

#[test]
fn an_object_over_the_limit_names_its_key() {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "redis-7.4.1")
        .unwrap();
    let mut reader = RdbReader::with_limits(&bytes[..], 2000);
    let err = loop {
        match reader.next_entry() {
            Ok(Some(Entry::Key(k))) => assert!(k.object.len() <= 2000),
            Ok(Some(_)) => {}
            Ok(None) => panic!("no object over 2000 bytes"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err.kind, RdbErrorKind::ObjectTooLarge { limit: 2000, .. }),
        "{err}"
    );
    let key = err.key.clone().expect("the key is named");
    assert!(
        err.to_string()
            .contains(&String::from_utf8_lossy(&key).to_string()),
        "{err}"
    );
}

/// The container of each node of a quicklist-2 value (1 = plain, 2 = packed), walked with the
/// slice-level primitives an element decoder builds on.
fn quicklist_containers(object: &[u8]) -> Vec<u64> {
    let plain = |b: &[u8]| match parse_length(b).unwrap().unwrap() {
        (Length::Len(n), used) => (n, used),
        other => panic!("{other:?}"),
    };
    let (nodes, mut at) = plain(object);
    let mut containers = Vec::new();
    for _ in 0..nodes {
        let (container, used) = plain(&object[at..]);
        let (header, used2) = parse_string_header(&object[at + used..]).unwrap().unwrap();
        let payload = match header {
            StringHeader::Raw(n) | StringHeader::Lzf { clen: n, .. } => n as usize,
            StringHeader::Int(n) => usize::from(n),
        };
        containers.push(container);
        at += used + used2 + payload;
    }
    assert_eq!(at, object.len());
    containers
}

#[test]
fn fixtures_hold_compressed_keys_and_plain_list_nodes() {
    for (name, bytes) in fixtures() {
        let (_, entries) = parse_all(&bytes[..], &bytes).unwrap();
        let long_key = [&b"k".repeat(300)[..], b":long-compressible-key"].concat();
        assert!(keys(&entries).any(|k| k.key == long_key), "{name}");
        assert!(
            !bytes.windows(long_key.len()).any(|w| w == long_key),
            "{name}: stored LZF"
        );
        let plain_list = keys(&entries).find(|k| k.key == b"list:plain");
        if let Some(list) = plain_list {
            assert_eq!(list.rdb_type, 18, "{name}");
            let containers = quicklist_containers(&list.object);
            assert!(
                containers.contains(&1) && containers.contains(&2),
                "{name}: {containers:?}"
            );
        }
    }
}
