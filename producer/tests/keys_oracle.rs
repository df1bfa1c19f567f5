//! `CommandTable::key_indices` against each server's own `COMMAND GETKEYS`, on every server
//! version at hand: a corpus of write commands (each checked only where the version has it),
//! keyless commands, Redis Stack module commands, and a no-panic sweep over the whole table.
//!
//! Debian's `/usr/bin/redis-server` (7.0.15) always runs. The other versions come from
//! `scripts/install-servers.sh $SERVERS_DIR` (default `/work/.cache/servers`); a version whose
//! binary is missing is skipped with a note.

use slotstream_producer::keys::CommandTable;
use std::fs::{self, File};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Write commands with realistic arguments. `''` is an empty argument; `<dump>`, `<script>`
/// and `<lib>` stand for a DUMP payload, a Lua script and a function library.
const CORPUS: &[&str] = &[
    "SET user:1 alice",
    "set user:2 bob EX 60 NX",
    "SET counter 10 GET",
    "SETEX session:9 3600 token",
    "PSETEX lock 1500 owner",
    "SETNX once 1",
    "GETSET old new",
    "GETDEL ephemeral",
    "GETEX user:1 PERSIST",
    "APPEND log line",
    "SETRANGE greeting 6 Redis",
    "INCR hits",
    "incrby hits 5",
    "INCRBYFLOAT price 1.25",
    "DECRBY stock 2",
    "MSET k1 v1 k2 v2 k3 v3 k4 v4 k5 v5",
    "MSETNX n1 v1 n2 v2 n3 v3",
    "DEL a b c d e f g",
    "UNLINK big:1 big:2 big:3",
    "EXPIRE session:9 100",
    "PEXPIREAT session:9 1999999999000",
    "PERSIST session:9",
    "RENAME old new",
    "RENAMENX old new",
    "COPY src dst DB 0 REPLACE",
    "MOVE user:1 1",
    "RESTORE restored 0 <dump> REPLACE",
    "OBJECT ENCODING user:1",
    "TOUCH a b c",
    "HSET user:h name alice age 30 city rome lang it",
    "HSETNX user:h email a@b.c",
    "HINCRBY user:h age 1",
    "HINCRBYFLOAT user:h score 0.5",
    "HDEL user:h city lang",
    "HEXPIRE user:h 60 FIELDS 2 name age",
    "LPUSH queue a b c",
    "RPUSH queue d",
    "LPOP queue 2",
    "RPOPLPUSH queue done",
    "LMOVE queue done LEFT RIGHT",
    "BLMOVE queue done RIGHT LEFT 0",
    "LINSERT queue BEFORE a z",
    "LSET queue 0 x",
    "LTRIM queue 0 99",
    "LREM queue 0 x",
    "LMPOP 2 q1 q2 LEFT COUNT 2",
    "BLMPOP 0 2 q1 q2 RIGHT",
    "SADD tags a b c",
    "SREM tags a",
    "SMOVE tags archive b",
    "SPOP tags 2",
    "SUNIONSTORE all s1 s2 s3",
    "SINTERSTORE common s1 s2",
    "SDIFFSTORE only s1 s2",
    "SINTERCARD 2 s1 s2 LIMIT 5",
    "SMISMEMBER tags a b",
    "ZADD board 10 alice 20 bob",
    "ZINCRBY board 5 alice",
    "ZREM board bob",
    "ZPOPMIN board 2",
    "ZREMRANGEBYSCORE board -inf 0",
    "ZUNIONSTORE out 3 z1 z2 z3 WEIGHTS 1 2 3 AGGREGATE MAX",
    "zinterstore out 2 z1 z2",
    "ZDIFFSTORE out 2 z1 z2",
    "ZRANGESTORE top board 0 9 REV",
    "ZMPOP 2 z1 z2 MIN COUNT 1",
    "BZMPOP 0 2 z1 z2 MAX",
    "ZUNION 2 z1 z2 WITHSCORES",
    "ZINTERCARD 2 z1 z2",
    "BITOP AND dst b1 b2 b3",
    "BITFIELD bits SET i8 0 100 INCRBY u4 8 1",
    "SETBIT bits 7 1",
    "PFADD visitors a b c",
    "PFMERGE all h1 h2 h3",
    "GEOADD places 13.361389 38.115556 palermo",
    "GEORADIUS places 15 37 200 km STORE near",
    "GEORADIUSBYMEMBER places palermo 100 km STOREDIST dists",
    "GEOSEARCHSTORE near places FROMLONLAT 15 37 BYRADIUS 200 km ASC",
    "SORT list BY weight_* GET object_* LIMIT 0 10 STORE sorted",
    "sort list ALPHA DESC",
    "XADD events * kind click",
    "XADD events MAXLEN ~ 1000 * kind view",
    "XTRIM events MAXLEN 100",
    "XDEL events 1-0",
    "XACK events workers 1-0 2-0",
    "XGROUP CREATE events workers $ MKSTREAM",
    "XGROUP SETID events workers 0",
    "XGROUP DESTROY events workers",
    "XGROUP CREATECONSUMER events workers alice",
    "xgroup delconsumer events workers alice",
    "XCLAIM events workers alice 3600000 1-0 2-0",
    "XAUTOCLAIM events workers alice 3600000 0-0 COUNT 10",
    "XSETID events 5-0",
    "XREADGROUP GROUP workers alice COUNT 10 STREAMS s1 s2 > >",
    "XREAD COUNT 2 STREAMS s1 s2 s3 0 0 0",
    "EVAL <script> 0",
    "EVAL <script> 1 k v",
    "eval <script> 3 a b c x",
    "EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 2 a b x",
    "EVAL_RO <script> 1 k",
    "FCALL myfunc 2 a b x",
    "FCALL_RO myfunc 1 a",
    "MIGRATE 127.0.0.1 7000 user:1 0 5000",
    "MIGRATE 127.0.0.1 7000 '' 0 5000 COPY REPLACE KEYS a b c",
    "MSETEX 2 a 1 b 2 EX 100",
];

/// Commands without keys (a channel is not a key).
const KEYLESS: &[&str] = &[
    "FLUSHALL",
    "flushall ASYNC",
    "FLUSHDB",
    "SWAPDB 0 1",
    "SELECT 1",
    "PING",
    "ping",
    "MULTI",
    "EXEC",
    "SCRIPT LOAD <script>",
    "SCRIPT FLUSH",
    "FUNCTION LOAD <lib>",
    "FUNCTION DELETE mylib",
    "PUBLISH news hello",
    "SPUBLISH news hello",
    "EVAL <script> 0",
    "FCALL myfunc 0",
];

/// Module commands of the Redis Stack modules loaded by [`redis_7_4_1_with_stack_modules`].
const MODULES: &[&str] = &[
    "JSON.SET doc $ {\"a\":1,\"arr\":[]}",
    "JSON.MSET d1 $ 1 d2 $ 2",
    "JSON.DEL doc $.a",
    "JSON.ARRAPPEND doc $.arr 1",
    "json.numincrby doc $.a 1",
    "BF.RESERVE bloom 0.01 1000",
    "BF.ADD bloom x",
    "BF.MADD bloom a b",
    "CF.ADD cuckoo x",
    "TS.CREATE temp RETENTION 0",
    "TS.ADD temp 1 1.5",
    "TS.MADD t1 1 1 t2 2 2",
    "TS.CREATERULE temp avg AGGREGATION avg 60000",
    "FT.CREATE idx ON HASH PREFIX 1 doc: SCHEMA title TEXT",
    "FT.DROPINDEX idx",
];

const SCRIPT: &str = "return redis.call('set', KEYS[1], ARGV[1])";
const LIBRARY: &str = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) \
    return redis.call('set', keys[1], args[1]) end)";

/// Errors with which `COMMAND GETKEYS` says "no keys" (the wording differs by version; 7.0
/// refuses a command with no arguments at all).
const NO_KEYS: &[&str] = &[
    "The command has no key arguments",
    "Invalid arguments specified for command",
    "wrong number of arguments for 'command|getkeys'",
];

/// A server on a free loopback port in its own temp dir; killed and removed on drop.
struct Server {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Server {
    fn start(binary: &Path, extra: &[&str]) -> Server {
        for attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let dir = std::env::temp_dir().join(format!(
                "slotstream-keys-{}-{port}-{attempt}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).expect("temp dir");
            let log = File::create(dir.join("server.log")).expect("server.log");
            let child = Command::new(binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(&dir)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            let mut server = Server { child, dir, port };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if server.child.try_wait().ok().flatten().is_some() {
                    break; // exited: most likely the port was taken meanwhile
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    let mut conn = server.connect();
                    if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                        return server;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let log = fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
            eprintln!("{} did not start on port {port}:\n{log}", binary.display());
        }
        panic!("could not start {}", binary.display());
    }

    fn connect(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .expect("client");
        client.get_connection().expect("connection")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Arguments of a corpus line, placeholders filled in.
fn args(line: &str, dump: &[u8]) -> Vec<Vec<u8>> {
    line.split_whitespace()
        .map(|word| match word {
            "''" => Vec::new(),
            "<dump>" => dump.to_vec(),
            "<script>" => SCRIPT.as_bytes().to_vec(),
            "<lib>" => LIBRARY.as_bytes().to_vec(),
            _ => word.as_bytes().to_vec(),
        })
        .collect()
}

/// The server's keys for `args`, by name; `None` if it says the command has no keys.
fn server_keys(conn: &mut redis::Connection, args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    match redis::cmd("COMMAND").arg("GETKEYS").arg(args).query::<Vec<Vec<u8>>>(conn) {
        Ok(keys) => Ok(keys),
        Err(e) if NO_KEYS.iter().any(|m| e.to_string().contains(m)) => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

fn known(conn: &mut redis::Connection, name: &[u8]) -> bool {
    let info: Vec<redis::Value> = redis::cmd("COMMAND").arg("INFO").arg(name).query(conn).expect("COMMAND INFO");
    !matches!(info.first(), None | Some(redis::Value::Nil))
}

/// Checks `corpus` and [`KEYLESS`] on one server; panics listing every disagreement.
fn check(label: &str, binary: &Path, extra: &[&str], corpus: &[&str]) {
    let server = Server::start(binary, extra);
    let mut conn = server.connect();
    let table = CommandTable::load(&mut conn).unwrap_or_else(|e| panic!("{label}: {e}"));
    let _: () = redis::cmd("SET").arg("dumped").arg("value").query(&mut conn).expect("SET");
    let dump: Vec<u8> = redis::cmd("DUMP").arg("dumped").query(&mut conn).expect("DUMP");
    let (mut agreed, mut skipped, mut failures) = (0, Vec::new(), Vec::new());
    for (line, keyless) in corpus.iter().map(|l| (l, false)).chain(KEYLESS.iter().map(|l| (l, true))) {
        let args = args(line, &dump);
        if !known(&mut conn, &args[0]) {
            skipped.push(line.split(' ').next().unwrap_or(line));
            continue;
        }
        let ours = match table.key_indices(&args) {
            Ok(found) => found.iter().map(|&i| args[i].clone()).collect::<Vec<_>>(),
            Err(e) => {
                failures.push(format!("{line}: {e}"));
                continue;
            }
        };
        let theirs = match server_keys(&mut conn, &args) {
            Ok(keys) => keys,
            Err(e) => {
                failures.push(format!("{line}: COMMAND GETKEYS failed: {e}"));
                continue;
            }
        };
        // GETKEYS lists some destinations after their sources; compare as multisets.
        let (mut a, mut b) = (ours.clone(), theirs.clone());
        a.sort();
        b.sort();
        if a != b || (keyless && !ours.is_empty()) {
            let show = |k: &[Vec<u8>]| k.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>();
            failures.push(format!("{line}: ours {:?}, server {:?}", show(&ours), show(&theirs)));
        } else {
            agreed += 1;
        }
    }
    sweep(label, &table);
    eprintln!("{label}: {agreed} commands agree with COMMAND GETKEYS; not in this version: {skipped:?}");
    assert!(failures.is_empty(), "{label}: {} disagreements:\n{}", failures.len(), failures.join("\n"));
}

/// Every command and subcommand of the real table with junk arguments: no panic, and any
/// indices found are in range and ascending.
fn sweep(label: &str, table: &CommandTable) {
    const JUNK: &[&str] = &["0", "2", "-1", "99999999999999999999", "", "STORE", "KEYS", "STREAMS", "k"];
    for info in table.iter() {
        let subs: Vec<String> = info.subcommands().map(|s| s.name.replace('|', " ")).collect();
        for name in std::iter::once(info.name.clone()).chain(subs) {
            for len in 0..10 {
                for shift in 0..JUNK.len() {
                    let mut args: Vec<Vec<u8>> = name.split(' ').map(|p| p.as_bytes().to_vec()).collect();
                    args.extend((0..len).map(|i| JUNK[(i * 7 + shift) % JUNK.len()].as_bytes().to_vec()));
                    if let Ok(found) = table.key_indices(&args) {
                        let fine = found.windows(2).all(|w| w[0] < w[1]) && found.iter().all(|&i| i < args.len());
                        assert!(fine, "{label}: {args:?} gave {found:?}");
                    }
                }
            }
        }
    }
}

fn servers_dir() -> PathBuf {
    std::env::var_os("SERVERS_DIR").map_or_else(|| PathBuf::from("/work/.cache/servers"), PathBuf::from)
}

/// Runs the check on an installed version, or prints why it is skipped.
fn versioned(name: &str, extra: &[&str], corpus: &[&str]) {
    let binary = servers_dir().join("bin").join(name);
    if !binary.exists() {
        eprintln!("note: {} is missing (scripts/install-servers.sh); skipping {name}", binary.display());
        return;
    }
    check(name, &binary, extra, corpus);
}

#[test]
fn debian_redis_7_0_15() {
    check("redis-7.0.15 (Debian)", Path::new("/usr/bin/redis-server"), &[], CORPUS);
}

#[test]
fn redis_5_0_10() {
    versioned("redis-5.0.10", &[], CORPUS);
}

#[test]
fn redis_6_0_9() {
    versioned("redis-6.0.9", &[], CORPUS);
}

#[test]
fn redis_6_2_14() {
    versioned("redis-6.2.14", &[], CORPUS);
}

#[test]
fn redis_7_4_1() {
    versioned("redis-7.4.1", &[], CORPUS);
}

#[test]
fn valkey_8_1_8() {
    versioned("valkey-8.1.8", &[], CORPUS);
}

#[test]
fn valkey_9_1_2() {
    versioned("valkey-9.1.2", &[], CORPUS);
}

#[test]
fn redis_7_4_1_with_stack_modules() {
    let modules = servers_dir().join("stack-modules");
    if !modules.exists() {
        eprintln!("note: {} is missing; skipping the module commands", modules.display());
        return;
    }
    let module = |name: &str| modules.join(name).to_string_lossy().into_owned();
    let (json, bloom, ts, search) =
        (module("rejson.so"), module("redisbloom.so"), module("redistimeseries.so"), module("redisearch.so"));
    let extra = ["--loadmodule", &json, "--loadmodule", &bloom, "--loadmodule", &ts, "--loadmodule", &search];
    versioned("redis-7.4.1", &extra, MODULES);
}
