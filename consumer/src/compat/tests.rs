//! Each newer form, into each destination that lacks it: what is sent instead.

use super::*;
use crate::target::parse_info;
use crate::wire::decode;

const REDIS_5_0: &str = "redis_version:5.0.10\r\n";
const REDIS_6_0: &str = "redis_version:6.0.9\r\n";
const REDIS_6_2: &str = "redis_version:6.2.14\r\n";
const REDIS_7_0: &str = "redis_version:7.0.15\r\n";
const VALKEY_8_1: &str = "redis_version:7.2.4\r\nvalkey_version:8.1.8\r\n";
const REDIS_7_4: &str = "redis_version:7.4.1\r\n";
const VALKEY_9_1: &str = "redis_version:7.2.4\r\nvalkey_version:9.1.2\r\n";

/// The commands sent for `command` to the destination of `info`, one text each, scripts by
/// their names; `now` is 1000 ms.
fn sent(info: &str, command: &str) -> Result<Vec<String>, Unsupported> {
    let mut args: Vec<Vec<u8>> = command
        .split(' ')
        .map(|arg| arg.replace("<empty>", "").into_bytes())
        .collect();
    let mut out = Commands::default();
    let dialect = Dialect::of(&parse_info(info));
    let commands = match adapt(&mut args, dialect, 1000, &mut out)? {
        Adapted::AsIs => vec![args],
        Adapted::Written => decode(&mut out),
    };
    Ok(commands.iter().map(|c| text(c)).collect())
}

fn text(args: &[Vec<u8>]) -> String {
    let scripts = [
        (scripts::SET_KEEPING_TTL, "<SET_KEEPING_TTL>"),
        (scripts::LMOVE, "<LMOVE>"),
        (scripts::ZADD_COMPARED, "<ZADD_COMPARED>"),
        (scripts::ZRANGESTORE, "<ZRANGESTORE>"),
        (scripts::ZDIFFSTORE, "<ZDIFFSTORE>"),
        (scripts::COPY, "<COPY>"),
        (scripts::TRIM_MINID, "<TRIM_MINID>"),
        (scripts::HSET_KEEPING_TTLS, "<HSET_KEEPING_TTLS>"),
    ];
    args.iter()
        .map(|arg| {
            let arg = String::from_utf8_lossy(arg).into_owned();
            match scripts.iter().find(|(body, _)| *body == arg) {
                Some((_, name)) => name.to_string(),
                None if arg.is_empty() => "<empty>".to_string(),
                None => arg,
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `command` reaches each of `targets` as `wanted`.
fn check(targets: &[&str], command: &str, wanted: &[&str]) {
    for target in targets {
        assert_eq!(
            sent(target, command),
            Ok(wanted.iter().map(|w| w.to_string()).collect()),
            "{command} into {target:?}"
        );
    }
}

#[test]
fn the_newest_destination_gets_every_form_as_it_is() {
    for command in [
        "SET k v KEEPTTL",
        "SET k v PXAT 5000 NX",
        "SET k v IFEQ old",
        "LPOP l 3",
        "LMOVE a b LEFT RIGHT",
        "ZADD z GT 1 a 2 b",
        "ZRANGESTORE d s 0 -1",
        "ZDIFFSTORE d 2 a b",
        "GEOSEARCHSTORE d s FROMLONLAT 15 37 BYBOX 10 10 km",
        "COPY a b DB 1",
        "PEXPIREAT k 5000 NX",
        "XADD x NOMKSTREAM MINID = 3-0 5-1 f v",
        "XGROUP CREATECONSUMER x g c",
        "XGROUP SETID x g 5-0 ENTRIESREAD 3",
        "XSETID x 5-0 ENTRIESADDED 3 MAXDELETEDID 1-0",
        "FLUSHALL SYNC",
        "SPUBLISH ch m",
        "FUNCTION DELETE lib",
        "HPEXPIREAT h 5000 FIELDS 1 f",
        "HSETEX h PXAT 5000 FIELDS 1 f v",
        "HGETDEL h FIELDS 1 f",
    ] {
        check(&[VALKEY_9_1], command, &[command]);
    }
}

#[test]
fn dialects_follow_the_versions() {
    let of = |info: &str| Dialect::of(&parse_info(info));
    assert!(!of(REDIS_5_0).keep_ttl && of(REDIS_6_0).keep_ttl);
    assert!(!of(REDIS_6_0).redis_6_2 && of(REDIS_6_2).redis_6_2);
    assert!(!of(REDIS_6_2).redis_7_0 && of(REDIS_7_0).redis_7_0 && of(VALKEY_8_1).redis_7_0);
    assert!(!of(VALKEY_8_1).field_ttls && of(REDIS_7_4).field_ttls && of(VALKEY_9_1).field_ttls);
    assert!(!of(REDIS_7_4).hash_ex && of(VALKEY_9_1).hash_ex);
    assert!(!of(REDIS_7_4).set_ifeq && of(VALKEY_8_1).set_ifeq && of(VALKEY_9_1).set_ifeq);
}

#[test]
fn set_options_older_servers_lack() {
    check(
        &[REDIS_5_0],
        "SET k v NX KEEPTTL GET",
        &["EVAL <SET_KEEPING_TTL> 1 k v NX"],
    );
    check(
        &[REDIS_6_0, REDIS_7_0],
        "SET k v KEEPTTL",
        &["SET k v KEEPTTL"],
    );
    check(
        &[REDIS_5_0, REDIS_6_0],
        "SET k v PXAT 5000 NX",
        &["SET k v PX 4000 NX"],
    );
    check(&[REDIS_6_0], "SET k v EXAT 1", &["SET k v PX 1"]);
    check(&[REDIS_6_2], "SET k v PXAT 5000", &["SET k v PXAT 5000"]);
    check(&[REDIS_6_2], "SET k v NX GET", &["SET k v NX"]);
    check(&[REDIS_7_0], "SET k v NX GET", &["SET k v NX GET"]);
    check(&[REDIS_7_4, REDIS_5_0], "SET k v IFEQ old", &["SET k v"]);
    check(&[VALKEY_8_1], "SET k v IFEQ old", &["SET k v IFEQ old"]);
    // A value is never read as an option, an option's argument neither.
    check(&[REDIS_5_0], "SET k KEEPTTL", &["SET k KEEPTTL"]);
    check(&[REDIS_7_4], "SET k v IFEQ GET", &["SET k v"]);
    check(&[REDIS_5_0], "SET k v PX 5", &["SET k v PX 5"]);
}

#[test]
fn counted_pops_are_trims() {
    check(&[REDIS_5_0, REDIS_6_0], "LPOP l 3", &["LTRIM l 3 -1"]);
    check(&[REDIS_5_0], "rpop l 3", &["LTRIM l 0 -4"]);
    check(&[REDIS_5_0], "RPOP l 0", &["LTRIM l 0 -1"]);
    check(
        &[REDIS_5_0],
        "RPOP l 9223372036854775807",
        &["LTRIM l 0 -9223372036854775807"],
    );
    check(&[REDIS_5_0], "LPOP l", &["LPOP l"]);
    check(&[REDIS_6_2], "LPOP l 3", &["LPOP l 3"]);
}

#[test]
fn lmove_is_rpoplpush_or_a_script() {
    check(&[REDIS_5_0], "LMOVE a b RIGHT LEFT", &["RPOPLPUSH a b"]);
    check(
        &[REDIS_6_0],
        "LMOVE a b left right",
        &["EVAL <LMOVE> 2 a b LEFT RIGHT"],
    );
    check(
        &[REDIS_5_0],
        "BLMOVE a a LEFT LEFT 0",
        &["EVAL <LMOVE> 2 a a LEFT LEFT"],
    );
    check(&[REDIS_5_0], "LMOVE a b UP LEFT", &["LMOVE a b UP LEFT"]);
    check(
        &[REDIS_6_2],
        "LMOVE a b LEFT LEFT",
        &["LMOVE a b LEFT LEFT"],
    );
}

#[test]
fn zadd_comparisons() {
    check(&[REDIS_5_0], "ZADD z GT 5 a", &["ZADD z 5 a"]);
    check(
        &[REDIS_5_0],
        "ZADD z LT CH INCR -1 a",
        &["ZADD z CH INCR -1 a"],
    );
    check(
        &[REDIS_6_0],
        "ZADD z XX GT CH 1 a 2 b",
        &["EVAL <ZADD_COMPARED> 1 z GT XX 1 a 2 b"],
    );
    check(
        &[REDIS_5_0],
        "ZADD z lt 1 a 2 b",
        &["EVAL <ZADD_COMPARED> 1 z LT <empty> 1 a 2 b"],
    );
    check(&[REDIS_5_0], "ZADD z NX 1 a 2 b", &["ZADD z NX 1 a 2 b"]);
    // A member named like a flag is a member.
    check(&[REDIS_5_0], "ZADD z 1 GT", &["ZADD z 1 GT"]);
    check(&[REDIS_5_0], "ZADD z GT 5 lt", &["ZADD z 5 lt"]);
}

#[test]
fn stores_of_sorted_sets() {
    check(
        &[REDIS_5_0],
        "ZRANGESTORE d s 0 -1",
        &["EVAL <ZRANGESTORE> 2 d s ZRANGE 1 0 -1 WITHSCORES"],
    );
    check(
        &[REDIS_5_0],
        "ZRANGESTORE d s 0 2 REV",
        &["EVAL <ZRANGESTORE> 2 d s ZREVRANGE 1 0 2 WITHSCORES"],
    );
    check(
        &[REDIS_6_0],
        "ZRANGESTORE d s +inf (1 BYSCORE REV LIMIT 1 2",
        &["EVAL <ZRANGESTORE> 2 d s ZREVRANGEBYSCORE 1 +inf (1 WITHSCORES LIMIT 1 2"],
    );
    check(
        &[REDIS_5_0],
        "ZRANGESTORE d s [a + BYLEX",
        &["EVAL <ZRANGESTORE> 2 d s ZRANGEBYLEX 0 [a +"],
    );
    check(
        &[REDIS_5_0],
        "ZRANGESTORE d s 0 1 LIMIT 0 1",
        &["ZRANGESTORE d s 0 1 LIMIT 0 1"],
    );
    check(
        &[REDIS_5_0],
        "ZDIFFSTORE d 2 a b",
        &["EVAL <ZDIFFSTORE> 3 d a b"],
    );
    check(&[REDIS_5_0], "ZDIFFSTORE d 3 a b", &["ZDIFFSTORE d 3 a b"]);
    check(&[REDIS_6_2], "ZDIFFSTORE d 2 a b", &["ZDIFFSTORE d 2 a b"]);
}

#[test]
fn geosearchstore_is_georadius_store_where_it_can_be() {
    check(
        &[REDIS_5_0],
        "GEOSEARCHSTORE d s FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 2 STOREDIST",
        &["DEL d", "GEORADIUS s 15 37 200 km ASC COUNT 2 STOREDIST d"],
    );
    check(
        &[REDIS_6_0],
        "GEOSEARCHSTORE s s FROMMEMBER m BYRADIUS 5 m",
        &["GEORADIUSBYMEMBER s m 5 m STORE s"],
    );
    for command in [
        "GEOSEARCHSTORE d s FROMMEMBER m BYBOX 1 1 km",
        "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km COUNT 1 ANY",
    ] {
        let refused = sent(REDIS_5_0, command).unwrap_err();
        assert_eq!(refused.needs, "Redis 6.2+", "{command}");
    }
}

#[test]
fn copy_is_a_script() {
    check(
        &[REDIS_5_0],
        "COPY a b DB 1 REPLACE",
        &["EVAL <COPY> 2 a b 1 REPLACE"],
    );
    check(
        &[REDIS_6_0],
        "COPY a b",
        &["EVAL <COPY> 2 a b <empty> <empty>"],
    );
    check(&[REDIS_6_2], "COPY a b", &["COPY a b"]);
}

#[test]
fn options_that_held_on_the_source_or_only_shape_the_reply_go() {
    check(
        &[REDIS_5_0, REDIS_6_2],
        "PEXPIREAT k 5000 NX",
        &["PEXPIREAT k 5000"],
    );
    check(
        &[REDIS_7_0],
        "PEXPIREAT k 5000 GT",
        &["PEXPIREAT k 5000 GT"],
    );
    check(&[REDIS_6_0], "FLUSHALL SYNC", &["FLUSHALL"]);
    check(&[REDIS_6_0], "flushdb async", &["flushdb async"]);
    check(&[REDIS_5_0], "SCRIPT FLUSH ASYNC", &["SCRIPT FLUSH"]);
    check(&[REDIS_6_2], "FLUSHDB SYNC", &["FLUSHDB SYNC"]);
    check(&[REDIS_6_2], "SPUBLISH ch m", &["PUBLISH ch m"]);
    check(&[REDIS_7_0], "SPUBLISH ch m", &["SPUBLISH ch m"]);
}

#[test]
fn stream_trimming() {
    // A replica's link may send LIMIT with an exact trim; a client never.
    check(
        &[REDIS_7_0, VALKEY_9_1],
        "XADD x MAXLEN = 5 LIMIT 100 1-1 f v",
        &["XADD x MAXLEN = 5 1-1 f v"],
    );
    check(
        &[REDIS_7_0],
        "XTRIM x MAXLEN ~ 5 LIMIT 100",
        &["XTRIM x MAXLEN ~ 5 LIMIT 100"],
    );
    check(
        &[REDIS_5_0, REDIS_6_0],
        "XADD x NOMKSTREAM MAXLEN = 5 LIMIT 100 1-1 f v",
        &["XADD x MAXLEN 5 1-1 f v"],
    );
    check(
        &[REDIS_5_0],
        "XADD x MINID = 3 5-1 f v",
        &["XADD x 5-1 f v", "EVAL <TRIM_MINID> 1 x 3-0"],
    );
    check(
        &[REDIS_5_0],
        "XTRIM x MINID 2-5",
        &["EVAL <TRIM_MINID> 1 x 2-5"],
    );
    check(&[REDIS_5_0], "XTRIM x MAXLEN = 5", &["XTRIM x MAXLEN 5"]);
    check(
        &[REDIS_6_2],
        "XTRIM x MINID = 2-5",
        &["XTRIM x MINID = 2-5"],
    );
    // A field named like an option is a field.
    check(&[REDIS_5_0], "XADD x 1-1 LIMIT 5", &["XADD x 1-1 LIMIT 5"]);
}

#[test]
fn consumer_groups() {
    check(
        &[REDIS_5_0, REDIS_6_0],
        "XGROUP CREATECONSUMER x g c",
        &["XREADGROUP GROUP g c COUNT 1 STREAMS x 0"],
    );
    check(
        &[REDIS_6_2],
        "XGROUP CREATECONSUMER x g c",
        &["XGROUP CREATECONSUMER x g c"],
    );
    check(
        &[REDIS_5_0, REDIS_6_2],
        "XGROUP SETID x g 5-0 ENTRIESREAD 3",
        &["XGROUP SETID x g 5-0"],
    );
    check(
        &[REDIS_6_2],
        "XGROUP CREATE x g $ MKSTREAM ENTRIESREAD 1",
        &["XGROUP CREATE x g $ MKSTREAM"],
    );
    check(
        &[REDIS_6_2],
        "XSETID x 5-0 ENTRIESADDED 3 MAXDELETEDID 1-0",
        &["XSETID x 5-0"],
    );
    check(
        &[REDIS_7_0],
        "XGROUP SETID x g 5-0 ENTRIESREAD 3",
        &["XGROUP SETID x g 5-0 ENTRIESREAD 3"],
    );
}

#[test]
fn hash_field_ttls() {
    for command in ["HPEXPIREAT h 5000 FIELDS 1 f", "HEXPIRE h 5 NX FIELDS 1 f"] {
        assert_eq!(
            sent(VALKEY_8_1, command),
            Err(FIELD_TTLS),
            "{command} into Valkey 8.1"
        );
    }
    check(&[REDIS_5_0, VALKEY_8_1], "HPERSIST h FIELDS 1 f", &[]);
    check(
        &[REDIS_7_4],
        "HPERSIST h FIELDS 1 f",
        &["HPERSIST h FIELDS 1 f"],
    );
    check(
        &[REDIS_5_0, REDIS_7_4],
        "HGETDEL h FIELDS 2 a b",
        &["HDEL h a b"],
    );
    check(
        &[REDIS_7_4],
        "HSETEX h FNX PXAT 5000 FIELDS 2 a 1 b 2",
        &["HSET h a 1 b 2", "HPEXPIREAT h 5000 FIELDS 2 a b"],
    );
    check(
        &[REDIS_7_4],
        "HSETEX h EX 5 FIELDS 1 a 1",
        &["HSET h a 1", "HPEXPIREAT h 6000 FIELDS 1 a"],
    );
    assert_eq!(
        sent(REDIS_7_0, "HSETEX h PXAT 5000 FIELDS 1 a 1"),
        Err(FIELD_TTLS)
    );
    check(
        &[REDIS_7_4],
        "HSETEX h KEEPTTL FIELDS 1 a 1",
        &["EVAL <HSET_KEEPING_TTLS> 1 h a 1"],
    );
    check(
        &[REDIS_7_0, REDIS_5_0],
        "HSETEX h KEEPTTL FIELDS 1 a 1",
        &["HSET h a 1"],
    );
    check(&[REDIS_7_4], "HSETEX h FIELDS 1 a 1", &["HSET h a 1"]);
    check(
        &[REDIS_7_4],
        "HSETEX h FIELDS 2 a 1",
        &["HSETEX h FIELDS 2 a 1"],
    );
}

#[test]
fn functions_need_7_0() {
    let refused = sent(REDIS_6_2, "FUNCTION LOAD code").unwrap_err();
    assert_eq!(refused.what, "function libraries");
    check(&[REDIS_7_0], "FUNCTION FLUSH", &["FUNCTION FLUSH"]);
}

#[test]
fn commands_every_destination_knows_pass_untouched() {
    for command in ["INCR n", "HSET h f v", "DEL a b", "XADD x 1-1 f v", "PING"] {
        check(&[REDIS_5_0, REDIS_7_4], command, &[command]);
    }
}
