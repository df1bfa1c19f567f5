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
. bench/lib.sh   # start, stop_server, field, now, start_dev_broker, median; cleanup on exit
bench_init
build_if_stale

src=$(start)
redis-cli -p "$src" debug populate "$keys" key "$value_bytes" >/dev/null
rdb_mb=$(redis-cli -p "$src" memory stats | tr -d '\r' | awk 'f{print int($1/1048576); exit} /dataset.bytes/{f=1}')
echo "source: $keys keys of $value_bytes bytes (dataset ~${rdb_mb} MB), $($server --version | cut -d' ' -f3)" >&2

native=(); synced=(); kafka=()
for i in $(seq "$runs"); do
  native+=("$(native_copy "$src" "$keys")")

  target=$(start)
  t0=$(now)
  "$bin" sync --snapshot-only --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$target" > "$run/sync.out"
  t1=$(now)
  [ "$(data_keys "$target")" = "$keys" ] || die "the target has the wrong key count"
  synced+=("$(echo "$t1 - $t0" | bc -l)")
  rss=$(sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p' "$run/sync.out")
  stop_server "$target"

  target=$(start)
  topic="bench$i"
  start_dev_broker "$topic" 16 "$run/broker.out"   # sets broker_pid, brokers
  t0=$(now)
  "$bin" produce --snapshot-only --log warn --source "redis://127.0.0.1:$src" --brokers "$brokers" \
    --topic "$topic" --partitions 16 > "$run/produce.out" &
  producer=$!
  "$bin" consume --snapshot-only --log warn --brokers "$brokers" --topic "$topic" \
    --target "redis://127.0.0.1:$target" > "$run/consume.out"
  wait "$producer"
  t1=$(now)
  [ "$(data_keys "$target")" = "$keys" ] || die "the kafka target has the wrong key count"
  kafka+=("$(echo "$t1 - $t0" | bc -l)")
  krss=$(sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p' "$run/consume.out")
  untrack "$broker_pid"
  stop_server "$target"
  printf 'run %d: native %.2f s, sync %.2f s (peak RSS %s MB), kafka %.2f s (consumer peak RSS %s MB)\n' \
    "$i" "${native[-1]}" "${synced[-1]}" "$rss" "${kafka[-1]}" "$krss" >&2
done

n=$(median "${native[@]}"); s=$(median "${synced[@]}"); k=$(median "${kafka[@]}")
echo "| data | native replica | sync | sync ÷ native | produce+consume via dev-broker | kafka ÷ native | kafka ÷ sync |"
echo "|---|---|---|---|---|---|---|"
printf '| %s keys × %s B | %.2f s | %.2f s | %.2f× | %.2f s | %.2f× | %.2f× |\n' \
  "$keys" "$value_bytes" "$n" "$s" "$(echo "$s / $n" | bc -l)" "$k" "$(echo "$k / $n" | bc -l)" "$(echo "$k / $s" | bc -l)"
