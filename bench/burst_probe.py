#!/usr/bin/env python3
"""Runs a write burst on a source Redis and measures how its followers keep up.

    python3 bench/burst_probe.py --source PORT [--replica PORT] [--target PORT --log NAME]
        [--partitions 16] -- redis-benchmark -p PORT -t set,incr,lpush,hset ...

Followers: a native replica (its `master_repl_offset` from INFO replication) and/or a slotstream
target (the smallest `offset` of the checkpoint hashes `__slotstream:checkpoint:<log>:<p>`, one
per partition; a partition without one counts as 0).

Lag, by sampling: every --interval (100 ms) the source's `master_repl_offset` is read, and
between source samples the followers are polled every --poll (5 ms). For each source sample
(time t, offset o) taken between the burst's start and end, the lag is the time of the first
poll at which the follower's offset was >= o, minus t. The distribution of these gives p50/p99
(resolution: --poll plus scheduling delay on a loaded machine).

Catch-up: after the command ends, the source's offset F is read; the probe keeps polling until
each follower has reached F and reports the seconds from the end of the burst.

Throughput: the source's `INFO commandstats` calls of set, incr, lpush and hset, before and
after the burst: ops; ops / burst seconds = source ops/s; ops / (seconds from the start of the
burst until the follower reached F) = applied ops/s.

Followers' processes: with --watch PID (repeatable) the probe checks every --interval that each
of those processes still runs; when one has exited it stops the burst command and exits with
status 3 (instead of waiting --timeout for a follower that will never catch up).

Prints `name=value` lines (shell-readable) on stdout.
"""
import argparse
import bisect
import socket
import subprocess
import sys
import time


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def send(self, *cmds):
        out = []
        for c in cmds:
            out.append(b"*%d\r\n" % len(c))
            for a in c:
                a = a if isinstance(a, bytes) else str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return [self.reply() for _ in cmds]

    def reply(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")


def info(conn, section):
    text = conn.send(["INFO", section])[0].decode()
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def repl_offset(conn):
    return int(info(conn, "replication")["master_repl_offset"])


def data_calls(conn):
    stats = info(conn, "commandstats")
    total = 0
    for cmd in ("set", "incr", "lpush", "hset"):
        v = stats.get(f"cmdstat_{cmd}")
        if v:
            total += int(v.split(",")[0].split("=")[1])
    return total


class Follower:
    def __init__(self, name, read):
        self.name = name
        self.read = read
        self.polls = []  # (time, offset)

    def poll(self):
        self.polls.append((time.time(), self.read()))
        return self.polls[-1][1]


def checkpoint_reader(port, log, partitions):
    conn = Conn(port)
    cmds = [["HGET", f"__slotstream:checkpoint:{log}:{p}", "offset"] for p in range(partitions)]

    def read():
        vals = conn.send(*cmds)
        return 0 if any(v is None for v in vals) else min(int(v) for v in vals)

    return read


def alive(pid):
    """True while the process runs (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


class Watch:
    def __init__(self, pids, interval):
        self.pids = pids
        self.interval = interval
        self.next = 0.0

    def check(self, proc):
        """Exits with status 3 (after stopping the burst command) once a watched process exited."""
        now = time.time()
        if not self.pids or now < self.next:
            return
        self.next = now + self.interval
        gone = [p for p in self.pids if not alive(p)]
        if gone:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
            print(f"follower process(es) {', '.join(map(str, gone))} exited", file=sys.stderr)
            sys.exit(3)


def percentile(sorted_vals, q):
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def lags(samples, polls, t0, t1):
    """For each source sample in [t0, t1]: time until the follower's offset reached it.
    Follower offsets never decrease, so both searches are bisections."""
    times = [p[0] for p in polls]
    offsets = [p[1] for p in polls]
    out = []
    for t, o in samples:
        if t < t0 or t > t1:
            continue
        k = bisect.bisect_left(offsets, o, lo=bisect.bisect_left(times, t))
        if k < len(polls):
            out.append(polls[k][0] - t)
    return sorted(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=int, required=True)
    ap.add_argument("--replica", type=int)
    ap.add_argument("--target", type=int)
    ap.add_argument("--log")
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--poll", type=float, default=0.005)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--burst-log", help="file for the burst command's output")
    ap.add_argument("--watch", type=int, action="append", default=[], metavar="PID",
                    help="a follower's process: exit with status 3 when it exits")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        sys.exit("no burst command given")

    src = Conn(a.source)
    followers = []
    if a.replica:
        rep = Conn(a.replica)
        followers.append(Follower("native", lambda: repl_offset(rep)))
    if a.target:
        followers.append(Follower("slotstream", checkpoint_reader(a.target, a.log, a.partitions)))

    samples = []  # (time, source offset)
    calls0 = data_calls(src)
    out = open(a.burst_log, "wb") if a.burst_log else subprocess.DEVNULL
    t0 = time.time()
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    watch = Watch(a.watch, a.interval)
    next_sample = t0
    while proc.poll() is None:
        watch.check(proc)
        now = time.time()
        if now >= next_sample:
            samples.append((time.time(), repl_offset(src)))
            next_sample += a.interval
        for f in followers:
            f.poll()
        time.sleep(a.poll)
    t1 = time.time()
    if proc.returncode != 0:
        sys.exit(f"burst command failed with exit code {proc.returncode}")
    final = repl_offset(src)
    samples.append((time.time(), final))
    ops = data_calls(src) - calls0

    caught = {}
    deadline = t1 + a.timeout
    while len(caught) < len(followers):
        watch.check(proc)
        for f in followers:
            if f.name not in caught and f.poll() >= final:
                caught[f.name] = f.polls[-1][0]
        if time.time() > deadline:
            sys.exit(f"followers did not reach offset {final} within {a.timeout} s: "
                     + ", ".join(f"{f.name} at {f.polls[-1][1]}" for f in followers))
        time.sleep(a.poll)

    burst = t1 - t0
    print(f"burst_s={burst:.3f}")
    print(f"ops={ops}")
    print(f"source_ops_s={ops / burst:.0f}")
    print(f"final_offset={final}")
    print(f"samples={sum(1 for t, _ in samples if t0 <= t <= t1)}")
    for f in followers:
        ls = lags(samples, f.polls, t0, t1)
        print(f"{f.name}_p50_ms={percentile(ls, 0.5) * 1000:.1f}")
        print(f"{f.name}_p99_ms={percentile(ls, 0.99) * 1000:.1f}")
        print(f"{f.name}_max_ms={(ls[-1] if ls else float('nan')) * 1000:.1f}")
        print(f"{f.name}_caught_up_s={caught[f.name] - t1:.3f}")
        print(f"{f.name}_applied_ops_s={ops / (caught[f.name] - t0):.0f}")


if __name__ == "__main__":
    main()
