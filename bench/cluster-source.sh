#!/usr/bin/env bash
# Snapshot of a Redis Cluster source: a 3-primary cluster with N small keys per primary, copied
# in the same run (a) by three native replicas, one per primary, side by side (timed until all
# three hold their keys), and (b) by `slotstream sync --snapshot-only` given one node's URL,
# into one server (one capture per shard, side by side). Prints a Markdown table with the
# medians and the ratio to native. `DEBUG POPULATE` writes each primary's keys without regard to
# which slots it serves (named per primary, so none collide); neither copy looks at slots.
#
# usage: bench/cluster-source.sh [KEYS_PER_PRIMARY] [VALUE_BYTES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
value_bytes=${2:-32}
runs=${3:-3}
. bench/lib.sh   # start, new_cluster, stop_server, data_keys, median; cleanup on exit
bench_init cluster-source
build_if_stale
command -v redis-cli >/dev/null || die "redis-cli is needed to create the cluster"

read -r a b c <<< "$(new_cluster)"
for p in $a $b $c; do
  redis-cli -p "$p" debug populate "$keys" "key-$p" "$value_bytes" >/dev/null
done
total=$((3 * keys))
echo "source: 3 primaries × $keys keys of $value_bytes bytes, $($server --version | cut -d' ' -f3)" >&2

native=(); synced=()
for i in $(seq "$runs"); do
  replicas=($(start) $(start) $(start))
  t0=$(now)
  for j in 0 1 2; do
    primary=$(echo "$a $b $c" | cut -d' ' -f$((j + 1)))
    redis-cli -p "${replicas[j]}" replicaof 127.0.0.1 "$primary" >/dev/null
  done
  for r in "${replicas[@]}"; do
    while [ "$(field "$r" master_link_status)" != "up" ] || \
          [ "$(redis-cli -p "$r" dbsize)" != "$keys" ]; do sleep 0.01; done
  done
  t1=$(now)
  native+=("$(echo "$t1 - $t0" | bc -l)")
  for r in "${replicas[@]}"; do stop_server "$r"; done

  target=$(start)
  t0=$(now)
  "$bin" sync --snapshot-only --log warn --source "redis://127.0.0.1:$b" \
    --target "redis://127.0.0.1:$target" > "$run/sync.out"
  t1=$(now)
  [ "$(data_keys "$target")" = "$total" ] || die "the target has the wrong key count"
  synced+=("$(echo "$t1 - $t0" | bc -l)")
  stop_server "$target"
  printf 'run %d: three native replicas %.2f s, sync %.2f s\n' "$i" "${native[-1]}" "${synced[-1]}" >&2
done

n=$(median "${native[@]}"); s=$(median "${synced[@]}")
echo "| data | 3 native replicas, side by side | sync (3 captures) → one server | ÷ native |"
echo "|---|---|---|---|"
printf '| 3 × %s keys × %s B | %.2f s | %.2f s | %.2f× |\n' \
  "$keys" "$value_bytes" "$n" "$s" "$(echo "$s / $n" | bc -l)"
