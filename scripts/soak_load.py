#!/usr/bin/env python3
"""The steady write load of scripts/soak.sh, and its ledger check. Python's standard library only
(a RESP client over a socket), so it runs with any python3.

  soak_load.py write --port P --state FILE [--rounds-per-s 50] [--mixed-per-s 500]
      Writes to db 0 of the source on 127.0.0.1:P at a fixed rate until SIGTERM/SIGINT, in
      pipelines every 100 ms (the schedule is absolute: a late pipeline does not shift the later
      ones). Two parts:
      - the ledger (the idea of tests/common/audit.rs): each round writes its sequence number once
        into each family of non-idempotent writes: INCR, LPUSH, RPUSH, APPEND, HINCRBY, ZINCRBY,
        XADD (8 keys each, so rounds spread over slots and partitions), a cross-slot MULTI block
        (INCR + RPUSH) and a cross-slot Lua EVAL (INCR + RPUSH). The value of every ledger key
        follows from the number of rounds the source took, so a write lost or applied twice shows.
      - mixed writes over a bounded keyspace (sizes stay flat), checked by `slotstream verify`:
        SET with EX, DEL, EXPIRE, SADD, ZINCRBY, HSET, LPUSH + LTRIM, XADD with MAXLEN, INCR.
      Every reply is read; an error reply or a lost connection ends it with status 1. FILE gets a
      JSON line with the counts every 10 s and when it stops (the rounds the source took).

  soak_load.py check --port P --rounds N
      Compares db 0 of 127.0.0.1:P with N ledger rounds; prints one line (keys, writes, lost,
      doubled) and exits 1 if anything is lost, doubled or out of order.
"""
import argparse
import json
import os
import random
import signal
import socket
import sys
import time

KEYS = 8
TICK = 0.1
SCRIPT = "redis.call('INCR', KEYS[1]) redis.call('RPUSH', KEYS[2], ARGV[1]) return 1"
MIXED_KEYS = 2000   # per type: the mixed keyspace stays bounded


def counter(k): return f"ledger:incr:{k}"
def lpush(k): return f"ledger:lpush:{k}"
def rpush(k): return f"ledger:rpush:{k}"
def text(k): return f"ledger:append:{k}"
def stream(k): return f"ledger:xadd:{k}"


HASH = "ledger:hincrby"
ZSET = "ledger:zincrby"
MULTI_A, MULTI_B = "{a}ledger:multi", "{b}ledger:multi"
LUA_COUNTER, LUA_LIST = "{a}ledger:lua", "{b}ledger:lua"


class ReplyError(Exception):
    pass


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, commands):
        out = []
        for cmd in commands:
            out.append(b"*%d\r\n" % len(cmd))
            for arg in cmd:
                a = arg if isinstance(arg, bytes) else str(arg).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ReplyError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ConnectionError(f"unexpected reply {line!r}")

    def call(self, *cmd):
        self.send([cmd])
        r = self.reply()
        if isinstance(r, ReplyError):
            raise r
        return r


def ledger_round(cmds, seq):
    k = seq % KEYS
    cmds += [
        ("INCR", counter(k)),
        ("LPUSH", lpush(k), seq),
        ("RPUSH", rpush(k), seq),
        ("APPEND", text(k), f"{seq},"),
        ("HINCRBY", HASH, f"f{k}", 1),
        ("ZINCRBY", ZSET, 1, f"m{k}"),
        ("XADD", stream(k), "*", "seq", seq),
        ("MULTI",), ("INCR", MULTI_A), ("RPUSH", MULTI_B, seq), ("EXEC",),
        ("EVAL", SCRIPT, 2, LUA_COUNTER, LUA_LIST, seq),
    ]


def mixed_op(cmds, rnd):
    n = rnd.randrange(MIXED_KEYS)
    op = rnd.randrange(10)
    if op == 0:
        # TTLs of 30 s or more: a key is applied long before its expiry (the target keeps
        # expiry times within 10 s of passing 10 s, README "Limits")
        cmds.append(("SET", f"mixed:s:{n}", "v" * rnd.randrange(8, 200), "EX", rnd.randrange(30, 600)))
    elif op == 1:
        cmds.append(("DEL", f"mixed:s:{n}", f"mixed:l:{rnd.randrange(MIXED_KEYS)}"))
    elif op == 2:
        cmds.append(("EXPIRE", f"mixed:h:{n}", rnd.randrange(30, 600)))
    elif op == 3:
        cmds.append(("SADD", f"mixed:set:{n}", f"m{rnd.randrange(50)}"))
    elif op == 4:
        cmds.append(("ZINCRBY", f"mixed:z:{n}", rnd.randrange(1, 5), f"m{rnd.randrange(50)}"))
    elif op == 5:
        cmds.append(("HSET", f"mixed:h:{n}", f"f{rnd.randrange(20)}", rnd.randrange(1 << 30)))
    elif op == 6:
        cmds.append(("LPUSH", f"mixed:l:{n}", rnd.randrange(1 << 30)))
        cmds.append(("LTRIM", f"mixed:l:{n}", 0, 49))
    elif op == 7:
        cmds.append(("XADD", f"mixed:x:{n}", "MAXLEN", 50, "*", "f", rnd.randrange(1 << 30)))
    elif op == 8:
        cmds.append(("INCR", f"mixed:c:{n}"))
    else:
        cmds.append(("SET", f"mixed:s:{n}", rnd.randrange(1 << 30)))


def write(args):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    conn = Conn(args.port)
    rnd = random.Random(args.seed)
    rounds = commands = mixed = ticks = late = 0
    max_late = 0.0
    started = time.monotonic()
    last_state = 0.0

    def state(final=False):
        tmp = args.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rounds": rounds, "commands": commands, "mixed": mixed, "ticks": ticks,
                       "late_ticks": late, "max_late_ms": round(max_late * 1000),
                       "seconds": round(time.monotonic() - started, 1), "final": final}, f)
            f.write("\n")
        os.replace(tmp, args.state)

    state()
    mixed_acc = rounds_acc = 0.0
    while not stop:
        due = started + ticks * TICK
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
            continue
        if now - due > TICK:
            late += 1
            max_late = max(max_late, now - due)
        ticks += 1
        cmds = []
        rounds_acc += args.rounds_per_s * TICK
        mixed_acc += args.mixed_per_s * TICK
        while rounds_acc >= 1:
            ledger_round(cmds, rounds)
            rounds += 1
            rounds_acc -= 1
        while mixed_acc >= 1:
            mixed_op(cmds, rnd)
            mixed += 1
            mixed_acc -= 1
        conn.send(cmds)
        for cmd in cmds:
            r = conn.reply()
            if isinstance(r, ReplyError):
                state()
                sys.exit(f"soak_load: {cmd[0]} got the error {r} (round {rounds})")
        commands += len(cmds)
        if now - last_state >= 10:
            state()
            last_state = now
    state(final=True)
    print(f"soak_load: {rounds} ledger rounds, {mixed} mixed commands, {commands} commands in "
          f"{time.monotonic() - started:.0f} s; {late} of {ticks} pipelines late (max {max_late * 1000:.0f} ms)")


def numbers(items):
    return [int(i) for i in items]


def check(args):
    conn = Conn(args.port)
    rounds = args.rounds
    keys = writes = lost = doubled = 0
    disorder = []

    def count(actual, expected, name):
        nonlocal keys, writes, lost, doubled
        actual = int(actual or 0)
        keys += 1
        writes += expected
        if actual < expected:
            lost += expected - actual
        else:
            doubled += actual - expected
        if actual != expected:
            disorder.append(f"{name}: {actual} for {expected} writes")

    def sequence(actual, expected, name):
        nonlocal keys, writes, lost, doubled
        keys += 1
        writes += len(expected)
        balance = {}
        for n in expected:
            balance[n] = balance.get(n, 0) - 1
        for n in actual:
            balance[n] = balance.get(n, 0) + 1
        lost += sum(-b for b in balance.values() if b < 0)
        doubled += sum(b for b in balance.values() if b > 0)
        if actual != expected:
            disorder.append(f"{name}: {len(actual)} items for {len(expected)} writes"
                            f"{' (the same items in another order)' if sorted(actual) == sorted(expected) else ''}")

    everything = list(range(rounds))
    for k in range(KEYS):
        mine = everything[k::KEYS]
        count(conn.call("GET", counter(k)), len(mine), counter(k))
        count(conn.call("HGET", HASH, f"f{k}"), len(mine), f"{HASH} f{k}")
        score = conn.call("ZSCORE", ZSET, f"m{k}")
        count(float(score) if score is not None else 0, len(mine), f"{ZSET} m{k}")
        sequence(numbers(conn.call("LRANGE", lpush(k), 0, -1)), mine[::-1], lpush(k))
        sequence(numbers(conn.call("LRANGE", rpush(k), 0, -1)), mine, rpush(k))
        appended = (conn.call("GET", text(k)) or b"").decode()
        sequence(numbers(x for x in appended.split(",") if x), mine, text(k))
        entries = conn.call("XRANGE", stream(k), "-", "+")
        sequence(numbers(fields[1] for _, fields in entries), mine, stream(k))
    for key in (MULTI_A, LUA_COUNTER):
        count(conn.call("GET", key), rounds, key)
    for key in (MULTI_B, LUA_LIST):
        sequence(numbers(conn.call("LRANGE", key, 0, -1)), everything, key)
    print(f"ledger: {rounds} rounds, {writes} writes in {keys} keys: lost {lost}, doubled {doubled}"
          + (f"; differing: {'; '.join(disorder[:5])}" if disorder else ""))
    sys.exit(1 if disorder else 0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    w = sub.add_parser("write")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--state", required=True)
    w.add_argument("--rounds-per-s", type=float, default=50)
    w.add_argument("--mixed-per-s", type=float, default=500)
    w.add_argument("--seed", type=int, default=None)
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--rounds", type=int, required=True)
    args = p.parse_args()
    (write if args.mode == "write" else check)(args)


if __name__ == "__main__":
    main()
