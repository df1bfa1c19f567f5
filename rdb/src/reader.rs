//! The RDB reader: reads the header, then turns the opcode stream into [`Entry`] values, one
//! per call, holding at most one key's value in memory.

use std::io::Read;

use crate::chunk::{Cutting, DEFAULT_CHUNK_BYTES};
use crate::error::{RdbError, RdbErrorKind};
use crate::input::Input;
use crate::object::is_stream;
use crate::object::{copy_module_data, copy_prefix, copy_stream_tail, cut_value, is_chunkable};
use crate::types::*;

/// Default for the largest key, value or decoded string the reader accepts.
pub const DEFAULT_MAX_OBJECT_BYTES: usize = 1 << 30;

/// What the 9-byte header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdbHeader {
    /// RDB format version: 1..=12 after "REDIS", 80 and up after "VALKEY".
    pub version: u16,
    /// The header said VALKEY: type 22 is Valkey's hash with field TTLs.
    pub valkey: bool,
}

/// One item of the snapshot, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Metadata such as `redis-ver`, `repl-id`, `repl-offset`, `ctime`.
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// The keys that follow belong to this database.
    SelectDb {
        db: u32,
    },
    /// Size hint for the current database.
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    Key(KeyEntry),
    /// A part of a value too big for one entry (see `chunk`).
    Chunk(ChunkEntry),
    /// A function library (its source code, with its `#!engine name=` first line).
    Function {
        code: Vec<u8>,
    },
    /// Data a module keeps outside the keyspace (e.g. RediSearch index definitions).
    ModuleAux {
        /// The 9-character module type name, e.g. "scdtype00".
        module: String,
        /// When the module saved it: 1 before the keys, 2 after them.
        when: u64,
        /// `raw.len()`.
        bytes: u64,
        /// Every byte after the opcode, up to and including the module EOF marker.
        raw: Vec<u8>,
    },
    /// Cluster mode: key counts of the slot whose keys follow.
    SlotInfo {
        slot: u64,
        keys: u64,
        expires: u64,
    },
}

/// One key and its value, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The database of the last SELECTDB (0 before any).
    pub db: u32,
    /// The key name, decoded (int-encoded names as decimal text, LZF decompressed).
    pub key: Vec<u8>,
    /// The value's type byte.
    pub rdb_type: u8,
    /// The value exactly as in the RDB: the body of a DUMP payload for this key.
    pub object: Vec<u8>,
    /// Absolute expiry in Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (written under an LRU eviction policy).
    pub idle_s: Option<u64>,
    /// LFU counter (written under an LFU eviction policy).
    pub freq: Option<u8>,
    /// Offset of the key's first byte: its first EXPIRETIME/IDLE/FREQ opcode, or its type.
    pub offset: u64,
}

/// A part of a big value: a standalone value of its type holding a run of its elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkEntry {
    pub db: u32,
    pub key: Vec<u8>,
    pub rdb_type: u8,
    /// 0 for the first part, counting up.
    pub seq: u32,
    /// The key's last part.
    pub last: bool,
    pub object: Vec<u8>,
    pub expire_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body,
    Done,
    Failed,
}

/// Attributes read from the opcodes that precede a key.
#[derive(Default)]
struct Pending {
    start: Option<u64>,
    expire_ms: Option<i64>,
    idle_s: Option<u64>,
    freq: Option<u8>,
}

/// A streaming RDB parser over any reader (a socket, a file, a slice).
pub struct RdbReader<R: Read> {
    input: Input<R>,
    state: State,
    header: RdbHeader,
    db: u32,
    pending: Pending,
    /// Values that grow past this many bytes are handed over in chunks.
    chunk_bytes: usize,
    /// The big value being handed over, if any.
    cutting: Option<Cutting>,
}

impl<R: Read> RdbReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limits(inner, DEFAULT_MAX_OBJECT_BYTES)
    }

    /// A reader that refuses any key, value or decoded string over `max_object_bytes`.
    pub fn with_limits(inner: R, max_object_bytes: usize) -> Self {
        RdbReader {
            input: Input::new(inner, max_object_bytes),
            state: State::Header,
            header: RdbHeader {
                version: 0,
                valkey: false,
            },
            db: 0,
            pending: Pending::default(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            cutting: None,
        }
    }

    /// Values of the types that can be cut (see `chunk`) that grow past `bytes` are handed over
    /// as [`Entry::Chunk`]s of about that size.
    pub fn set_chunk_bytes(&mut self, bytes: usize) {
        self.chunk_bytes = bytes.max(1);
    }

    /// Bytes of the RDB consumed so far.
    pub fn position(&self) -> u64 {
        self.input.position()
    }

    /// After the end: the bytes that were read from `inner` beyond the RDB's last byte (the
    /// reader reads ahead in large chunks), and the inner reader.
    pub fn into_parts(self) -> (Vec<u8>, R) {
        self.input.into_parts()
    }

    /// Reads and checks the 9-byte header ("REDIS0001".."REDIS0012", "VALKEY080" and later).
    /// Calling it again returns the header already read.
    pub fn read_header(&mut self) -> Result<RdbHeader, RdbError> {
        match self.state {
            State::Header => {}
            State::Body | State::Done => return Ok(self.header),
            State::Failed => return Err(self.failed()),
        }
        let result = self.parse_header();
        match result {
            Ok(header) => {
                self.header = header;
                self.state = State::Body;
            }
            Err(_) => self.state = State::Failed,
        }
        result
    }

    fn parse_header(&mut self) -> Result<RdbHeader, RdbError> {
        let magic: [u8; 9] = self.input.read_array()?;
        let bad = |kind| RdbError::new(0, kind);
        let (digits, valkey) = if let Some(d) = magic.strip_prefix(b"REDIS") {
            (d, false)
        } else if let Some(d) = magic.strip_prefix(b"VALKEY") {
            (d, true)
        } else {
            return Err(bad(RdbErrorKind::BadMagic));
        };
        let shown = String::from_utf8_lossy(&magic).escape_debug().to_string();
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad(RdbErrorKind::UnsupportedVersion(shown)));
        }
        let version = digits
            .iter()
            .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
        let known = if valkey {
            version >= 80
        } else {
            (1..=12).contains(&version)
        };
        if !known {
            return Err(bad(RdbErrorKind::UnsupportedVersion(format!(
                "{shown} (slotstream reads REDIS0001 to REDIS0012 and VALKEY080 and later)"
            ))));
        }
        Ok(RdbHeader { version, valkey })
    }

    /// The next entry, or `None` once the EOF opcode and the checksum have been read and
    /// checked. After an error the reader is unusable and keeps failing.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, RdbError> {
        match self.state {
            State::Header => {
                self.read_header()?;
            }
            State::Body => {}
            State::Done => return Ok(None),
            State::Failed => return Err(self.failed()),
        }
        let result = match self.cutting.take() {
            Some(cutting) => self.next_chunk(cutting).map(Some),
            None => self.read_entry(),
        };
        match &result {
            Ok(None) => self.state = State::Done,
            Ok(Some(_)) => {}
            Err(_) => self.state = State::Failed,
        }
        result
    }

    /// What every call returns after a failure: the stream position is no longer known.
    fn failed(&self) -> RdbError {
        self.input.error(RdbErrorKind::Corrupt(
            "the reader already failed on an earlier error".into(),
        ))
    }

    fn read_entry(&mut self) -> Result<Option<Entry>, RdbError> {
        let valkey = self.header.valkey;
        loop {
            let at = self.input.position();
            let byte = self.input.read_u8()?;
            match byte {
                OPCODE_EXPIRETIME_MS => {
                    self.pending.start.get_or_insert(at);
                    self.pending.expire_ms = Some(i64::from_le_bytes(self.input.read_array()?));
                }
                OPCODE_EXPIRETIME => {
                    self.pending.start.get_or_insert(at);
                    let secs = i32::from_le_bytes(self.input.read_array()?);
                    self.pending.expire_ms = Some(i64::from(secs) * 1000);
                }
                OPCODE_IDLE => {
                    self.pending.start.get_or_insert(at);
                    self.pending.idle_s = Some(self.input.read_length()?);
                }
                OPCODE_FREQ => {
                    self.pending.start.get_or_insert(at);
                    self.pending.freq = Some(self.input.read_u8()?);
                }
                OPCODE_AUX => {
                    let key = self.input.read_string()?;
                    let value = self.input.read_string().map_err(|e| e.with_key(&key))?;
                    return Ok(Some(Entry::Aux { key, value }));
                }
                OPCODE_SELECTDB => {
                    let db = self.input.read_length()?;
                    self.db = u32::try_from(db).map_err(|_| {
                        RdbError::new(at, RdbErrorKind::Corrupt(format!("database number {db}")))
                    })?;
                    return Ok(Some(Entry::SelectDb { db: self.db }));
                }
                OPCODE_RESIZEDB => {
                    let keys = self.input.read_length()?;
                    let expires = self.input.read_length()?;
                    return Ok(Some(Entry::ResizeDb { keys, expires }));
                }
                OPCODE_SLOT_INFO => {
                    let slot = self.input.read_length()?;
                    let keys = self.input.read_length()?;
                    let expires = self.input.read_length()?;
                    return Ok(Some(Entry::SlotInfo {
                        slot,
                        keys,
                        expires,
                    }));
                }
                OPCODE_SLOT_IMPORT if valkey => self.skip_slot_import()?,
                OPCODE_FUNCTION2 => {
                    let code = self.input.read_string()?;
                    return Ok(Some(Entry::Function { code }));
                }
                OPCODE_FUNCTION_PRE_GA => {
                    return Err(RdbError::new(
                        at,
                        RdbErrorKind::Unsupported(
                            "functions in the Redis 7.0 release-candidate format (opcode 246)"
                                .into(),
                        ),
                    ))
                }
                OPCODE_MODULE_AUX => return self.read_module_aux().map(Some),
                OPCODE_EOF => {
                    self.finish()?;
                    return Ok(None);
                }
                t if is_value_type(t, valkey) => return self.read_key(t, at).map(Some),
                t if t >= LOWEST_OPCODE_GUESS => {
                    return Err(RdbError::new(at, RdbErrorKind::UnknownOpcode(t)))
                }
                t => return Err(RdbError::new(at, RdbErrorKind::UnknownType(t))),
            }
        }
    }

    fn read_key(&mut self, rdb_type: u8, at: u64) -> Result<Entry, RdbError> {
        let pending = std::mem::take(&mut self.pending);
        let key = self.input.read_string()?;
        let valkey = self.header.valkey;
        let mut object = Vec::new();
        let key = if is_chunkable(rdb_type, valkey) {
            let mut cutting = Cutting {
                rdb_type,
                valkey,
                prefix: Vec::new(),
                remaining: 0,
                seq: 0,
                db: self.db,
                key,
                expire_ms: pending.expire_ms,
            };
            match self.read_first_run(&mut cutting, &mut object) {
                Ok(Some(chunk)) => {
                    self.cutting = Some(cutting);
                    return Ok(Entry::Chunk(chunk));
                }
                Ok(None) => cutting.key,
                Err(e) => return Err(e.with_key(&cutting.key)),
            }
        } else {
            cut_value(&mut self.input, rdb_type, valkey, &mut object).map_err(|e| {
                let e = e.with_key(&key);
                match e.kind {
                    // Report an unusable type at its type byte, like an unknown one.
                    RdbErrorKind::Unsupported(_) => RdbError { offset: at, ..e },
                    _ => e,
                }
            })?;
            key
        };
        Ok(Entry::Key(KeyEntry {
            db: self.db,
            key,
            rdb_type,
            object,
            expire_ms: pending.expire_ms,
            idle_s: pending.idle_s,
            freq: pending.freq,
            offset: pending.start.unwrap_or(at),
        }))
    }

    /// Reads a chunkable value into `object` as it is stored, unless it grows past the chunk
    /// size: then the elements read so far become its first chunk, and the rest follows from
    /// [`Self::next_chunk`].
    fn read_first_run(
        &mut self,
        cutting: &mut Cutting,
        object: &mut Vec<u8>,
    ) -> Result<Option<ChunkEntry>, RdbError> {
        copy_prefix(&mut self.input, cutting.rdb_type, cutting.valkey, object)?;
        cutting.prefix = object.clone();
        cutting.remaining = self.input.copy_length(object)?;
        let header = object.len();
        let count = cutting.read_run(&mut self.input, object, self.chunk_bytes)?;
        if cutting.remaining == 0 {
            if is_stream(cutting.rdb_type) {
                copy_stream_tail(&mut self.input, cutting.rdb_type, object)?;
            }
            return Ok(None);
        }
        let body = object.split_off(header);
        object.clear();
        let sealed = cutting.seal(&mut self.input, count, &body)?;
        Ok(Some(chunk_entry(cutting, sealed)))
    }

    /// The next chunk of the value being handed over.
    fn next_chunk(&mut self, mut cutting: Cutting) -> Result<Entry, RdbError> {
        let mut body = Vec::new();
        let read = cutting.read_run(&mut self.input, &mut body, self.chunk_bytes);
        let count = read.map_err(|e| e.with_key(&cutting.key))?;
        let sealed = cutting.seal(&mut self.input, count, &body);
        let object = sealed.map_err(|e| e.with_key(&cutting.key))?;
        let chunk = chunk_entry(&mut cutting, object);
        if !chunk.last {
            self.cutting = Some(cutting);
        }
        Ok(Entry::Chunk(chunk))
    }

    /// MODULE_AUX: module type id, the UINT opcode, `when`, then module data up to its EOF.
    fn read_module_aux(&mut self) -> Result<Entry, RdbError> {
        let mut raw = Vec::new();
        let module_id = self.input.copy_length(&mut raw)?;
        let when_opcode = self.input.copy_length(&mut raw)?;
        if when_opcode != MODULE_OPCODE_UINT {
            return Err(self.input.error(RdbErrorKind::Corrupt(format!(
                "module aux data of '{}' has opcode {when_opcode} where 'when' should be",
                module_name(module_id)
            ))));
        }
        let when = self.input.copy_length(&mut raw)?;
        copy_module_data(&mut self.input, &mut raw)?;
        Ok(Entry::ModuleAux {
            module: module_name(module_id),
            when,
            bytes: raw.len() as u64,
            raw,
        })
    }

    /// Valkey 9 SLOT_IMPORT (a slot import under way in cluster mode): a job name and its
    /// slot ranges. It describes the source's own migration state, not data, so it is read
    /// and dropped.
    fn skip_slot_import(&mut self) -> Result<(), RdbError> {
        let _job_name = self.input.read_string()?;
        let ranges = self.input.read_length()?;
        for _ in 0..ranges {
            self.input.read_length()?;
            self.input.read_length()?;
        }
        Ok(())
    }

    /// After the EOF opcode: the little-endian CRC64 of everything before it (RDB 5 and
    /// later), 0 when the source saved without checksums.
    fn finish(&mut self) -> Result<(), RdbError> {
        if self.header.version < 5 && !self.header.valkey {
            return Ok(());
        }
        let computed = self.input.take_crc();
        let at = self.input.position();
        let stored = u64::from_le_bytes(self.input.read_array()?);
        if stored != 0 && stored != computed {
            return Err(RdbError::new(
                at,
                RdbErrorKind::Checksum { stored, computed },
            ));
        }
        Ok(())
    }
}

/// The entry for the chunk `object` of `cutting`, which then counts it.
fn chunk_entry(cutting: &mut Cutting, object: Vec<u8>) -> ChunkEntry {
    let chunk = ChunkEntry {
        db: cutting.db,
        key: cutting.key.clone(),
        rdb_type: cutting.rdb_type,
        seq: cutting.seq,
        last: cutting.remaining == 0,
        object,
        expire_ms: cutting.expire_ms,
    };
    cutting.seq += 1;
    chunk
}
