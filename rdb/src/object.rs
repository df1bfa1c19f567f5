//! Cutting values: walks the structure of each value type just far enough to find where the
//! value ends, copying its bytes unchanged (strings stay int-encoded or LZF-compressed), so
//! the result is the body of the DUMP payload Redis would produce for that key.

use std::io::Read;

use crate::error::{RdbError, RdbErrorKind};
use crate::input::Input;
use crate::types::*;

/// Appends the value of type `rdb_type` that starts at the input's position to `out`.
/// `valkey` tells how to read type bytes whose meaning differs between Redis and Valkey.
/// Values of the types [`is_chunkable`] names are read element by element by the reader
/// (`chunk::Cutting`), which can hand a big one over in parts; this reads the others.
pub(crate) fn cut_value<R: Read>(
    input: &mut Input<R>,
    rdb_type: u8,
    valkey: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdbError> {
    match rdb_type {
        TYPE_STRING | TYPE_HASH_ZIPMAP | TYPE_LIST_ZIPLIST | TYPE_SET_INTSET
        | TYPE_ZSET_ZIPLIST | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_ZSET_LISTPACK
        | TYPE_SET_LISTPACK => input.copy_string(out),
        TYPE_MODULE_PRE_GA => Err(input.error(RdbErrorKind::Unsupported(
            "a module value in the Redis 4.0 release-candidate format (type 6), which cannot be \
             read without the module"
                .into(),
        ))),
        TYPE_MODULE_2 => {
            input.copy_length(out)?; // the module type id
            copy_module_data(input, out)
        }
        TYPE_HASH_LISTPACK_EX_PRE_GA if !valkey => input.copy_string(out),
        TYPE_HASH_LISTPACK_EX if !valkey => {
            input.copy_to(out, 8)?; // minExpire
            input.copy_string(out)
        }
        other => Err(input.error(RdbErrorKind::UnknownType(other))),
    }
}

/// A double as text, as in the old ZSET type: a length byte, then that many ASCII bytes;
/// 253, 254 and 255 stand for NaN, +inf and -inf with nothing after them.
fn copy_text_double<R: Read>(input: &mut Input<R>, out: &mut Vec<u8>) -> Result<(), RdbError> {
    let len = input.read_u8()?;
    input.check_room(out.len(), 1)?;
    out.push(len);
    if len < 253 {
        input.copy_to(out, u64::from(len))?;
    }
    Ok(())
}

/// Module data (a MODULE_2 value after its type id, or MODULE_AUX data after its `when`):
/// a sequence of (opcode, operand) with every opcode stored as a length, up to opcode EOF.
pub(crate) fn copy_module_data<R: Read>(
    input: &mut Input<R>,
    out: &mut Vec<u8>,
) -> Result<(), RdbError> {
    loop {
        match input.copy_length(out)? {
            MODULE_OPCODE_EOF => return Ok(()),
            MODULE_OPCODE_SINT | MODULE_OPCODE_UINT => {
                input.copy_length(out)?;
            }
            MODULE_OPCODE_FLOAT => input.copy_to(out, 4)?,
            MODULE_OPCODE_DOUBLE => input.copy_to(out, 8)?,
            MODULE_OPCODE_STRING => input.copy_string(out)?,
            other => {
                return Err(input.error(RdbErrorKind::Corrupt(format!(
                    "unknown module data opcode {other}"
                ))))
            }
        }
    }
}

/// Whether values of this type are a prefix, a count and that many elements, so that a big one
/// can be cut in chunks that are each a standalone value of the same type.
pub(crate) fn is_chunkable(rdb_type: u8, valkey: bool) -> bool {
    match rdb_type {
        TYPE_LIST
        | TYPE_SET
        | TYPE_ZSET
        | TYPE_HASH
        | TYPE_ZSET_2
        | TYPE_LIST_QUICKLIST
        | TYPE_LIST_QUICKLIST_2 => true,
        _ if is_stream(rdb_type) => true,
        TYPE_VALKEY_HASH_2 if valkey => true,
        TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA => !valkey,
        _ => false,
    }
}

pub(crate) fn is_stream(rdb_type: u8) -> bool {
    matches!(
        rdb_type,
        TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3
    )
}

/// The bytes before the count: Redis 7.4's minimum expiry of a hash with field TTLs.
pub(crate) fn copy_prefix<R: Read>(
    input: &mut Input<R>,
    rdb_type: u8,
    valkey: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdbError> {
    if rdb_type == TYPE_HASH_METADATA && !valkey {
        input.copy_to(out, 8)?;
    }
    Ok(())
}

/// One element of a chunkable type: a list item or quicklist node, a set member, a member and
/// its score, a field and its value (with its TTL), a stream node.
pub(crate) fn cut_element<R: Read>(
    input: &mut Input<R>,
    rdb_type: u8,
    valkey: bool,
    out: &mut Vec<u8>,
) -> Result<(), RdbError> {
    match rdb_type {
        TYPE_LIST | TYPE_SET | TYPE_LIST_QUICKLIST => input.copy_string(out),
        TYPE_ZSET => {
            input.copy_string(out)?;
            copy_text_double(input, out)
        }
        TYPE_HASH => {
            input.copy_string(out)?;
            input.copy_string(out)
        }
        TYPE_ZSET_2 => {
            input.copy_string(out)?;
            input.copy_to(out, 8)
        }
        TYPE_LIST_QUICKLIST_2 => {
            let container = input.copy_length(out)?;
            // 1 = PLAIN (one large element), 2 = PACKED (a listpack).
            if container != 1 && container != 2 {
                return Err(input.error(RdbErrorKind::Corrupt(format!(
                    "quicklist node container {container} (expected 1 or 2)"
                ))));
            }
            input.copy_string(out)
        }
        // Valkey 9: field, value, 8-byte expiry in ms (-1 for none).
        TYPE_VALKEY_HASH_2 if valkey => {
            input.copy_string(out)?;
            input.copy_string(out)?;
            input.copy_to(out, 8)
        }
        // Redis 7.4: TTL as a length (0: none), field, value.
        TYPE_HASH_METADATA_PRE_GA | TYPE_HASH_METADATA if !valkey => {
            input.copy_length(out)?;
            input.copy_string(out)?;
            input.copy_string(out)
        }
        // A stream node: its master entry ID (16 bytes), then its listpack.
        _ if is_stream(rdb_type) => {
            input.copy_string(out)?;
            input.copy_string(out)
        }
        other => Err(input.error(RdbErrorKind::UnknownType(other))),
    }
}

/// What follows a stream's nodes: its metadata, then its consumer groups with their pending
/// entries and consumers. Types 19 and 21 add fields to the metadata, groups and consumers.
pub(crate) fn copy_stream_tail<R: Read>(
    input: &mut Input<R>,
    rdb_type: u8,
    out: &mut Vec<u8>,
) -> Result<(), RdbError> {
    let v2 = rdb_type >= TYPE_STREAM_LISTPACKS_2;
    let v3 = rdb_type >= TYPE_STREAM_LISTPACKS_3;
    // Length, last id (ms, seq); v2: first id, max deleted id, entries added.
    let metadata = if v2 { 8 } else { 3 };
    for _ in 0..metadata {
        input.copy_length(out)?;
    }
    let groups = input.copy_length(out)?;
    for _ in 0..groups {
        input.copy_string(out)?; // name
        input.copy_length(out)?; // last delivered id
        input.copy_length(out)?;
        if v2 {
            input.copy_length(out)?; // entries read
        }
        let pending = input.copy_length(out)?;
        for _ in 0..pending {
            input.copy_to(out, 16 + 8)?; // raw id, delivery time in ms
            input.copy_length(out)?; // delivery count
        }
        let consumers = input.copy_length(out)?;
        for _ in 0..consumers {
            input.copy_string(out)?; // name
            input.copy_to(out, if v3 { 16 } else { 8 })?; // seen time [, active time]
            let owned = input.copy_length(out)?;
            for _ in 0..owned {
                input.copy_to(out, 16)?; // raw ids of its pending entries
            }
        }
    }
    Ok(())
}

/// The tail of a stream chunk that is not the last: no entries counted, no groups (the real
/// tail comes with the last chunk).
pub(crate) fn empty_stream_tail(rdb_type: u8) -> Vec<u8> {
    let metadata = if rdb_type >= TYPE_STREAM_LISTPACKS_2 {
        8
    } else {
        3
    };
    vec![0; metadata + 1]
}
