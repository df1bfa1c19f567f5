//! The RDB type bytes and opcodes, with their names.
//!
//! Type bytes and opcodes share one byte: value types count up from 0, opcodes count down
//! from 255. Redis (REDIS magic, RDB 12) and Valkey (VALKEY magic, RDB 80 and later) gave
//! type 22 different meanings, so the header's magic decides how 22 and above are read.

pub const TYPE_STRING: u8 = 0;
pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
/// Module values of Redis 4.0 release candidates: no annotations, cannot be cut.
pub const TYPE_MODULE_PRE_GA: u8 = 6;
pub const TYPE_MODULE_2: u8 = 7;
pub const TYPE_HASH_ZIPMAP: u8 = 9;
pub const TYPE_LIST_ZIPLIST: u8 = 10;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
pub const TYPE_HASH_ZIPLIST: u8 = 13;
pub const TYPE_LIST_QUICKLIST: u8 = 14;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;
/// Redis 7.4 release candidates: hash with field TTLs, absolute TTLs, no minExpire.
pub const TYPE_HASH_METADATA_PRE_GA: u8 = 22;
/// Redis 7.4 release candidates: listpack hash with field TTLs, no minExpire.
pub const TYPE_HASH_LISTPACK_EX_PRE_GA: u8 = 23;
/// Redis 7.4: hash with field TTLs relative to a leading minExpire.
pub const TYPE_HASH_METADATA: u8 = 24;
/// Redis 7.4: listpack hash with field TTLs, after a leading minExpire.
pub const TYPE_HASH_LISTPACK_EX: u8 = 25;
/// Valkey 9 (VALKEY080): hash whose fields each carry an 8-byte expiry.
pub const TYPE_VALKEY_HASH_2: u8 = 22;

/// Valkey 9: the state of a slot import under way (cluster mode only).
pub const OPCODE_SLOT_IMPORT: u8 = 243;
/// Redis 7.4+ in cluster mode: the key counts of the next slot.
pub const OPCODE_SLOT_INFO: u8 = 244;
pub const OPCODE_FUNCTION2: u8 = 245;
/// Function libraries of Redis 7.0 release candidates.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 246;
pub const OPCODE_MODULE_AUX: u8 = 247;
pub const OPCODE_IDLE: u8 = 248;
pub const OPCODE_FREQ: u8 = 249;
pub const OPCODE_AUX: u8 = 250;
pub const OPCODE_RESIZEDB: u8 = 251;
pub const OPCODE_EXPIRETIME_MS: u8 = 252;
pub const OPCODE_EXPIRETIME: u8 = 253;
pub const OPCODE_SELECTDB: u8 = 254;
pub const OPCODE_EOF: u8 = 255;

/// Opcodes are allocated downwards from 255: an unknown byte this high is more likely a
/// new opcode than a new value type, which only matters for the error it is reported as.
pub(crate) const LOWEST_OPCODE_GUESS: u8 = 240;

/// The opcodes inside module values (MODULE_2 values and MODULE_AUX data).
pub(crate) const MODULE_OPCODE_EOF: u64 = 0;
pub(crate) const MODULE_OPCODE_SINT: u64 = 1;
pub(crate) const MODULE_OPCODE_UINT: u64 = 2;
pub(crate) const MODULE_OPCODE_FLOAT: u64 = 3;
pub(crate) const MODULE_OPCODE_DOUBLE: u64 = 4;
pub(crate) const MODULE_OPCODE_STRING: u64 = 5;

/// RDB versions from 80 up are Valkey's (Redis reserves 12 to 79 for its own formats): the
/// version tells how to read a `DUMP` payload's type 22, as the magic does for a snapshot.
pub fn is_valkey_version(rdb_version: u16) -> bool {
    rdb_version >= 80
}

/// Whether a hash of `rdb_type` may carry field TTLs: Redis 7.4's types (22 to 25) or
/// Valkey 9's (22). Other hashes never do.
pub fn has_field_ttl_type(rdb_type: u8) -> bool {
    (TYPE_HASH_METADATA_PRE_GA..=TYPE_HASH_LISTPACK_EX).contains(&rdb_type)
}

/// Whether `t` is a value type in an RDB with this magic.
pub fn is_value_type(t: u8, valkey: bool) -> bool {
    match t {
        0..=7 | 9..=21 => true,
        22 => true,
        23..=25 => !valkey,
        _ => false,
    }
}

/// The name of a type byte or opcode as Redis (REDIS magic) reads it.
pub fn type_name(t: u8) -> &'static str {
    type_name_in(t, false)
}

/// The name of a type byte or opcode, read as the RDB's magic says (`valkey`: VALKEY magic).
pub fn type_name_in(t: u8, valkey: bool) -> &'static str {
    match t {
        TYPE_STRING => "string",
        TYPE_LIST => "list",
        TYPE_SET => "set",
        TYPE_ZSET => "zset",
        TYPE_HASH => "hash",
        TYPE_ZSET_2 => "zset-2",
        TYPE_MODULE_PRE_GA => "module-pre-ga",
        TYPE_MODULE_2 => "module-2",
        TYPE_HASH_ZIPMAP => "hash-zipmap",
        TYPE_LIST_ZIPLIST => "list-ziplist",
        TYPE_SET_INTSET => "set-intset",
        TYPE_ZSET_ZIPLIST => "zset-ziplist",
        TYPE_HASH_ZIPLIST => "hash-ziplist",
        TYPE_LIST_QUICKLIST => "list-quicklist",
        TYPE_STREAM_LISTPACKS => "stream-listpacks",
        TYPE_HASH_LISTPACK => "hash-listpack",
        TYPE_ZSET_LISTPACK => "zset-listpack",
        TYPE_LIST_QUICKLIST_2 => "list-quicklist-2",
        TYPE_STREAM_LISTPACKS_2 => "stream-listpacks-2",
        TYPE_SET_LISTPACK => "set-listpack",
        TYPE_STREAM_LISTPACKS_3 => "stream-listpacks-3",
        22 if valkey => "hash-2",
        TYPE_HASH_METADATA_PRE_GA => "hash-metadata-pre-ga",
        TYPE_HASH_LISTPACK_EX_PRE_GA if !valkey => "hash-listpack-ex-pre-ga",
        TYPE_HASH_METADATA if !valkey => "hash-metadata",
        TYPE_HASH_LISTPACK_EX if !valkey => "hash-listpack-ex",
        OPCODE_SLOT_IMPORT if valkey => "SLOT_IMPORT",
        OPCODE_SLOT_INFO => "SLOT_INFO",
        OPCODE_FUNCTION2 => "FUNCTION2",
        OPCODE_FUNCTION_PRE_GA => "FUNCTION_PRE_GA",
        OPCODE_MODULE_AUX => "MODULE_AUX",
        OPCODE_IDLE => "IDLE",
        OPCODE_FREQ => "FREQ",
        OPCODE_AUX => "AUX",
        OPCODE_RESIZEDB => "RESIZEDB",
        OPCODE_EXPIRETIME_MS => "EXPIRETIME_MS",
        OPCODE_EXPIRETIME => "EXPIRETIME",
        OPCODE_SELECTDB => "SELECTDB",
        OPCODE_EOF => "EOF",
        _ => "unknown",
    }
}

/// The 9-character name of a module type, from the 54 high bits of its 64-bit id
/// (the low 10 bits are the module's encoding version).
pub fn module_name(module_id: u64) -> String {
    const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = [0u8; 9];
    let mut id = module_id >> 10;
    for slot in name.iter_mut().rev() {
        *slot = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    name.iter().map(|&b| b as char).collect()
}
