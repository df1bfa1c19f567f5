#!/usr/bin/env bash
# Snapshot into a Redis Cluster: N small keys copied, same data, same run, (a) by a native
# replica into one server, (b) by `slotstream sync --snapshot-only` into one server, (c) by the
# same into a 3-primary cluster on this machine (given by one node's URL). Prints a Markdown table
# with the medians and ratios to native. The cluster's primaries share this machine's cores with
# the source and slotstream.
#
# usage: bench/cluster.sh [KEYS] [VALUE_BYTES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
value_bytes=${2:-32}
runs=${3:-3}
. bench/lib.sh   # start, stop_server, field, now, median, free_port; cleanup on exit
bench_init cluster
build_if_stale
command -v redis-cli >/dev/null || die "redis-cli is needed to create the cluster"

src=$(start)
redis-cli -p "$src" debug populate "$keys" key "$value_bytes" >/dev/null
echo "source: $keys keys of $value_bytes bytes, $($server --version | cut -d' ' -f3)" >&2

native=(); single=(); clustered=()
for i in $(seq "$runs"); do
  native+=("$(native_copy "$src" "$keys")")

  target=$(start)
  t0=$(now)
  "$bin" sync --snapshot-only --log warn --source "redis://127.0.0.1:$src" \
    --target "redis://127.0.0.1:$target" > "$run/sync.out"
  t1=$(now)
  [ "$(data_keys "$target")" = "$keys" ] || die "the server has the wrong key count"
  single+=("$(echo "$t1 - $t0" | bc -l)")
  stop_server "$target"

  read -r a b c <<< "$(new_cluster)"
  t0=$(now)
  "$bin" sync --snapshot-only --log warn --source "redis://127.0.0.1:$src" \
    --target "redis://127.0.0.1:$a" > "$run/cluster.out"
  t1=$(now)
  [ "$(data_keys "$a" "$b" "$c")" = "$keys" ] || die "the cluster has the wrong key count"
  clustered+=("$(echo "$t1 - $t0" | bc -l)")
  for p in $a $b $c; do stop_server "$p"; done
  printf 'run %d: native %.2f s, sync into one server %.2f s, into the cluster %.2f s\n' \
    "$i" "${native[-1]}" "${single[-1]}" "${clustered[-1]}" >&2
done

n=$(median "${native[@]}"); s=$(median "${single[@]}"); c=$(median "${clustered[@]}")
echo "| data | native replica | sync → one server | ÷ native | sync → 3-primary cluster | ÷ native | cluster ÷ one server |"
echo "|---|---|---|---|---|---|---|"
printf '| %s keys × %s B | %.2f s | %.2f s | %.2f× | %.2f s | %.2f× | %.2f× |\n' \
  "$keys" "$value_bytes" "$n" "$s" "$(echo "$s / $n" | bc -l)" "$c" "$(echo "$c / $n" | bc -l)" \
  "$(echo "$c / $s" | bc -l)"
