//! Decoding an RDB object (the `object` bytes a snapshot key or chunk carries) into its
//! elements: list items, set members, scored members, hash fields with their TTLs, stream
//! entries with their consumer groups. For targets whose RDB version is lower than the
//! source's, where `RESTORE` refuses the payload and the value must be rewritten as plain
//! commands.
//!
//! Every encoding Redis 5.0 to 7.4 and Valkey 8.1 to 9.1 write is read, and the older ones a
//! snapshot or `DUMP` may still carry: types 0 to 5, 9 to 21, Redis 7.4's hashes with field
//! TTLs (24 and 25, and 22 and 23 of its release candidates) and Valkey 9's (22). Redis and
//! Valkey gave type 22 different meanings; the RDB version tells them apart (80 and up is
//! Valkey, as the `VALKEY` magic of its snapshots tells the cutter). Not read: module values
//! (6, 7), and Valkey 9.2's path hashes (type 23 at RDB 81).
//!
//! [`decode`] returns the whole value; [`for_each_batch`] hands it over in batches of bounded
//! size. Corrupt input gives a [`DecodeError`] that says what is wrong and at which offset,
//! never a panic.
//!
//! Layout:
//! - `reader`: lengths and strings (with the crate's shared parsers and LZF), doubles, times,
//!   raw stream IDs;
//! - `ziplist`, `listpack`, `intset`, `zipmap`: the embedded compact structures;
//! - `collections`: lists, sets, sorted sets and hashes in all their encodings;
//! - `stream`: streams and their consumer groups;
//! - `sink`: gathering elements into batches;
//! - `error`: [`DecodeError`].

mod collections;
mod error;
mod intset;
mod listpack;
mod reader;
mod sink;
mod stream;
mod ziplist;
mod zipmap;

#[cfg(test)]
mod tests;

pub use error::DecodeError;
pub use stream::{
    Consumer, ConsumerGroup, PendingEntry, Stream, StreamEntry, StreamId, StreamMeta,
};

pub use crate::types::{has_field_ttl_type, is_valkey_version, TYPE_STRING};

use crate::types::*;
use reader::Reader;
use sink::Sink;
use std::borrow::Cow;

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    /// Items from head to tail.
    List(Vec<Vec<u8>>),
    /// Members in storage order.
    Set(Vec<Vec<u8>>),
    /// Members with scores, in storage order (ascending for compact encodings, descending for
    /// skiplists).
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Fields in storage order.
    Hash(Vec<HashField>),
    Stream(Stream),
}

/// One field of a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashField {
    pub field: Vec<u8>,
    pub value: Vec<u8>,
    /// Absolute expiry of the field in Unix milliseconds (Redis 7.4 and Valkey 9 field TTLs).
    /// It may be past: fields that expired but were not reclaimed yet are saved too.
    pub expire_ms: Option<i64>,
}

/// The logical type of a value, from its RDB type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    List,
    Set,
    ZSet,
    Hash,
    Stream,
}

/// A part of a value, as [`for_each_batch`] hands it over. A string comes whole; the elements
/// of a collection come in batches of at most the asked size; a stream's entries come in
/// batches, then its metadata and consumer groups once, last.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<HashField>),
    StreamEntries(Vec<StreamEntry>),
    StreamMeta(StreamMeta),
}

/// The logical type of `rdb_type` in an object of `rdb_version`.
pub fn kind(rdb_type: u8, rdb_version: u16) -> Result<Kind, DecodeError> {
    let valkey = is_valkey_version(rdb_version);
    Ok(match rdb_type {
        TYPE_STRING => Kind::String,
        TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => Kind::List,
        TYPE_SET | TYPE_SET_INTSET | TYPE_SET_LISTPACK => Kind::Set,
        TYPE_ZSET | TYPE_ZSET_2 | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => Kind::ZSet,
        TYPE_HASH | TYPE_HASH_ZIPMAP | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => Kind::Hash,
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => Kind::Stream,
        22 => Kind::Hash,
        TYPE_HASH_LISTPACK_EX_PRE_GA..=TYPE_HASH_LISTPACK_EX if !valkey => Kind::Hash,
        TYPE_MODULE_PRE_GA | TYPE_MODULE_2 => {
            return Err(DecodeError::Unsupported {
                rdb_type,
                what: "a module value, which only its module can read",
            })
        }
        _ => {
            return Err(DecodeError::UnknownType {
                rdb_type,
                rdb_version,
            })
        }
    })
}

/// Decodes a whole object. `object` is what follows the type byte (a `DUMP` payload without
/// its first byte and 10-byte footer); `rdb_version` is the snapshot's or the footer's.
pub fn decode(rdb_type: u8, object: &[u8], rdb_version: u16) -> Result<Value, DecodeError> {
    let mut value = match kind(rdb_type, rdb_version)? {
        Kind::String => Value::String(Vec::new()),
        Kind::List => Value::List(Vec::new()),
        Kind::Set => Value::Set(Vec::new()),
        Kind::ZSet => Value::ZSet(Vec::new()),
        Kind::Hash => Value::Hash(Vec::new()),
        Kind::Stream => Value::Stream(Stream::default()),
    };
    for_each_batch(rdb_type, object, rdb_version, usize::MAX, |batch| {
        value.absorb(batch);
        Ok::<(), DecodeError>(())
    })?;
    Ok(value)
}

/// The value of a string object: plain bytes borrowed, integers as decimal text, LZF expanded.
pub fn string_value(object: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    let mut r = Reader::new(object);
    let value = r.string("string")?;
    r.finish("value")?;
    Ok(value)
}

/// Decodes an object and hands its elements to `f` in batches of at most `max_elements` (at
/// least 1), so that only one batch is held at a time besides the object itself. Stops at the
/// first error of `f` or of the decoding; batches handed over before a decoding error stand
/// (a corrupt end is only found when reached).
pub fn for_each_batch<E: From<DecodeError>>(
    rdb_type: u8,
    object: &[u8],
    rdb_version: u16,
    max_elements: usize,
    mut f: impl FnMut(Batch) -> Result<(), E>,
) -> Result<(), E> {
    let kind = kind(rdb_type, rdb_version)?;
    let valkey = is_valkey_version(rdb_version);
    let out: &mut dyn FnMut(Batch) -> Result<(), E> = &mut f;
    let mut r = Reader::new(object);
    let what = "value";
    match kind {
        Kind::String => out(Batch::String(string_value(object)?.into_owned())),
        Kind::List => {
            let mut sink = Sink::new(max_elements, Batch::List, out);
            collections::list(rdb_type, &mut r, &mut sink)?;
            r.finish(what)?;
            sink.finish(None)
        }
        Kind::Set => {
            let mut sink = Sink::new(max_elements, Batch::Set, out);
            collections::set(rdb_type, &mut r, &mut sink)?;
            r.finish(what)?;
            sink.finish(None)
        }
        Kind::ZSet => {
            let mut sink = Sink::new(max_elements, Batch::ZSet, out);
            collections::zset(rdb_type, &mut r, &mut sink)?;
            r.finish(what)?;
            sink.finish(None)
        }
        Kind::Hash => {
            let mut sink = Sink::new(max_elements, Batch::Hash, out);
            collections::hash(rdb_type, valkey, &mut r, &mut sink)?;
            r.finish(what)?;
            sink.finish(None)
        }
        Kind::Stream => {
            let mut sink = Sink::new(max_elements, Batch::StreamEntries, out);
            let meta = stream::stream(rdb_type, &mut r, &mut sink)?;
            r.finish(what)?;
            sink.finish(Some(Batch::StreamMeta(meta)))
        }
    }
}

impl Value {
    /// Appends a batch of the same kind (others are ignored: [`decode`] only passes its own).
    fn absorb(&mut self, batch: Batch) {
        fn append<T>(to: &mut Vec<T>, mut more: Vec<T>) {
            if to.is_empty() {
                *to = more;
            } else {
                to.append(&mut more);
            }
        }
        match (self, batch) {
            (Value::String(to), Batch::String(s)) => *to = s,
            (Value::List(to), Batch::List(more)) | (Value::Set(to), Batch::Set(more)) => {
                append(to, more)
            }
            (Value::ZSet(to), Batch::ZSet(more)) => append(to, more),
            (Value::Hash(to), Batch::Hash(more)) => append(to, more),
            (Value::Stream(s), Batch::StreamEntries(more)) => append(&mut s.entries, more),
            (Value::Stream(s), Batch::StreamMeta(meta)) => s.meta = meta,
            _ => {}
        }
    }
}
