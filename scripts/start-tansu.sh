#!/usr/bin/env bash
# Starts tansu (installed by scripts/install-tansu.sh into DIR) in the background on a free
# loopback port, with memory storage, and waits until the port accepts connections. Prints
# 127.0.0.1:PORT, the bootstrap servers. Its log is RUNDIR/tansu.log and its pid RUNDIR/tansu.pid;
# stop it with `kill "$(cat RUNDIR/tansu.pid)"`. Nothing it holds survives that.
#
# usage: scripts/start-tansu.sh DIR RUNDIR
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 DIR RUNDIR" >&2
    exit 2
fi
TANSU="$1/bin/tansu"
mkdir -p "$2"
RUNDIR=$(cd "$2" && pwd)
LOG="$RUNDIR/tansu.log"
[ -x "$TANSU" ] || { echo "start-tansu: no $TANSU; run scripts/install-tansu.sh $1" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Another process may take the port between picking and binding it: then try a fresh one.
for _attempt in 1 2 3 4 5; do
    port=$(free_port)
    url="tcp://127.0.0.1:$port"
    # setsid: tansu gets its own session, so a Ctrl-C meant for the caller does not reach it
    # before the caller's cleanup does.
    setsid "$TANSU" broker \
        --cluster-id slotstream-tests \
        --listener-url "$url" \
        --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ \
        </dev/null >"$LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$RUNDIR/tansu.pid"
    # Liveness bound: tansu is normally ready within milliseconds.
    for _ in $(seq 1 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            break
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "127.0.0.1:$port"
            exit 0
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
done
echo "start-tansu: tansu did not start; its log ($LOG):" >&2
cat "$LOG" >&2
exit 1
