#!/usr/bin/env bash
# Lag benchmark: a `redis-benchmark -t set,incr,lpush -P 16` burst on the source while slotstream
# follows it, (a) `slotstream sync`, (b) `produce` + `consume` through `slotstream dev-broker`.
# Reports the burst's duration and source ops/s, then the time from the end of the burst until
# every partition's checkpoint in the target has reached the source's offset, and whether
# `slotstream verify` then finds the copy identical. Native replication of the same burst is
# measured alongside (time until the replica's offset equals the source's).
#
# usage: bench/lag.sh [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-300000}
partitions=16
. bench/lib.sh   # start, offset, min_checkpoint, now, track, start_dev_broker; cleanup on exit
bench_init
build_if_stale
burst() { # port -> prints seconds and ops/s
  local t0 t1; t0=$(now)
  redis-benchmark -p "$1" -t set,incr,lpush -P 16 -n "$requests" -r 100000 -q >/dev/null
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "3 * $requests / ($t1 - $t0)" | bc -l)"
}
catch_up() { # source-port target-port log burst_end -> seconds
  local want; want=$(offset "$1" master_repl_offset)
  while [ "$(min_checkpoint "$2" "$3")" -lt "$want" ]; do sleep 0.02; done
  echo "$(now) - $4" | bc -l
}

# (native) a replica of the source
src=$(start); rep=$(start)
redis-cli -p "$rep" replicaof 127.0.0.1 "$src" >/dev/null
while [ "$(redis-cli -p "$rep" info replication | tr -d '\r' | sed -n 's/^master_link_status://p')" != "up" ]; do sleep 0.05; done
read -r nb_secs nb_rate < <(burst "$src"); nb_end=$(now)
want=$(offset "$src" master_repl_offset)
while [ "$(offset "$rep" master_repl_offset)" -lt "$want" ]; do sleep 0.01; done
native_lag=$(echo "$(now) - $nb_end" | bc -l)

# (a) sync
src=$(start); dst=$(start)
"$bin" sync --log warn --partitions "$partitions" --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$dst" 2>"$run/sync.err" &
track $!
until [ "$(min_checkpoint "$dst" "sync:127.0.0.1:$src")" -gt 0 ] || [ -n "$(redis-cli -p "$dst" hget "__slotstream:checkpoint:sync:127.0.0.1:$src:0" epoch)" ]; do sleep 0.05; done
read -r sb_secs sb_rate < <(burst "$src"); sb_end=$(now)
sync_lag=$(catch_up "$src" "$dst" "sync:127.0.0.1:$src" "$sb_end")
sync_verify=$("$bin" verify --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$dst" | tail -1)

# (b) Kafka through dev-broker
src=$(start); dst=$(start)
start_dev_broker lag "$partitions" "$run/broker.out"   # sets brokers
"$bin" produce --log warn --source "redis://127.0.0.1:$src" --brokers "$brokers" --topic lag --partitions "$partitions" >/dev/null 2>"$run/produce.err" & track $!
"$bin" consume --log warn --brokers "$brokers" --topic lag --target "redis://127.0.0.1:$dst" >/dev/null 2>"$run/consume.err" & track $!
until [ -n "$(redis-cli -p "$dst" hget "__slotstream:checkpoint:lag:0" epoch)" ]; do sleep 0.05; done
read -r kb_secs kb_rate < <(burst "$src"); kb_end=$(now)
kafka_lag=$(catch_up "$src" "$dst" lag "$kb_end")
kafka_verify=$("$bin" verify --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$dst" | tail -1)

echo "| follower | burst (s) | source ops/s | caught up after burst end (s) | verify |"
echo "|---|---|---|---|---|"
printf '| native replica | %.2f | %.0f | %.2f | - |\n' "$nb_secs" "$nb_rate" "$native_lag"
printf '| slotstream sync | %.2f | %.0f | %.2f | %s |\n' "$sb_secs" "$sb_rate" "$sync_lag" "$sync_verify"
printf '| produce+consume via dev-broker | %.2f | %.0f | %.2f | %s |\n' "$kb_secs" "$kb_rate" "$kafka_lag" "$kafka_verify"
