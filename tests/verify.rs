//! `slotstream_verify` against two real servers: an identical pair is reported identical, and
//! each kind of difference, made one at a time on the target, is reported with its key, kind and
//! reason. A few cases run the `slotstream verify` command itself, for its output and exit code.
//!
//! Every case on the default server also runs the independent checker
//! ([`common::assert_same_contents`]) and expects it to agree, so the two checkers vouch for
//! each other. Hash field TTLs, which that checker does not read, are checked on installed
//! Redis 7.4 and 7.0 servers (`scripts/install-servers.sh`).

mod common;

use common::dataset::{self, keys, DatasetSummary};
use common::{assert_same_contents_with, compare, describe, run_verify, RedisServer};
use slotstream_verify::{DiffKind, Difference, Role, VerifyError, VerifyReport};

/// Two servers holding the full dataset, written to both at the same time so that TTLs and
/// stream time stamps differ by far less than the default tolerance.
struct Pair {
    source: RedisServer,
    target: RedisServer,
    summary: DatasetSummary,
}

impl Pair {
    fn new() -> Pair {
        let (source, target) = (RedisServer::start(), RedisServer::start());
        let (mut src, mut tgt) = (source.conn(), target.conn());
        let (summary, other) = std::thread::scope(|scope| {
            let a = scope.spawn(|| dataset::write_full(&mut src));
            let b = scope.spawn(|| dataset::write_full(&mut tgt));
            (
                a.join().expect("write source"),
                b.join().expect("write target"),
            )
        });
        assert_eq!(summary, other);
        Pair {
            source,
            target,
            summary,
        }
    }

    /// The library's report on the pair.
    fn report(&self) -> VerifyReport {
        compare(&self.source.url(), &self.target.url())
            .unwrap_or_else(|err| panic!("verify could not compare: {err}"))
    }

    /// Runs a command on the target, in db `db`.
    fn on_target(&self, db: i64, args: &[&[u8]]) {
        let mut conn = self.target.conn();
        redis::cmd("SELECT")
            .arg(db)
            .exec(&mut conn)
            .expect("SELECT");
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("a command name"));
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.exec(&mut conn).expect("command on the target");
    }

    /// Asserts exactly one difference, on `key` in `db`, of `kind`, whose reason starts with
    /// `reason`; and that the independent checker sees a difference too. Returns the reason.
    fn assert_one_difference(&self, db: i64, key: &str, kind: DiffKind, reason: &str) -> String {
        let report = self.report();
        let text = describe(&report);
        let [found] = &report.differences[..] else {
            panic!("not exactly one difference:\n{text}");
        };
        assert_eq!(
            (found.db, found.key.as_slice(), found.kind),
            (db, key.as_bytes(), kind),
            "{text}"
        );
        assert!(found.reason.starts_with(reason), "{text}");
        let total = report.total();
        assert_eq!(
            (total.differences(), total.keys_differing),
            (1, 1),
            "{text}"
        );
        let (source, target) = (self.source.url(), self.target.url());
        let checked = std::panic::catch_unwind(|| assert_same_contents_with(&source, &target, 0));
        assert!(checked.is_err(), "the independent checker missed it: {key}");
        found.reason.clone()
    }
}

#[test]
fn identical_copies_pass() {
    let pair = Pair::new();
    let report = pair.report();
    let total = pair.summary.total();
    assert!(report.is_identical(), "{}", describe(&report));
    let counts = report.total();
    assert_eq!(
        (counts.compared, counts.identical, report.dbs.len()),
        (total as u64, total as u64, 4),
        "{report:?}"
    );
    pair.summary.assert_matches(&pair.target.url());
    assert_eq!(
        assert_same_contents_with(&pair.source.url(), &pair.target.url(), 0),
        total
    );
}

/// The command prints the report and exits 0 for an identical pair.
#[test]
fn command_prints_identical_and_exits_0() {
    let pair = Pair::new();
    let run = run_verify(
        &pair.source.url(),
        &pair.target.url(),
        &["--ttl-extension-secs", "0"],
    );
    let total = pair.summary.total();
    assert_eq!(run.code, Some(0), "{}", run.text());
    assert_eq!(
        run.stdout.lines().last(),
        Some(format!("verify: identical ({total} keys in 4 dbs)").as_str()),
        "{}",
        run.text()
    );
}

#[test]
fn bookkeeping_keys_are_ignored() {
    let pair = Pair::new();
    pair.on_target(0, &[b"SET", b"__slotstream:checkpoint", b"{\"offset\":1}"]);
    let report = pair.report();
    assert!(report.is_identical(), "{}", describe(&report));
    assert_same_contents_with(&pair.source.url(), &pair.target.url(), 0);
}

#[test]
fn changed_string_value() {
    let pair = Pair::new();
    pair.on_target(0, &[b"SET", keys::EMBSTR.as_bytes(), b"hellO-db0"]);
    let reason = pair.assert_one_difference(0, keys::EMBSTR, DiffKind::ValueDiffers, "");
    assert_eq!(reason, "string differs at byte 4 of 9");
}

#[test]
fn missing_key() {
    let pair = Pair::new();
    pair.on_target(0, &[b"DEL", keys::HASH_SMALL.as_bytes()]);
    let reason = pair.assert_one_difference(0, keys::HASH_SMALL, DiffKind::MissingOnTarget, "");
    assert_eq!(reason, "hash only on source");
}

#[test]
fn extra_key_on_target() {
    let pair = Pair::new();
    pair.on_target(0, &[b"SET", b"only:on:target", b"x"]);
    let reason = pair.assert_one_difference(0, "only:on:target", DiffKind::ExtraOnTarget, "");
    assert_eq!(reason, "string only on target");
}

#[test]
fn ttl_on_one_side_only() {
    let pair = Pair::new();
    pair.on_target(0, &[b"EXPIRE", keys::NO_TTL.as_bytes(), b"3600"]);
    pair.assert_one_difference(0, keys::NO_TTL, DiffKind::TtlDiffers, "ttl none vs 3");
}

#[test]
fn ttl_differs_by_a_minute() {
    let pair = Pair::new();
    let mut conn = pair.target.conn();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys::STRING_TTL)
        .query(&mut conn)
        .expect("PTTL");
    let later = (ttl + 60_000).to_string();
    pair.on_target(
        0,
        &[b"PEXPIRE", keys::STRING_TTL.as_bytes(), later.as_bytes()],
    );
    let reason = pair.assert_one_difference(0, keys::STRING_TTL, DiffKind::TtlDiffers, "ttl ");
    let by: u64 = reason
        .split("expiry differs by ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("no expiry difference in {reason:?}"));
    assert!((57_000..=63_000).contains(&by), "{reason}");
}

#[test]
fn hash_field_changed() {
    let pair = Pair::new();
    pair.on_target(
        0,
        &[
            b"HSET",
            keys::HASH_LARGE.as_bytes(),
            b"field-500",
            b"changed",
        ],
    );
    let reason = pair.assert_one_difference(0, keys::HASH_LARGE, DiffKind::ValueDiffers, "");
    assert_eq!(
        reason,
        "hash field \"field-500\" value \"value-500-db0\" vs \"changed\""
    );
}

#[test]
fn zset_score_changed() {
    let pair = Pair::new();
    pair.on_target(
        0,
        &[
            b"ZADD",
            keys::ZSET_LARGE.as_bytes(),
            b"12345.5",
            b"m-100-db0",
        ],
    );
    let reason = pair.assert_one_difference(0, keys::ZSET_LARGE, DiffKind::ValueDiffers, "");
    assert!(
        reason.starts_with("zset member \"m-100-db0\" score ")
            && reason.ends_with(" vs \"12345.5\""),
        "{reason}"
    );
}

#[test]
fn stream_with_one_more_entry() {
    let pair = Pair::new();
    pair.on_target(
        0,
        &[
            b"XADD",
            keys::STREAM.as_bytes(),
            b"9999999999999-0",
            b"k",
            b"v",
        ],
    );
    let reason = pair.assert_one_difference(0, keys::STREAM, DiffKind::ValueDiffers, "");
    assert_eq!(reason, "stream length 1000 vs 1001");
}

#[test]
fn stream_group_last_delivered_id_differs() {
    let pair = Pair::new();
    pair.on_target(
        0,
        &[b"XGROUP", b"SETID", keys::STREAM.as_bytes(), b"g-new", b"0"],
    );
    pair.assert_one_difference(
        0,
        keys::STREAM,
        DiffKind::ValueDiffers,
        "stream group \"g-new\" last-delivered-id ",
    );
}

#[test]
fn key_of_another_type() {
    let pair = Pair::new();
    pair.on_target(0, &[b"DEL", keys::RAW.as_bytes()]);
    pair.on_target(0, &[b"RPUSH", keys::RAW.as_bytes(), b"a"]);
    let reason = pair.assert_one_difference(0, keys::RAW, DiffKind::TypeDiffers, "");
    assert_eq!(reason, "type string vs list");
}

#[test]
fn difference_in_another_db() {
    let pair = Pair::new();
    pair.on_target(15, &[b"SADD", keys::SET_LARGE.as_bytes(), b"intruder"]);
    let reason = pair.assert_one_difference(15, keys::SET_LARGE, DiffKind::ValueDiffers, "");
    assert_eq!(reason, "set member count 10000 vs 10001");
}

/// Keys are reported as the servers hold them; the command prints them escaped, and exits 1.
#[test]
fn binary_and_empty_keys_are_named() {
    let pair = Pair::new();
    pair.on_target(2, &[b"SET", keys::BINARY_KEY, b"changed"]);
    pair.on_target(2, &[b"SET", keys::EMPTY_KEY.as_bytes(), b"changed"]);
    let report = pair.report();
    let mut keys: Vec<(i64, &[u8], DiffKind)> = report
        .differences
        .iter()
        .map(|d| (d.db, d.key.as_slice(), d.kind))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (2, b"".as_slice(), DiffKind::ValueDiffers),
            (2, keys::BINARY_KEY, DiffKind::ValueDiffers)
        ],
        "{}",
        describe(&report)
    );

    let run = run_verify(
        &pair.source.url(),
        &pair.target.url(),
        &["--ttl-extension-secs", "0"],
    );
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(
        run.stdout
            .contains("db 2 \"bin:\\x00\\xff\\x0d\\x0a\\x7fkey\":"),
        "{}",
        run.text()
    );
    assert!(
        run.stdout.contains("db 2 \"\": value differs"),
        "{}",
        run.text()
    );
    assert_eq!(
        run.stdout.lines().last(),
        Some("verify: 2 differences in 2 keys")
    );
}

#[test]
fn bad_password_names_the_side_and_address() {
    let source = RedisServer::start();
    let target = RedisServer::start_with_args(&["--requirepass", "secret"]);
    let addr = format!("127.0.0.1:{}", target.port());
    for url in [target.url(), target.url_with_password("not-the-password")] {
        let err = compare(&source.url(), &url).expect_err("a wrong password is refused");
        let VerifyError::Authentication {
            role: Role::Target,
            addr: ref named,
            ..
        } = err
        else {
            panic!("not an authentication error of the target: {err:?}");
        };
        assert_eq!(named, &addr);
        let message = err.to_string();
        assert!(message.contains("password"), "{message}");
        assert!(!message.contains("not-the-password"), "{message}");
    }
    let report = compare(&source.url(), &target.url_with_password("secret"))
        .expect("the right password is accepted");
    assert!(report.is_identical(), "{}", describe(&report));
}

/// The command names the server it cannot reach, on stderr, and fails.
#[test]
fn unreachable_server_is_named() {
    let source = RedisServer::start();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let run = run_verify(
        &format!("redis://127.0.0.1:{port}"),
        &source.url(),
        &["--ttl-extension-secs", "0"],
    );
    assert_ne!(run.code, Some(0), "{}", run.text());
    assert!(
        run.stderr
            .contains(&format!("cannot reach the source at 127.0.0.1:{port}")),
        "{}",
        run.text()
    );
}

/// A ~50 MB string and a 1,000,000-field hash: compared in full, and one changed byte or field
/// is found.
#[test]
fn big_keys() {
    let (source, target) = (RedisServer::start(), RedisServer::start());
    let (mut src, mut tgt) = (source.conn(), target.conn());
    let summary = std::thread::scope(|scope| {
        let a = scope.spawn(|| dataset::write_big(&mut src));
        let b = scope.spawn(|| dataset::write_big(&mut tgt));
        b.join().expect("write target");
        a.join().expect("write source")
    });
    summary.assert_matches(&target.url());
    let report = compare(&source.url(), &target.url()).expect("compare");
    assert!(report.is_identical(), "{}", describe(&report));
    assert_eq!((report.total().compared, report.dbs.len()), (2, 1));
    assert_eq!(
        assert_same_contents_with(&source.url(), &target.url(), 0),
        2
    );

    let _: () = redis::cmd("HSET")
        .arg(keys::BIG_HASH)
        .arg("field:777777")
        .arg("changed")
        .query(&mut tgt)
        .map(|_: i64| ())
        .expect("HSET");
    let _: () = redis::cmd("SETRANGE")
        .arg(keys::BIG_STRING)
        .arg(40_000_000)
        .arg("!")
        .query(&mut tgt)
        .map(|_: i64| ())
        .expect("SETRANGE");
    let report = compare(&source.url(), &target.url()).expect("compare");
    let mut differences = report.differences.clone();
    differences.sort_by(|a, b| a.key.cmp(&b.key));
    let difference = |key: &str, reason: &str| Difference {
        db: 0,
        key: key.as_bytes().to_vec(),
        kind: DiffKind::ValueDiffers,
        reason: reason.to_string(),
    };
    assert_eq!(
        differences,
        [
            difference(
                "big:hash",
                "hash field \"field:777777\" value \"value:777777\" vs \"changed\""
            ),
            difference("big:string", "string differs at byte 40000000 of 52428800"),
        ],
        "{}",
        describe(&report)
    );
}

/// The dataset really holds the encodings it promises (checked on 7.0, where they are known).
#[test]
fn dataset_covers_the_encodings() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    let summary = dataset::write_full(&mut conn);
    assert_eq!(summary.keys_per_db.len(), dataset::FULL_DBS.len());
    assert!(
        summary.keys_per_db.values().all(|n| *n == 32),
        "{summary:?}"
    );
    summary.assert_matches(&server.url());
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut conn)
        .expect("INFO");
    if !info.contains("redis_version:7.0.") {
        return;
    }
    for (key, encoding) in [
        (keys::INT, "int"),
        (keys::EMBSTR, "embstr"),
        (keys::RAW, "raw"),
        (keys::EMPTY_VALUE, "embstr"),
        (keys::LIST_SMALL, "quicklist"),
        (keys::SET_INTSET, "intset"),
        (keys::SET_INTSET_LARGE, "intset"),
        (keys::SET_INTS_HASHTABLE, "hashtable"),
        (keys::SET_SMALL, "hashtable"),
        (keys::SET_LARGE, "hashtable"),
        (keys::ZSET_SMALL, "listpack"),
        (keys::ZSET_LARGE, "skiplist"),
        (keys::HASH_SMALL, "listpack"),
        (keys::HASH_LARGE, "hashtable"),
        (keys::STREAM, "stream"),
    ] {
        let actual: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query(&mut conn)
            .expect("OBJECT ENCODING");
        assert_eq!(actual, encoding, "{key}");
    }
    let (pending, _, _, _): (i64, redis::Value, redis::Value, redis::Value) =
        redis::cmd("XPENDING")
            .arg(keys::STREAM)
            .arg("g-all")
            .query(&mut conn)
            .expect("XPENDING");
    assert_eq!(pending, 120, "69 of alice's, 51 of bob's");
    let len: i64 = redis::cmd("XLEN")
        .arg(keys::STREAM)
        .query(&mut conn)
        .expect("XLEN");
    assert_eq!(len as usize, dataset::STREAM_ENTRIES);
}

/// Writes `h:small` (3 fields) and `h:big` (2,500 fields, read page by page) to a server.
fn write_field_hashes(conn: &mut redis::Connection) {
    redis::cmd("HSET")
        .arg("h:small")
        .arg(&["a", "1", "b", "2", "c", "3"])
        .exec(conn)
        .expect("HSET h:small");
    let mut cmd = redis::cmd("HSET");
    cmd.arg("h:big");
    for i in 0..2500 {
        cmd.arg(format!("field:{i}")).arg(format!("value:{i}"));
    }
    cmd.exec(conn).expect("HSET h:big");
}

/// `HPEXPIREAT key at FIELDS 1 field`.
fn expire_field(conn: &mut redis::Connection, key: &str, field: &str, at: i64) {
    let set: Vec<i64> = redis::cmd("HPEXPIREAT")
        .arg(key)
        .arg(at)
        .arg("FIELDS")
        .arg(1)
        .arg(field)
        .query(conn)
        .expect("HPEXPIREAT");
    assert_eq!(set, [1], "{key} {field}");
}

/// Hash field TTLs (Redis 7.4+): one on the source only is a difference naming the field,
/// the same on both sides is not, a target without field TTLs has lost them, and a source
/// without them has none to compare.
#[test]
fn hash_field_ttls() {
    let Some(redis74) = common::versions::binary("redis-7.4.1") else {
        return;
    };
    let source = RedisServer::start_binary(&redis74, &[]);
    let target = RedisServer::start_binary(&redis74, &[]);
    let (mut src, mut tgt) = (source.conn(), target.conn());
    write_field_hashes(&mut src);
    write_field_hashes(&mut tgt);
    let at = slotstream_schemas::now_ms() + 3_600_000;
    expire_field(&mut src, "h:small", "b", at);
    expire_field(&mut src, "h:big", "field:2345", at);

    let report = compare(&source.url(), &target.url()).expect("compare");
    let text = describe(&report);
    assert_eq!(report.differences.len(), 2, "{text}");
    for (key, field) in [("h:small", "b"), ("h:big", "field:2345")] {
        let start = format!("hash field \"{field}\" ttl ");
        let found = report
            .differences
            .iter()
            .find(|d| d.key == key.as_bytes())
            .unwrap_or_else(|| panic!("no difference for {key}:\n{text}"));
        assert_eq!(found.kind, DiffKind::TtlDiffers, "{text}");
        assert!(
            found.reason.starts_with(&start) && found.reason.ends_with(" vs none"),
            "{text}"
        );
    }

    expire_field(&mut tgt, "h:small", "b", at + 500);
    expire_field(&mut tgt, "h:big", "field:2345", at - 500);
    let report = compare(&source.url(), &target.url()).expect("compare");
    assert!(report.is_identical(), "{}", describe(&report));
    assert_eq!(report.total().compared, 2);

    let Some(redis70) = common::versions::binary("redis-7.0.15") else {
        return;
    };
    let old = RedisServer::start_binary(&redis70, &[]);
    write_field_hashes(&mut old.conn());
    let report = compare(&source.url(), &old.url()).expect("compare");
    let text = describe(&report);
    let reasons: Vec<(&[u8], DiffKind, &str)> = report
        .differences
        .iter()
        .map(|d| (d.key.as_slice(), d.kind, d.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 2, "{text}");
    for (key, field) in [("h:small", "b"), ("h:big", "field:2345")] {
        assert!(
            reasons.iter().any(|(k, kind, reason)| *k == key.as_bytes()
                && *kind == DiffKind::TtlDiffers
                && reason.starts_with(&format!("hash field \"{field}\" ttl "))
                && reason.ends_with(" vs none (the target has no hash field TTLs)")),
            "{key}:\n{text}"
        );
    }
    let report = compare(&old.url(), &source.url()).expect("compare");
    assert!(report.is_identical(), "{}", describe(&report));
}
