//! Parser tests on hand-built RDBs, for what the fixture servers never write: types and
//! opcodes of older or release-candidate formats, every length form, and malformed input.

use crate::dump::CRC64;
use crate::types::module_name;
use crate::*;

/// Builds an RDB byte by byte.
pub(super) struct Rdb(pub(super) Vec<u8>);

pub(super) fn len(n: u64) -> Vec<u8> {
    match n {
        0..=63 => vec![n as u8],
        64..=16383 => vec![0x40 | (n >> 8) as u8, n as u8],
        16384..=0xffff_ffff => [&[0x80][..], &(n as u32).to_be_bytes()].concat(),
        _ => [&[0x81][..], &n.to_be_bytes()].concat(),
    }
}

pub(super) fn string(s: &[u8]) -> Vec<u8> {
    [len(s.len() as u64), s.to_vec()].concat()
}

impl Rdb {
    pub(super) fn new(magic: &[u8; 9]) -> Self {
        Rdb(magic.to_vec())
    }
    pub(super) fn put(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    pub(super) fn at(&self) -> u64 {
        self.0.len() as u64
    }
    /// EOF opcode and the CRC64 of everything before the checksum.
    pub(super) fn end(mut self) -> Vec<u8> {
        self.0.push(255);
        let crc = CRC64.checksum(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        self.0
    }
}

pub(super) fn read_all(bytes: &[u8]) -> Result<Vec<Entry>, RdbError> {
    let mut reader = RdbReader::new(bytes);
    let mut out = Vec::new();
    while let Some(e) = reader.next_entry()? {
        out.push(e);
    }
    Ok(out)
}

fn only_key(bytes: &[u8]) -> KeyEntry {
    read_all(bytes)
        .unwrap()
        .into_iter()
        .find_map(|e| match e {
            Entry::Key(k) => Some(k),
            _ => None,
        })
        .unwrap()
}

/// "abc" repeated 10 times, LZF-compressed: a literal "abc", then a 27-byte back reference.
fn lzf_abc() -> Vec<u8> {
    let compressed = [2, b'a', b'b', b'c', 0xe0, 25 - 7, 2];
    [&[0xc3][..], &len(7), &len(30), &compressed].concat()
}

#[test]
fn types_of_old_servers() {
    let list = [len(2), string(b"a"), vec![0xc0, 0x05]].concat();
    let zset = [len(4), string(b"m"), vec![3], b"1.5".to_vec()].concat();
    let zset = [
        zset,
        string(b"n"),
        vec![253],
        string(b"o"),
        vec![254],
        string(b"p"),
        vec![255],
    ]
    .concat();
    let zipmap = string(b"\x02\x01a\x01\x00b\xff");
    let rdb = Rdb::new(b"REDIS0006")
        .put(&[253])
        .put(&1_700_000_000i32.to_le_bytes())
        .put(&[1])
        .put(&string(b"list"))
        .put(&list)
        .put(&[3])
        .put(&string(b"zset"))
        .put(&zset)
        .put(&[9])
        .put(&string(b"zipmap"))
        .put(&zipmap)
        .put(&[10])
        .put(&string(b"ziplist"))
        .put(&zipmap)
        .end();
    let keys: Vec<KeyEntry> = read_all(&rdb)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Key(k) => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(keys.len(), 4);
    assert_eq!((keys[0].rdb_type, &keys[0].object), (1, &list));
    assert_eq!(keys[0].expire_ms, Some(1_700_000_000_000));
    assert_eq!(keys[0].offset, 9);
    assert_eq!((keys[1].rdb_type, &keys[1].object), (3, &zset));
    assert_eq!(keys[1].expire_ms, None);
    assert_eq!((keys[2].rdb_type, &keys[2].object), (9, &zipmap));
    assert_eq!((keys[3].rdb_type, &keys[3].object), (10, &zipmap));
}

#[test]
fn every_length_form_and_string_encoding() {
    let long_key = vec![b'k'; 100]; // 14-bit length
    let big_value = vec![b'v'; 70_000]; // 32-bit length
    let wide = [vec![0x81], 3u64.to_be_bytes().to_vec(), b"abc".to_vec()].concat(); // 64-bit form
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&string(&long_key))
        .put(&string(&big_value))
        .put(&[0])
        .put(&wide)
        .put(&wide)
        .put(&[0])
        .put(&lzf_abc())
        .put(&lzf_abc())
        .put(&[0, 0xc0, 0xff, 0xc1, 0x39, 0x30])
        .put(&[0, 0xc2])
        .put(&i32::MIN.to_le_bytes())
        .put(&[0xc2, 1, 0, 0, 0])
        .end();
    let entries = read_all(&rdb).unwrap();
    let keys: Vec<&KeyEntry> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Key(k) => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(keys[0].key, long_key);
    assert_eq!(keys[0].object, string(&big_value));
    assert_eq!((&keys[1].key[..], &keys[1].object), (&b"abc"[..], &wide));
    assert_eq!(keys[2].key, b"abc".repeat(10));
    assert_eq!(keys[2].object, lzf_abc(), "values stay compressed");
    assert_eq!(
        (&keys[3].key[..], &keys[3].object[..]),
        (&b"-1"[..], &[0xc1, 0x39, 0x30][..])
    );
    assert_eq!(keys[4].key, b"-2147483648");
}

#[test]
fn metadata_entries() {
    let module_id = module_id("scdtype00", 3);
    let aux_data = [len(module_id), len(2), len(2), len(5), lzf_abc(), len(0)];
    let aux_data: Vec<u8> = aux_data.concat();
    let rdb = Rdb::new(b"REDIS0012")
        .put(&[250])
        .put(&string(b"redis-ver"))
        .put(&lzf_abc())
        .put(&[247])
        .put(&aux_data)
        .put(&[245])
        .put(&lzf_abc())
        .put(&[254, 0x02, 251, 0x05, 0x01, 244])
        .put(&len(16383))
        .put(&[0x03, 0x00])
        .end();
    let entries = read_all(&rdb).unwrap();
    let abc = b"abc".repeat(10);
    assert_eq!(
        entries,
        vec![
            Entry::Aux {
                key: b"redis-ver".to_vec(),
                value: abc.clone()
            },
            Entry::ModuleAux {
                module: "scdtype00".into(),
                when: 2,
                bytes: aux_data.len() as u64,
                raw: aux_data.clone()
            },
            Entry::Function { code: abc },
            Entry::SelectDb { db: 2 },
            Entry::ResizeDb {
                keys: 5,
                expires: 1
            },
            Entry::SlotInfo {
                slot: 16383,
                keys: 3,
                expires: 0
            },
        ]
    );
}

/// A module type id: 9 name characters of 6 bits each, then a 10-bit encoding version.
fn module_id(name: &str, version: u64) -> u64 {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id = name.bytes().fold(0u64, |id, c| {
        (id << 6) | CHARSET.iter().position(|&x| x == c).unwrap() as u64
    });
    (id << 10) | version
}

#[test]
fn module_values_are_cut_by_their_opcodes() {
    assert_eq!(module_name(module_id("ReJSON-RL", 3)), "ReJSON-RL");
    assert_eq!(module_name(module_id("MBbloom--", 0)), "MBbloom--");
    let value = [
        len(module_id("TSDB-TYPE", 7)),
        vec![1],
        len(1 << 40),
        vec![2, 0x05, 3],
        1.5f32.to_le_bytes().to_vec(),
        vec![4],
        2.5f64.to_le_bytes().to_vec(),
        vec![5],
        lzf_abc(),
        vec![0],
    ]
    .concat();
    let rdb = Rdb::new(b"REDIS0012")
        .put(&[7])
        .put(&string(b"ts"))
        .put(&value)
        .end();
    assert_eq!(only_key(&rdb).object, value);

    let bad = [len(module_id("TSDB-TYPE", 7)), vec![9, 0]].concat();
    let rdb = Rdb::new(b"REDIS0012")
        .put(&[7])
        .put(&string(b"ts"))
        .put(&bad)
        .end();
    let err = read_all(&rdb).unwrap_err();
    assert!(matches!(err.kind, RdbErrorKind::Corrupt(_)), "{err}");
    assert_eq!(err.key.as_deref(), Some(&b"ts"[..]));
}

#[test]
fn hash_field_ttl_types_depend_on_the_magic() {
    let metadata = [
        len(2),
        len(0),
        string(b"f"),
        string(b"v"),
        len(9),
        string(b"g"),
        string(b"w"),
    ]
    .concat();
    let blob = string(b"listpack bytes");
    let min_expire = 1_800_000_000_000u64.to_le_bytes();
    let redis = Rdb::new(b"REDIS0012")
        .put(&[22])
        .put(&string(b"pre-ga-ht"))
        .put(&metadata)
        .put(&[23])
        .put(&string(b"pre-ga-lp"))
        .put(&blob)
        .put(&[24])
        .put(&string(b"ht"))
        .put(&min_expire)
        .put(&metadata)
        .put(&[25])
        .put(&string(b"lp"))
        .put(&min_expire)
        .put(&blob)
        .end();
    let objects: Vec<(u8, Vec<u8>)> = read_all(&redis)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Key(k) => Some((k.rdb_type, k.object)),
            _ => None,
        })
        .collect();
    assert_eq!(
        objects,
        vec![
            (22, metadata.clone()),
            (23, blob.clone()),
            (24, [&min_expire[..], &metadata].concat()),
            (25, [&min_expire[..], &blob].concat()),
        ]
    );

    let hash2 = [
        len(1),
        string(b"f"),
        string(b"v"),
        (-1i64).to_le_bytes().to_vec(),
    ]
    .concat();
    let valkey = Rdb::new(b"VALKEY080")
        .put(&[243])
        .put(&string(&[b'j'; 40]))
        .put(&[len(2), len(0), len(100), len(200), len(16383)].concat())
        .put(&[22])
        .put(&string(b"h"))
        .put(&hash2);
    let at = valkey.at();
    let valkey = valkey.put(&[23]).put(&string(b"path")).put(&blob).end();
    let mut reader = RdbReader::new(&valkey[..]);
    assert_eq!(
        reader.read_header().unwrap(),
        RdbHeader {
            version: 80,
            valkey: true
        }
    );
    match reader.next_entry().unwrap() {
        Some(Entry::Key(k)) => assert_eq!((k.rdb_type, k.object), (22, hash2)),
        other => panic!("{other:?}"),
    }
    let err = reader.next_entry().unwrap_err();
    assert!(matches!(err.kind, RdbErrorKind::UnknownType(23)), "{err}");
    assert_eq!(err.offset, at);
}

#[test]
fn prefix_opcodes_set_the_key_offset() {
    let rdb = Rdb::new(b"REDIS0009")
        .put(&[0])
        .put(&string(b"a"))
        .put(&string(b"1"));
    let at = rdb.at();
    let rdb = rdb
        .put(&[248])
        .put(&len(1000))
        .put(&[249, 7, 252])
        .put(&(-5i64).to_le_bytes())
        .put(&[0])
        .put(&string(b"b"))
        .put(&string(b"2"))
        .end();
    let keys: Vec<KeyEntry> = read_all(&rdb)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Key(k) => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(
        (
            keys[0].offset,
            keys[0].idle_s,
            keys[0].freq,
            keys[0].expire_ms
        ),
        (9, None, None, None)
    );
    assert_eq!(
        (
            keys[1].offset,
            keys[1].idle_s,
            keys[1].freq,
            keys[1].expire_ms
        ),
        (at, Some(1000), Some(7), Some(-5))
    );
}
