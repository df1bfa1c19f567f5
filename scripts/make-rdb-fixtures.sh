#!/usr/bin/env bash
# Regenerates the RDB parser's fixtures from real servers: for each version it starts the
# server on a free loopback port in a temporary dir, writes a small dataset that covers every
# type and encoding that version can produce, runs SAVE and stores
#   rdb/tests/fixtures/<version>.rdb    the dump.rdb the server wrote
#   rdb/tests/fixtures/<version>.dumps  one line per key, from the server's own commands:
#       <db> <hex key> <hex DUMP payload> <expiry>
#     where <expiry> is "-" (no TTL), the absolute expiry in ms (PEXPIRETIME, 7.0 and later), or
#     "~ms" (now + PTTL on older servers, so only accurate to a few ms).
#
# usage: scripts/make-rdb-fixtures.sh [VERSION...]   (default: all seven)
# Servers are looked up in $SERVERS_DIR/bin (default ~/.cache/slotstream/servers, or under
# $XDG_CACHE_HOME; filled by scripts/install-servers.sh, which this script runs first).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"
SERVERS_DIR=${SERVERS_DIR:-$DEFAULT_SERVERS_DIR}
OUT="$ROOT/rdb/tests/fixtures"
VERSIONS=("$@")
if [ ${#VERSIONS[@]} -eq 0 ]; then
    VERSIONS=(redis-5.0.10 redis-6.0.9 redis-6.2.14 redis-7.0.15 redis-7.4.1 valkey-8.1.8 valkey-9.1.2)
fi

bash "$ROOT/scripts/install-servers.sh" "$SERVERS_DIR" >/dev/null
mkdir -p "$OUT"

for v in "${VERSIONS[@]}"; do
    python3 - "$SERVERS_DIR" "$v" "$OUT" <<'PY'
import os, random, shutil, socket, subprocess, sys, tempfile, time

servers_dir, name, out_dir = sys.argv[1:4]
flavor, version = name.split("-", 1)
ver = tuple(int(x) for x in version.split("."))
valkey = flavor == "valkey"
modern = valkey or ver >= (7, 0)   # listpack era: new config names, functions, PEXPIRETIME
rng = random.Random(20240601)      # fixed seed: fixtures change only when the dataset does


class Resp:
    """A minimal RESP2 client: enough to send commands and read replies, with no dependency."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _more(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._more()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ValueError(f"unexpected reply {line!r}")

    def call(self, *args, ok_errors=False):
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        msg = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        self.sock.sendall(msg)
        reply = self._reply()
        if isinstance(reply, RuntimeError) and not ok_errors:
            raise RuntimeError(f"{name}: {args[:4]!r} -> {reply}")
        return reply


def free_port():
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port != 6379:  # never where a developer's own server may listen
            return port


def server_args(port, tmp):
    args = [f"{servers_dir}/bin/{name}", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", tmp, "--daemonize", "no",
            "--logfile", os.path.join(tmp, "server.log"), "--stream-node-max-entries", "10"]
    # Small encoding limits so that both the compact (ziplist/listpack/intset) and the
    # general encodings appear with little data; depth 1 makes compressed quicklist nodes.
    if modern:
        args += ["--list-max-listpack-size", "4", "--hash-max-listpack-entries", "8",
                 "--zset-max-listpack-entries", "8", "--enable-debug-command", "yes"]
        if valkey or ver >= (7, 2):
            args += ["--set-max-listpack-entries", "8"]
    else:
        args += ["--list-max-ziplist-size", "4", "--hash-max-ziplist-entries", "8",
                 "--zset-max-ziplist-entries", "8"]
    args += ["--list-compress-depth", "1", "--set-max-intset-entries", "16"]
    # IDLE and FREQ opcodes are only written under an LRU/LFU eviction policy.
    if name == "redis-6.2.14":
        args += ["--maxmemory-policy", "allkeys-lfu"]
    if name in ("redis-6.0.9", "valkey-8.1.8"):
        args += ["--maxmemory-policy", "allkeys-lru"]
    if name == "redis-7.4.1":
        m = f"{servers_dir}/stack-modules"
        args += ["--loadmodule", f"{m}/rejson.so", "--loadmodule", f"{m}/redisbloom.so",
                 "--loadmodule", f"{m}/redisearch.so", "MAXSEARCHRESULTS", "10000",
                 "MAXAGGREGATERESULTS", "10000", "--loadmodule", f"{m}/redistimeseries.so"]
    return args


def text(n, alphabet="abcdefghij"):
    return "".join(rng.choice(alphabet) for _ in range(n))


def write_dataset(r):
    r.call("SELECT", 0)
    # Strings: raw, int-encoded (8/16/32-bit and too big for 32 bits), LZF-compressible,
    # incompressible, empty, binary; keys that are ints, empty, binary, long and compressible.
    r.call("SET", "str:raw", "hello world")
    for i, v in enumerate(["7", "-100", "30000", "-2000000000", "9223372036854775807", "007"]):
        r.call("SET", f"str:int:{i}", v)
    r.call("SET", "str:lzf", "abcabcabc" * 400)
    r.call("SET", "str:big", ("slotstream " * 2000) + text(3000))
    r.call("SET", "str:random", rng.randbytes(600))
    r.call("SET", "str:empty", "")
    r.call("SET", b"bin\x00\xff\r\n key", b"\x00\x01\x02\xfe\xff")
    for k in ["12345", "-7", "0", "2147483647", "4294967296"]:
        r.call("SET", k, f"int key {k}")
    r.call("SET", "", "empty key")
    r.call("SET", "k" * 300 + ":long-compressible-key", "v")
    r.call("SET", "u:ключ:🔑", "utf-8 key")
    # Lists: a small one, long ones whose inner nodes get compressed, a big element.
    r.call("RPUSH", "list:small", "a", "b", "1", "2")
    r.call("RPUSH", "list:big", *[f"element-{i:04d}-" + "x" * (i % 40) for i in range(300)])
    r.call("RPUSH", "list:ints", *range(-50, 150))
    if modern:
        # Elements above the packed threshold become PLAIN quicklist nodes.
        r.call("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100", ok_errors=True)
        # (Only quicklists have plain nodes: more than 4 elements, so not a single listpack.)
        r.call("RPUSH", "list:plain", "small", "P" * 300, "tail", text(500), *"abcdefg")
    # Sets: intset small and big, strings small and big, ints beyond the intset limit.
    r.call("SADD", "set:intset", 1, 2, 3, -4, 70000, 5000000000)
    r.call("SADD", "set:intset:16", *range(16))
    r.call("SADD", "set:str:small", "apple", "banana", "cherry")
    r.call("SADD", "set:str:big", *[f"member:{i}" for i in range(200)])
    r.call("SADD", "set:ints:big", *range(1000, 1200))
    # Sorted sets: small (ziplist/listpack), big (skiplist), infinities and fractions.
    r.call("ZADD", "zset:small", 1, "one", 2.5, "two.five", "-inf", "minf")
    r.call("ZADD", "zset:big", *[x for i in range(150) for x in (i * 1.25 - 40, f"m{i}")])
    r.call("ZADD", "zset:inf", "+inf", "pinf", "-inf", "ninf", 0, "zero", 1e300, "huge")
    # Hashes: small, many fields, one long value (forces the hash table encoding).
    r.call("HSET", "hash:small", "f1", "v1", "f2", 2, "f3", "")
    r.call("HSET", "hash:big", *[x for i in range(100) for x in (f"field{i}", f"value{i}")])
    r.call("HSET", "hash:longval", "short", "s", "long", "L" * 200)
    # Streams: several listpack nodes, deleted entries, two groups with pending entries,
    # consumers with their own PELs, and an empty stream that still has a group.
    ids = [r.call("XADD", "stream", "*", "n", i, "payload", text(20)) for i in range(35)]
    r.call("XDEL", "stream", ids[3], ids[4], ids[20])
    r.call("XGROUP", "CREATE", "stream", "g1", "0")
    r.call("XGROUP", "CREATE", "stream", "g2", "0")
    r.call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", 5, "STREAMS", "stream", ">")
    r.call("XREADGROUP", "GROUP", "g1", "bob", "COUNT", 3, "STREAMS", "stream", ">")
    r.call("XACK", "stream", "g1", ids[0])
    r.call("XREADGROUP", "GROUP", "g2", "carol", "COUNT", 10, "STREAMS", "stream", ">")
    r.call("XGROUP", "CREATE", "stream:empty", "g", "$", "MKSTREAM")
    r.call("XADD", "stream:small", "1-1", "a", "1")
    # TTLs in seconds and milliseconds, far in the future so nothing expires.
    r.call("SET", "ttl:str", "expires", "EX", 86400)
    r.call("RPUSH", "ttl:list", "a", "b")
    r.call("PEXPIRE", "ttl:list", 100000000)
    r.call("HSET", "ttl:hash", "a", "b")
    r.call("EXPIREAT", "ttl:hash", 4102444800)

    # Other databases.
    r.call("SELECT", 1)
    r.call("SET", "db1:str", "in db 1")
    r.call("SADD", "db1:set", "x", "y")
    r.call("SET", "db1:ttl", "v", "PX", 50000000)
    r.call("SELECT", 3)
    r.call("SET", "str:raw", "same key name, other db")
    r.call("ZADD", "db3:zset", 1, "a")
    r.call("SELECT", 0)

    if modern:
        r.call("FUNCTION", "LOAD",
               "#!lua name=fixturelib\n"
               "redis.register_function('echo_first', function(keys, args) return args[1] end)")
    if name in ("redis-7.4.1", "valkey-9.1.2"):
        # Hash field TTLs: a small hash (listpack on 7.4) and a big one (hash table).
        r.call("HSET", "hfe:small", "a", "1", "b", "2", "c", "3")
        r.call("HEXPIRE", "hfe:small", 86400, "FIELDS", 2, "a", "b")
        r.call("HSET", "hfe:big", *[x for i in range(40) for x in (f"f{i}", f"v{i}")])
        r.call("HEXPIRE", "hfe:big", 7200, "FIELDS", 3, "f1", "f2", "f3")
        r.call("HPEXPIRE", "hfe:big", 90000000, "FIELDS", 1, "f10")
        r.call("HSET", "hfe:ttlkey", "x", "1", "y", "2")
        r.call("HEXPIRE", "hfe:ttlkey", 3600, "FIELDS", 1, "x")
        r.call("EXPIRE", "hfe:ttlkey", 86400)
    if name == "redis-7.4.1":
        r.call("JSON.SET", "json:doc", "$", '{"a":1,"b":[1,2,3],"c":{"d":"text"},"e":null}')
        r.call("JSON.SET", "json:big", "$", "[" + ",".join(f'"{text(30)}"' for _ in range(50)) + "]")
        r.call("BF.ADD", "bf:key", "item1")
        r.call("BF.RESERVE", "bf:reserved", 0.01, 1000)
        r.call("BF.MADD", "bf:reserved", *[f"i{i}" for i in range(100)])
        r.call("CF.ADD", "cf:key", "item1")
        r.call("TOPK.RESERVE", "topk:key", 5)
        r.call("TOPK.ADD", "topk:key", "a", "b", "a")
        r.call("CMS.INITBYDIM", "cms:key", 20, 3)
        r.call("TDIGEST.CREATE", "td:key")
        r.call("TDIGEST.ADD", "td:key", 1.5, 2.5, 10)
        r.call("TS.CREATE", "ts:key", "RETENTION", 0, "LABELS", "sensor", "1")
        for i in range(20):
            r.call("TS.ADD", "ts:key", 1700000000000 + i * 1000, i * 0.5)
        r.call("FT.CREATE", "idx:docs", "ON", "HASH", "PREFIX", 1, "doc:",
               "SCHEMA", "title", "TEXT", "n", "NUMERIC")
        for i in range(5):
            r.call("HSET", f"doc:{i}", "title", f"document {i}", "n", i)


def dump_lines(r):
    lines = []
    for db in range(16):
        r.call("SELECT", db)
        cursor = b"0"
        keys = set()
        while True:
            cursor, batch = r.call("SCAN", cursor, "COUNT", 1000)
            keys.update(batch)
            if cursor == b"0":
                break
        for key in sorted(keys):
            payload = r.call("DUMP", key)
            if modern:
                at = r.call("PEXPIRETIME", key)
                expiry = "-" if at < 0 else str(at)
            else:
                ttl = r.call("PTTL", key)
                expiry = "-" if ttl < 0 else "~%d" % (int(time.time() * 1000) + ttl)
            lines.append(f"{db} {key.hex()} {payload.hex()} {expiry}\n")
    return lines


tmp = tempfile.mkdtemp(prefix=f"fixture-{name}-")
port = free_port()
proc = subprocess.Popen(server_args(port, tmp), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            r = Resp(port)
            if r.call("PING", ok_errors=True) == b"PONG":
                break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        sys.exit(f"{name}: server did not start; see {tmp}/server.log")
    write_dataset(r)
    r.call("SAVE")
    lines = dump_lines(r)
    shutil.copyfile(os.path.join(tmp, "dump.rdb"), os.path.join(out_dir, f"{name}.rdb"))
    with open(os.path.join(out_dir, f"{name}.dumps"), "w") as f:
        f.writelines(lines)
    size = os.path.getsize(os.path.join(out_dir, f"{name}.rdb"))
    print(f"{name}: {len(lines)} keys, {size} bytes")
    try:
        r.call("SHUTDOWN", "NOSAVE", ok_errors=True)
    except ConnectionError:
        pass  # the server closes the connection as it exits
finally:
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(tmp, ignore_errors=True)
PY
done
