#!/usr/bin/env bash
# What `--metrics-addr` costs (BENCHMARKS.md, "Observability"): the same work with and without
# it, alternating, RUNS times each, medians compared; a scraper reads /metrics every second
# while the run with it goes on, as Prometheus would.
#   1. snapshot: `slotstream sync --snapshot-only` of KEYS small keys (32 B), beside a native
#      replica's copy of the same data;
#   2. burst: a `sync` follows the source while `redis-benchmark -t set,incr,lpush,hset -P 16
#      -n REQUESTS` runs; from the burst's start until every checkpoint passed the source's
#      offset at its end.
#
# usage: bench/metrics-cost.sh [KEYS] [RUNS] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
runs=${2:-3}
requests=${3:-250000}
. bench/lib.sh
bench_init
build_if_stale
partitions=16

# Reads http://$1/metrics every second until killed.
scrape() {
  while sleep 1; do curl -s "http://$1/metrics" > /dev/null || true; done
}

# Runs "$@" with --metrics-addr on a free port and a scraper when $1 is "with"; the rest is
# the command line.
with_metrics() {
  local how=$1; shift
  if [ "$how" = with ]; then
    local addr="127.0.0.1:$(free_port)"
    scrape "$addr" & local scraper=$!
    "$@" --metrics-addr "$addr"
    kill "$scraper" 2>/dev/null || true
  else
    "$@"
  fi
}

src=$(start)
redis-cli -p "$src" debug populate "$keys" key 32 >/dev/null
snapshot_with=(); snapshot_without=(); native=()
for i in $(seq "$runs"); do
  native+=("$(native_copy "$src" "$keys")")
  for how in without with; do
    target=$(start)
    t0=$(now)
    with_metrics "$how" "$bin" sync --snapshot-only --log warn \
      --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$target" > /dev/null
    t1=$(now)
    [ "$(data_keys "$target")" = "$keys" ] || die "the target has the wrong key count"
    if [ "$how" = with ]; then snapshot_with+=("$(calc "$t1 - $t0")"); else snapshot_without+=("$(calc "$t1 - $t0")"); fi
    stop_server "$target"
  done
  log "snapshot run $i: native ${native[-1]} s, without ${snapshot_without[-1]} s, with ${snapshot_with[-1]} s"
done
stop_server "$src"

# One burst followed by a sync ($1: with or without metrics); prints seconds until caught up.
burst() {
  local src target sync_pid t0 end
  src=$(start); target=$(start)
  redis-cli -p "$src" debug populate 100000 key 32 >/dev/null
  if [ "$1" = with ]; then
    local addr="127.0.0.1:$(free_port)"
    scrape "$addr" & local scraper=$!
    "$bin" sync --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$target" \
      --metrics-addr "$addr" > /dev/null 2>&1 & sync_pid=$!
  else
    "$bin" sync --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$target" \
      > /dev/null 2>&1 & sync_pid=$!
  fi
  track "$sync_pid"
  while [ "$(min_checkpoint "$target" "sync:127.0.0.1:$src")" -lt "$(offset "$src" master_repl_offset)" ]; do sleep 0.05; done
  t0=$(now)
  redis-benchmark -p "$src" -t set,incr,lpush,hset -P 16 -n "$requests" -r 100000 -q > /dev/null
  end=$(offset "$src" master_repl_offset)
  while [ "$(min_checkpoint "$target" "sync:127.0.0.1:$src")" -lt "$end" ]; do sleep 0.01; done
  calc "$(now) - $t0"
  untrack "$sync_pid"
  [ "$1" = with ] && kill "$scraper" 2>/dev/null
  stop_server "$src"; stop_server "$target"
}

burst_with=(); burst_without=()
for i in $(seq "$runs"); do
  burst_without+=("$(burst without)")
  burst_with+=("$(burst with)")
  log "burst run $i: without ${burst_without[-1]} s, with ${burst_with[-1]} s"
done

n=$(median "${native[@]}"); sw=$(median "${snapshot_with[@]}"); so=$(median "${snapshot_without[@]}")
bw=$(median "${burst_with[@]}"); bo=$(median "${burst_without[@]}")
echo "| work | without --metrics-addr | with it, scraped every second | with ÷ without |"
echo "|---|---|---|---|"
printf '| snapshot, %s keys × 32 B (native replica %.2f s) | %.2f s | %.2f s | %.3f× |\n' \
  "$keys" "$n" "$so" "$sw" "$(calc "$sw / $so")"
printf '| burst of %s × 4 commands, until caught up | %.2f s | %.2f s | %.3f× |\n' \
  "$requests" "$bo" "$bw" "$(calc "$bw / $bo")"
