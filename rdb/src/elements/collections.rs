//! Lists, sets, sorted sets and hashes, in each of their RDB encodings: plain sequences of
//! strings, and the compact structures (ziplist, listpack, intset, zipmap) held in one string.

use super::error::DecodeError;
use super::intset::intset;
use super::listpack::{Item, Listpack};
use super::reader::{capacity_for, decimal, Blob, Reader};
use super::sink::Sink;
use super::ziplist::Ziplist;
use super::zipmap::zipmap;
use super::*;

/// An entry for error messages: escaped text in quotes, or the integer.
fn show(item: Item<'_>) -> String {
    match item {
        Item::Int(n) => n.to_string(),
        Item::Bytes(b) => format!("\"{}\"", b.escape_ascii()),
    }
}

/// Which compact structure a blob holds.
#[derive(Clone, Copy)]
enum Packed {
    Ziplist,
    Listpack,
}

/// Calls `each` with every entry of a ziplist or listpack blob and its offset in the blob.
fn walk<'b, E: From<DecodeError>>(
    blob: &'b Blob<'_>,
    packed: Packed,
    mut each: impl FnMut(usize, Item<'b>) -> Result<(), E>,
) -> Result<(), E> {
    let wrap = |e| blob.wrap(e);
    match packed {
        Packed::Ziplist => {
            for entry in Ziplist::new(&blob.data).map_err(wrap)? {
                let (at, item) = entry.map_err(wrap)?;
                each(at, item)?;
            }
        }
        Packed::Listpack => {
            for entry in Listpack::new(&blob.data).map_err(wrap)? {
                let (at, item) = entry.map_err(wrap)?;
                each(at, item)?;
            }
        }
    }
    Ok(())
}

/// Like [`walk`], in groups of `N` consecutive entries (pairs, or triples with a TTL), each
/// with its offset.
fn walk_groups<'b, const N: usize, E: From<DecodeError>>(
    blob: &'b Blob<'_>,
    packed: Packed,
    what: &'static str,
    mut each: impl FnMut([(usize, Item<'b>); N]) -> Result<(), E>,
) -> Result<(), E> {
    let mut group = [(0, Item::Int(0)); N];
    let mut filled = 0;
    let mut total = 0;
    walk(blob, packed, |at, item| -> Result<(), E> {
        if let Some(slot) = group.get_mut(filled) {
            *slot = (at, item);
        }
        filled += 1;
        total += 1;
        if filled == N {
            filled = 0;
            each(group)?;
        }
        Ok(())
    })?;
    if filled != 0 {
        let detail = format!("{total} entries do not make whole groups of {N}");
        let at = group.first().map_or(0, |g| g.0);
        return Err(blob.wrap(DecodeError::invalid(what, at, detail)).into());
    }
    Ok(())
}

/// `n` strings (RDB types 1 and 2), announced by a leading count.
fn strings<E: From<DecodeError>>(
    r: &mut Reader<'_>,
    sink: &mut Sink<'_, Vec<u8>, E>,
    what: &'static str,
) -> Result<(), E> {
    let n = r.length("element count")?;
    sink.reserve(capacity_for(n, r.left()));
    for _ in 0..n {
        sink.push(r.string(what)?.into_owned())?;
    }
    Ok(())
}

pub(super) fn list<E: From<DecodeError>>(
    rdb_type: u8,
    r: &mut Reader<'_>,
    sink: &mut Sink<'_, Vec<u8>, E>,
) -> Result<(), E> {
    match rdb_type {
        TYPE_LIST => strings(r, sink, "list item"),
        TYPE_LIST_ZIPLIST => {
            let blob = r.blob("ziplist")?;
            walk(&blob, Packed::Ziplist, |_, item| sink.push(item.to_vec()))
        }
        TYPE_LIST_QUICKLIST => {
            let nodes = r.length("quicklist node count")?;
            for _ in 0..nodes {
                let blob = r.blob("quicklist node ziplist")?;
                walk(&blob, Packed::Ziplist, |_, item| sink.push(item.to_vec()))?;
            }
            Ok(())
        }
        _ => {
            let nodes = r.length("quicklist node count")?;
            for _ in 0..nodes {
                let at = r.pos();
                match r.length("quicklist node container")? {
                    // PLAIN: one large item, as a string.
                    1 => sink.push(r.string("quicklist plain node")?.into_owned())?,
                    // PACKED: a listpack of items.
                    2 => {
                        let blob = r.blob("quicklist node listpack")?;
                        walk(&blob, Packed::Listpack, |_, item| sink.push(item.to_vec()))?;
                    }
                    other => {
                        let detail = format!("{other} (expected 1, plain, or 2, packed)");
                        return Err(
                            DecodeError::invalid("quicklist node container", at, detail).into()
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

pub(super) fn set<E: From<DecodeError>>(
    rdb_type: u8,
    r: &mut Reader<'_>,
    sink: &mut Sink<'_, Vec<u8>, E>,
) -> Result<(), E> {
    match rdb_type {
        TYPE_SET => strings(r, sink, "set member"),
        TYPE_SET_INTSET => {
            let blob = r.blob("intset")?;
            for n in intset(&blob.data).map_err(|e| blob.wrap(e))? {
                sink.push(decimal(n).into_owned())?;
            }
            Ok(())
        }
        _ => {
            let blob = r.blob("listpack")?;
            walk(&blob, Packed::Listpack, |_, item| sink.push(item.to_vec()))
        }
    }
}

pub(super) fn zset<E: From<DecodeError>>(
    rdb_type: u8,
    r: &mut Reader<'_>,
    sink: &mut Sink<'_, (Vec<u8>, f64), E>,
) -> Result<(), E> {
    match rdb_type {
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = r.length("member count")?;
            sink.reserve(capacity_for(n, r.left()));
            for _ in 0..n {
                let member = r.string("sorted set member")?.into_owned();
                let score = if rdb_type == TYPE_ZSET {
                    r.text_double("sorted set score")?
                } else {
                    r.f64_le("sorted set score")?
                };
                sink.push((member, score))?;
            }
            Ok(())
        }
        _ => {
            let (blob, packed) = if rdb_type == TYPE_ZSET_ZIPLIST {
                (r.blob("ziplist")?, Packed::Ziplist)
            } else {
                (r.blob("listpack")?, Packed::Listpack)
            };
            walk_groups(
                &blob,
                packed,
                "member, score pair",
                |[(_, member), (at, score)]| {
                    let Some(score) = score.score() else {
                        let detail = format!("{} is not a number", show(score));
                        return Err(blob.wrap(DecodeError::invalid("score", at, detail)).into());
                    };
                    sink.push((member.to_vec(), score))
                },
            )
        }
    }
}

/// Reads a hash of any of its encodings, handing its fields to `sink`.
///
/// One arm per encoding (plain, zipmap, ziplist, listpack, the two field-TTL layouts of Redis
/// 7.4 and their release candidates, Valkey 9's): long, because each arm is the format's own
/// layout read in order, and keeping them side by side shows how they differ.
pub(super) fn hash<E: From<DecodeError>>(
    rdb_type: u8,
    valkey: bool,
    r: &mut Reader<'_>,
    sink: &mut Sink<'_, HashField, E>,
) -> Result<(), E> {
    let field = |field: Item<'_>, value: Item<'_>, expire_ms| HashField {
        field: field.to_vec(),
        value: value.to_vec(),
        expire_ms,
    };
    match rdb_type {
        TYPE_HASH => {
            let n = r.length("field count")?;
            sink.reserve(capacity_for(n, r.left()));
            for _ in 0..n {
                let field = r.string("hash field")?.into_owned();
                let value = r.string("hash value")?.into_owned();
                sink.push(HashField {
                    field,
                    value,
                    expire_ms: None,
                })?;
            }
            Ok(())
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.blob("zipmap")?;
            for (f, v) in zipmap(&blob.data).map_err(|e| blob.wrap(e))? {
                sink.push(field(Item::Bytes(f), Item::Bytes(v), None))?;
            }
            Ok(())
        }
        TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let (blob, packed) = if rdb_type == TYPE_HASH_ZIPLIST {
                (r.blob("ziplist")?, Packed::Ziplist)
            } else {
                (r.blob("listpack")?, Packed::Listpack)
            };
            walk_groups(&blob, packed, "field, value pair", |[(_, f), (_, v)]| {
                sink.push(field(f, v, None))
            })
        }
        TYPE_VALKEY_HASH_2 if valkey => {
            let n = r.length("field count")?;
            sink.reserve(capacity_for(n, r.left()));
            for _ in 0..n {
                let f = r.string("hash field")?;
                let v = r.string("hash value")?;
                // -1 (Valkey's EXPIRY_NONE) for a field without TTL.
                let expire = r.i64_le("hash field expiry")?;
                let expire_ms = (expire != -1).then_some(expire);
                sink.push(field(Item::Bytes(&f), Item::Bytes(&v), expire_ms))?;
            }
            Ok(())
        }
        TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA => {
            // GA: TTLs are stored as `expiry - min_expire + 1`; release candidates: absolute.
            let min_expire = if rdb_type == TYPE_HASH_METADATA {
                r.i64_le("hash minimum field expiry")? as u64
            } else {
                1
            };
            let n = r.length("field count")?;
            sink.reserve(capacity_for(n, r.left()));
            for _ in 0..n {
                let at = r.pos();
                let ttl = r.length("hash field TTL")?;
                let expire_ms = match ttl {
                    0 => None,
                    ttl => Some(
                        ttl.checked_add(min_expire)
                            .and_then(|t| t.checked_sub(1))
                            .and_then(|t| i64::try_from(t).ok())
                            .ok_or_else(|| {
                                let detail = format!("{ttl} after a minimum of {min_expire}");
                                DecodeError::invalid("hash field TTL", at, detail)
                            })?,
                    ),
                };
                let f = r.string("hash field")?;
                let v = r.string("hash value")?;
                sink.push(field(Item::Bytes(&f), Item::Bytes(&v), expire_ms))?;
            }
            Ok(())
        }
        _ => {
            // Listpack with (field, value, absolute expiry or 0) triples; GA versions put the
            // hash's minimum expiry first (not needed to decode).
            if rdb_type == TYPE_HASH_LISTPACK_EX {
                r.i64_le("hash minimum field expiry")?;
            }
            let blob = r.blob("listpack")?;
            let what = "field, value, TTL triple";
            walk_groups(&blob, Packed::Listpack, what, |[(_, f), (_, v), (at, t)]| {
                let expire_ms = match t.int() {
                    Some(0) => None,
                    Some(ms) if ms > 0 => Some(ms),
                    _ => {
                        let detail = format!("{} is not a time in milliseconds", show(t));
                        return Err(blob
                            .wrap(DecodeError::invalid("field TTL", at, detail))
                            .into());
                    }
                };
                sink.push(field(f, v, expire_ms))
            })
        }
    }
}
