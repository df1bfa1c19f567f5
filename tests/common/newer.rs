//! Live writes of the commands newer than an older target knows, each in the form that makes
//! the source replicate what COMPATIBILITY.md lists (`LPOP key count`, `SET … KEEPTTL`,
//! `XGROUP CREATECONSUMER`, `XADD … LIMIT`, …), with values chosen so a wrong rewrite shows in
//! the contents: members that must not move, scores that must not change, TTLs that must stay.

use redis::Connection;

fn run(conn: &mut Connection, args: &[&str]) {
    let _: redis::Value = redis::cmd(args[0])
        .arg(&args[1..])
        .query(conn)
        .unwrap_or_else(|err| panic!("{args:?}: {err}"));
}

fn all(conn: &mut Connection, commands: &[&[&str]]) {
    for args in commands {
        run(conn, args);
    }
}

/// Redis 6.0+ and 6.2+ commands and options, on a Redis 7.x source: strings, lists, sorted
/// sets, geo, copies, expiry flags, a `MULTI` block and a script.
pub fn write_keys_and_collections(conn: &mut Connection) {
    all(
        conn,
        &[
            // SET … KEEPTTL (6.0), also what INCRBYFLOAT replicates as.
            &["SET", "keepttl", "v", "EX", "1000"],
            &["SET", "keepttl", "w", "KEEPTTL"],
            &["SET", "float", "10", "EX", "2000"],
            &["INCRBYFLOAT", "float", "1.5"],
            &["INCRBYFLOAT", "float:plain", "2.25"],
            // SET … GET, GETEX, GETDEL (6.2; 7.0 for NX with GET).
            &["SET", "get", "a"],
            &["SET", "get", "b", "GET"],
            &["SET", "get:nx", "v", "NX", "GET"],
            &["SET", "getex", "v"],
            &["GETEX", "getex", "EX", "500"],
            &["SET", "getex:persist", "v", "EX", "500"],
            &["GETEX", "getex:persist", "PERSIST"],
            &["SET", "getdel", "v"],
            &["GETDEL", "getdel"],
            // LPOP/RPOP key count (6.2), LMPOP (7.0).
            &[
                "RPUSH", "pops", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
            ],
            &["LPOP", "pops", "2"],
            &["RPOP", "pops", "3"],
            &["RPUSH", "pops:all", "a", "b", "c"],
            &["EXPIRE", "pops:all", "1000"],
            &["LPOP", "pops:all", "100"],
            &["RPUSH", "lmpop", "a", "b", "c", "d", "e"],
            &["LMPOP", "2", "lmpop:none", "lmpop", "RIGHT", "COUNT", "2"],
            &["BLMPOP", "1", "1", "lmpop", "LEFT", "COUNT", "10"],
            // LMOVE / BLMOVE (6.2), each direction, and onto itself.
            &["RPUSH", "from", "1", "2", "3", "4", "5", "6"],
            &["LMOVE", "from", "to", "LEFT", "RIGHT"],
            &["LMOVE", "from", "to", "RIGHT", "LEFT"],
            &["LMOVE", "from", "to", "LEFT", "LEFT"],
            &["BLMOVE", "from", "to", "RIGHT", "RIGHT", "1"],
            &["RPUSH", "rotate", "only"],
            &["EXPIRE", "rotate", "1000"],
            &["LMOVE", "rotate", "rotate", "LEFT", "RIGHT"],
            &["RPUSH", "rotate:many", "a", "b", "c"],
            &["LMOVE", "rotate:many", "rotate:many", "LEFT", "RIGHT"],
            // ZADD GT|LT (6.2): one member, and several where some must not change.
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "inf", "top"],
            &["ZADD", "z", "GT", "5", "a"],
            &["ZADD", "z", "LT", "0", "b"],
            &[
                "ZADD", "z", "GT", "0", "c", "10", "d", "4", "a", "1e308", "top",
            ],
            &["ZADD", "z", "XX", "LT", "CH", "1", "c", "1", "absent"],
            &["ZADD", "z", "GT", "INCR", "2", "a"],
            // ZRANGESTORE (6.2), by rank, score and lex; ZDIFFSTORE (6.2).
            &["ZRANGESTORE", "z:rank", "z", "1", "-2"],
            &["ZRANGESTORE", "z:rev", "z", "0", "1", "REV"],
            &[
                "ZRANGESTORE",
                "z:score",
                "z",
                "(1",
                "+inf",
                "BYSCORE",
                "LIMIT",
                "1",
                "2",
            ],
            &[
                "ZRANGESTORE",
                "z:score:rev",
                "z",
                "+inf",
                "0",
                "BYSCORE",
                "REV",
            ],
            &["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"],
            &["ZRANGESTORE", "z:lex", "lex", "[b", "+", "BYLEX"],
            &[
                "ZRANGESTORE",
                "z:lex:rev",
                "lex",
                "(d",
                "-",
                "BYLEX",
                "REV",
                "LIMIT",
                "0",
                "2",
            ],
            &["ZRANGESTORE", "z", "z", "0", "2"],
            &["SADD", "diff:set", "b", "x"],
            &["ZADD", "diff:z", "7", "c"],
            &["ZADD", "z:diff", "1", "stale"],
            &["ZDIFFSTORE", "z:diff", "3", "lex", "diff:set", "diff:z"],
            // GEOSEARCHSTORE (6.2) as GEORADIUS … STORE.
            &[
                "GEOADD",
                "geo",
                "13.361389",
                "38.115556",
                "Palermo",
                "15.087269",
                "37.502669",
                "Catania",
                "12.496366",
                "41.902782",
                "Rome",
            ],
            &[
                "GEOSEARCHSTORE",
                "geo:near",
                "geo",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "ASC",
                "COUNT",
                "2",
            ],
            &[
                "GEOSEARCHSTORE",
                "geo:dist",
                "geo",
                "FROMMEMBER",
                "Palermo",
                "BYRADIUS",
                "500",
                "km",
                "STOREDIST",
            ],
            &["SET", "geo:gone", "x"],
            &[
                "GEOSEARCHSTORE",
                "geo:gone",
                "geo:none",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "1",
                "km",
            ],
            // COPY (6.2): with a TTL, into another db, over an existing key.
            &["COPY", "keepttl", "keepttl:copy"],
            &["COPY", "z", "z:copy", "DB", "1"],
            &["SET", "over", "old"],
            &["COPY", "from", "over", "REPLACE"],
            // EXPIRE … NX|XX|GT|LT (7.0).
            &["SET", "flags", "v"],
            &["EXPIRE", "flags", "100", "NX"],
            &["EXPIRE", "flags", "200", "XX"],
            &["PEXPIRE", "flags", "300000", "GT"],
            &["EXPIREAT", "flags", "9999999999", "LT"],
            // A block and a script: their commands come as one barrier.
            &["RPUSH", "block", "a", "b", "c", "d"],
            &["MULTI"],
            &["LPOP", "block", "2"],
            &["SET", "keepttl", "x", "KEEPTTL"],
            &["LMOVE", "block", "to", "LEFT", "RIGHT"],
            &["EXEC"],
            &[
                "EVAL",
                "redis.call('RPOP', KEYS[1], 1) return redis.call('INCRBYFLOAT', KEYS[2], 1)",
                "2",
                "block",
                "float",
            ],
            // FLUSHDB SYNC (6.2), away from db 0.
            &["SELECT", "2"],
            &["SET", "flushed", "v"],
            &["FLUSHDB", "SYNC"],
            &["SET", "after:flush", "v"],
            &["SELECT", "0"],
        ],
    );
}

/// Stream commands of Redis 6.2 and 7.0, on a Redis 7.x source: trimming with `LIMIT` and
/// `MINID`, `NOMKSTREAM`, consumer groups with entries read, consumers created by reading.
pub fn write_streams(conn: &mut Connection) {
    let mut entries: Vec<[String; 2]> = Vec::new();
    for i in 1..=20 {
        entries.push([format!("1-{i}"), format!("v{i}")]);
    }
    for [id, value] in &entries {
        run(conn, &["XADD", "s", id, "f", value]);
        run(conn, &["XADD", "s:minid", id, "f", value]);
        run(conn, &["XADD", "s:xtrim", id, "f", value]);
    }
    all(
        conn,
        &[
            &[
                "XADD", "s", "MAXLEN", "~", "5", "LIMIT", "100", "2-1", "f", "v",
            ],
            &["XADD", "s", "MAXLEN", "=", "15", "2-2", "f", "v"],
            &["XTRIM", "s", "MAXLEN", "~", "1", "LIMIT", "1000"],
            &["XADD", "s:minid", "MINID", "=", "1-8", "2-1", "f", "v"],
            &["XTRIM", "s:xtrim", "MINID", "1-15"],
            &["XADD", "s:none", "NOMKSTREAM", "*", "f", "v"],
            &["XADD", "s", "NOMKSTREAM", "3-1", "f", "v"],
            &["XGROUP", "CREATE", "s", "readers", "0", "ENTRIESREAD", "0"],
            &["XGROUP", "CREATE", "s:new", "fresh", "$", "MKSTREAM"],
            &["XGROUP", "CREATECONSUMER", "s", "readers", "created"],
            &[
                "XREADGROUP",
                "GROUP",
                "readers",
                "alice",
                "COUNT",
                "3",
                "STREAMS",
                "s",
                ">",
            ],
            &[
                "XREADGROUP",
                "GROUP",
                "readers",
                "bob",
                "NOACK",
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ],
            &[
                "XAUTOCLAIM",
                "s",
                "readers",
                "carol",
                "0",
                "0",
                "COUNT",
                "1",
            ],
            &["XACK", "s", "readers", "1-20"],
            &["XGROUP", "CREATE", "s:minid", "late", "0"],
            &[
                "XGROUP",
                "SETID",
                "s:minid",
                "late",
                "1-10",
                "ENTRIESREAD",
                "3",
            ],
            &["XADD", "s:setid", "5-1", "f", "v"],
            &[
                "XSETID",
                "s:setid",
                "9-1",
                "ENTRIESADDED",
                "10",
                "MAXDELETEDID",
                "4-0",
            ],
        ],
    );
}

/// Valkey 9 commands (`HSETEX`, `HGETDEL`, `HGETEX`, `SET … IFEQ`, `DELIFEQ`) on a Valkey 9
/// source. With `field_ttls` the hashes also get field TTLs (for a target that has them).
pub fn write_valkey(conn: &mut Connection, field_ttls: bool) {
    all(
        conn,
        &[
            &["SET", "ifeq", "old"],
            &["SET", "ifeq", "new", "IFEQ", "old"],
            &["SET", "ifeq", "newer", "IFEQ", "nope"],
            &["SET", "delifeq", "v"],
            &["DELIFEQ", "delifeq", "v"],
            &["HSET", "h", "a", "1", "b", "2", "c", "3"],
            &["HGETDEL", "h", "FIELDS", "2", "b", "zz"],
            &["HSETEX", "hx", "FIELDS", "2", "a", "1", "b", "2"],
            &["HSETEX", "hx", "FNX", "FIELDS", "1", "c", "3"],
            &["HSETEX", "hx", "KEEPTTL", "FIELDS", "1", "a", "4"],
            &["HSETEX", "hx", "FXX", "KEEPTTL", "FIELDS", "1", "b", "5"],
        ],
    );
    if field_ttls {
        all(
            conn,
            &[
                &[
                    "HSETEX", "ht", "EX", "1000", "FIELDS", "2", "a", "1", "b", "2",
                ],
                &[
                    "HSETEX", "ht", "KEEPTTL", "FIELDS", "2", "a", "9", "new", "0",
                ],
                &[
                    "HSETEX",
                    "ht",
                    "PXAT",
                    "4102444800000",
                    "FIELDS",
                    "1",
                    "c",
                    "3",
                ],
                &["HGETEX", "ht", "EX", "2000", "FIELDS", "1", "c"],
                &["HGETEX", "ht", "PERSIST", "FIELDS", "1", "b"],
                &["HGETDEL", "ht", "FIELDS", "1", "new"],
            ],
        );
    }
}
