#!/usr/bin/env python3
"""Writes RESP commands for the "mixed" benchmark dataset to stdout, for `redis-cli --pipe`.

    python3 bench/gen_mixed.py --keys 1000000 | redis-cli -p PORT --pipe

Exactly --keys keys in db 0, about 1 GB of data at 1 M keys (it scales with --keys):

  share   type     what                                                       ~bytes at 1 M
  0.5 %   string   80-120 KB, random bytes (incompressible)                     500 MB
  5   %   string   1-8 KB, random bytes                                         225 MB
  rest    string   8-512 B (mostly small), 5 % of them with a 1-day TTL           60 MB
  20  %   hash     5-20 fields (listpack)                                       110 MB
  8   %   list     5-30 elements                                                 50 MB
  6   %   set      5-30 members, half integers (intset), half strings            30 MB
  6   %   zset     5-30 members with scores (listpack)                           35 MB
  20 each (scaled, at least 1): hash of 5,000 fields, list of 10,000, set of 5,000, zset of
  5,000 (the large encodings); 10 streams (at least 1) of 5,000 entries with a consumer group.

Deterministic for a given --seed. Values are slices of one random pool, so generation is cheap.
"""
import argparse
import os
import random
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    n = a.keys
    rnd = random.Random(a.seed)
    pool = os.urandom(1 << 21)  # 2 MB
    plen = len(pool)
    out = sys.stdout.buffer
    buf = []
    size = 0

    def val(lo, hi):
        n = rnd.randint(lo, hi)
        off = rnd.randrange(0, plen - n)
        return pool[off:off + n]

    def cmd(*args):
        nonlocal size
        parts = [b"*%d\r\n" % len(args)]
        for x in args:
            if not isinstance(x, bytes):
                x = str(x).encode()
            parts.append(b"$%d\r\n" % len(x))
            parts.append(x)
            parts.append(b"\r\n")
        chunk = b"".join(parts)
        buf.append(chunk)
        size += len(chunk)
        if size > (1 << 22):
            flush()

    def flush():
        nonlocal size
        out.write(b"".join(buf))
        buf.clear()
        size = 0

    def share(f):
        return max(1, int(n * f)) if n >= 100 else 0

    big = max(1, round(20 * n / 1_000_000))
    streams = max(1, round(10 * n / 1_000_000))
    counts = {
        "big": share(0.005), "medium": share(0.05), "hash": share(0.20), "list": share(0.08),
        "set": share(0.06), "zset": share(0.06),
    }
    used = sum(counts.values()) + 4 * big + streams
    if used > n:
        sys.exit(f"--keys {n} is too small for the mixed dataset (needs more than {used})")
    small = n - used

    for i in range(counts["big"]):
        cmd(b"SET", b"str:big:%d" % i, val(80_000, 120_000))
    for i in range(counts["medium"]):
        cmd(b"SET", b"str:med:%d" % i, val(1_000, 8_000))
    for i in range(small):
        v = val(8, 64) if rnd.random() < 0.8 else val(64, 512)
        if i % 20 == 0:
            cmd(b"SET", b"str:small:%d" % i, v, b"EX", b"86400")
        else:
            cmd(b"SET", b"str:small:%d" % i, v)
    for i in range(counts["hash"]):
        args = [b"HSET", b"hash:%d" % i]
        for f in range(rnd.randint(5, 20)):
            args += [b"field:%d" % f, val(10, 60)]
        cmd(*args)
    for i in range(counts["list"]):
        cmd(b"RPUSH", b"list:%d" % i, *[val(10, 60) for _ in range(rnd.randint(5, 30))])
    for i in range(counts["set"]):
        k = rnd.randint(5, 30)
        if i % 2:
            members = [b"%d" % rnd.randrange(1_000_000) for _ in range(k)]
        else:
            members = [b"member:%d" % rnd.randrange(1_000_000) for _ in range(k)]
        cmd(b"SADD", b"set:%d" % i, *members)
    for i in range(counts["zset"]):
        args = [b"ZADD", b"zset:%d" % i]
        for _ in range(rnd.randint(5, 30)):
            args += [b"%.3f" % rnd.uniform(0, 1000), b"m:%d" % rnd.randrange(1_000_000)]
        cmd(*args)
    for i in range(big):
        for start in range(0, 5_000, 500):
            args = [b"HSET", b"bighash:%d" % i]
            for f in range(start, start + 500):
                args += [b"field:%d" % f, val(10, 60)]
            cmd(*args)
        for start in range(0, 10_000, 1_000):
            cmd(b"RPUSH", b"biglist:%d" % i, *[val(10, 60) for _ in range(1_000)])
        for start in range(0, 5_000, 500):
            cmd(b"SADD", b"bigset:%d" % i, *[b"member:%d" % m for m in range(start, start + 500)])
        for start in range(0, 5_000, 500):
            args = [b"ZADD", b"bigzset:%d" % i]
            for m in range(start, start + 500):
                args += [b"%d" % rnd.randrange(1_000_000), b"member:%d" % m]
            cmd(*args)
    for i in range(streams):
        key = b"stream:%d" % i
        for e in range(5_000):
            cmd(b"XADD", key, b"*", b"sensor", b"%d" % (e % 17), b"reading", val(10, 40))
        cmd(b"XGROUP", b"CREATE", key, b"readers", b"0")
    flush()


if __name__ == "__main__":
    main()
