#!/usr/bin/env bash
# Snapshot benchmark: time a full copy of N small keys three ways on this machine, same data,
# same run: (a) a native replica (REPLICAOF until master_link_status:up and equal DBSIZE),
# (b) `slotstream sync --snapshot-only`, (c) `slotstream produce` + `slotstream consume` through a
# `slotstream dev-broker`, run at the same time. Prints a Markdown table with ratios to native.
#
# usage: bench/snapshot.sh [KEYS] [VALUE_BYTES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
value_bytes=${2:-32}
runs=${3:-3}
server=${SLOTSTREAM_REDIS_SERVER:-redis-server}

cargo build --release --quiet --bin slotstream
bin=target/release/slotstream
run=$(mktemp -d)
ports=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() { for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done; rm -rf "$run"; }
trap cleanup EXIT

start() { # -> port
  local port; port=$(free_port); mkdir -p "$run/$port"
  "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$run/$port" --logfile "$run/$port/server.log" --repl-diskless-sync-delay 0 \
    --enable-debug-command yes >/dev/null
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  ports+=("$port"); echo "$port"
}
now() { date +%s.%N; }
field() { redis-cli -p "$1" info replication | tr -d '\r' | sed -n "s/^$2://p"; }

src=$(start)
redis-cli -p "$src" debug populate "$keys" key "$value_bytes" >/dev/null
rdb_mb=$(redis-cli -p "$src" memory stats | tr -d '\r' | awk 'f{print int($1/1048576); exit} /dataset.bytes/{f=1}')
echo "source: $keys keys of $value_bytes bytes (dataset ~${rdb_mb} MB), $($server --version | cut -d' ' -f3)" >&2

native=(); synced=(); kafka=()
broker_pid=""
cleanup_broker() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true; }
trap 'cleanup_broker; cleanup' EXIT
for i in $(seq "$runs"); do
  replica=$(start)
  t0=$(now)
  redis-cli -p "$replica" replicaof 127.0.0.1 "$src" >/dev/null
  while [ "$(field "$replica" master_link_status)" != "up" ] || \
        [ "$(redis-cli -p "$replica" dbsize)" != "$keys" ]; do sleep 0.01; done
  t1=$(now)
  native+=("$(echo "$t1 - $t0" | bc -l)")
  redis-cli -p "$replica" shutdown nosave >/dev/null 2>&1 || true

  target=$(start)
  t0=$(now)
  "$bin" sync --snapshot-only --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$target" > "$run/sync.out"
  t1=$(now)
  # 16 checkpoint keys (one per partition) besides the data.
  [ "$(redis-cli -p "$target" dbsize)" = "$((keys + 16))" ] || { echo "target has the wrong key count" >&2; exit 1; }
  synced+=("$(echo "$t1 - $t0" | bc -l)")
  rss=$(sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p' "$run/sync.out")
  redis-cli -p "$target" shutdown nosave >/dev/null 2>&1 || true

  target=$(start)
  topic="bench$i"
  "$bin" dev-broker --log warn --topic "$topic:16" > "$run/broker.out" &
  broker_pid=$!
  for _ in $(seq 100); do [ -s "$run/broker.out" ] && break; sleep 0.05; done
  brokers=$(head -1 "$run/broker.out")
  t0=$(now)
  "$bin" produce --snapshot-only --log warn --source "redis://127.0.0.1:$src" --brokers "$brokers" \
    --topic "$topic" --partitions 16 > "$run/produce.out" &
  producer=$!
  "$bin" consume --snapshot-only --log warn --brokers "$brokers" --topic "$topic" \
    --target "redis://127.0.0.1:$target" > "$run/consume.out"
  wait "$producer"
  t1=$(now)
  [ "$(redis-cli -p "$target" dbsize)" = "$((keys + 16))" ] || { echo "kafka target has the wrong key count" >&2; exit 1; }
  kafka+=("$(echo "$t1 - $t0" | bc -l)")
  krss=$(sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p' "$run/consume.out")
  cleanup_broker; broker_pid=""
  redis-cli -p "$target" shutdown nosave >/dev/null 2>&1 || true
  printf 'run %d: native %.2f s, sync %.2f s (peak RSS %s MB), kafka %.2f s (consumer peak RSS %s MB)\n' \
    "$i" "${native[-1]}" "${synced[-1]}" "$rss" "${kafka[-1]}" "$krss" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
n=$(median "${native[@]}"); s=$(median "${synced[@]}"); k=$(median "${kafka[@]}")
echo "| data | native replica | sync | sync ÷ native | produce+consume via dev-broker | kafka ÷ native | kafka ÷ sync |"
echo "|---|---|---|---|---|---|---|"
printf '| %s keys × %s B | %.2f s | %.2f s | %.2f× | %.2f s | %.2f× | %.2f× |\n' \
  "$keys" "$value_bytes" "$n" "$s" "$(echo "$s / $n" | bc -l)" "$k" "$(echo "$k / $n" | bc -l)" "$(echo "$k / $s" | bc -l)"
