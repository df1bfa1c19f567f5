#!/usr/bin/env bash
# The benchmark suite: every figure as a ratio against native Redis replication measured in the
# same run, on this machine, written as Markdown (for BENCHMARKS.md).
#
#   1. Snapshot of two datasets ("mixed": ~1 GB of every type; "small": 5 M strings of 32 B),
#      five ways: a native replica; `slotstream sync --snapshot-only`; `produce` + `consume
#      --snapshot-only` through `slotstream dev-broker`; the same through tansu (a Kafka-protocol
#      broker, memory storage, installed by scripts/install-tansu.sh); the same through a real
#      Kafka ($SLOTSTREAM_BENCH_KAFKA). The target must then hold the source's keys + 16
#      checkpoints.
#   2. Memory: peak RSS of each slotstream process in those runs, of dev-broker and tansu, and of
#      the native replica.
#   3. Incremental: a `redis-benchmark -t set,incr,lpush,hset -P 16` burst while a native replica
#      and (a) `slotstream sync` or produce + consume (b) via dev-broker (c) via tansu (d) via
#      Kafka follow the source: source ops/s, applied ops/s, lag p50/p99 (sampled, see
#      bench/burst_probe.py), time from the end of the burst until caught up, CPU seconds per
#      million commands of every process involved (source, native replica, slotstream, broker,
#      target), then `slotstream verify`.
#   4. Microbenchmarks (criterion): rdb_parse, codec, restore_payload.
#
# Brokers: dev-broker and tansu are started afresh for each snapshot run and each incremental run,
# and stopped after it (and on exit). dev-broker keeps only the newest ~5 MB (or 100,000 batches)
# of each partition (librdkafka's mock cluster, not configurable): when the consumer falls further
# behind than that it stops with "records ... were deleted from the log before they were applied"
# rather than skip them. Such a dev-broker run is reported as "stopped: dev-broker's retention ..."
# and the benchmark goes on; any other failure of any way aborts it. The topics on tansu and Kafka
# are created by the producer (Admin API); tansu keeps everything it is sent, in memory.
#
# usage: bench/run.sh [options]
#   --out FILE          Markdown output (default bench/results.md)
#   --quick             1/20 scale (same as --scale 0.05) and 1 run per snapshot way
#   --scale F           multiply every default size by F (default 1)
#   --mixed-keys N      keys of the mixed dataset (default 1,000,000 × scale)      [BENCH_MIXED_KEYS]
#   --small-keys N      keys of the small-strings dataset (5,000,000 × scale)      [BENCH_SMALL_KEYS]
#   --small-bytes B     value size of the small strings (32)                      [BENCH_SMALL_BYTES]
#   --requests N        redis-benchmark -n per test of the burst (1,000,000 × scale) [BENCH_REQUESTS]
#   --initial-keys N    source keys before the incremental phase (100,000 × scale) [BENCH_INITIAL_KEYS]
#   --runs N            runs per snapshot way, median reported (3; 1 with --quick) [BENCH_RUNS]
#   --no-snapshot --no-incremental --no-micro     skip a part
#   --no-tansu          skip the tansu rows (else tansu is installed when missing, see SERVERS_DIR)
# environment:
#   SLOTSTREAM_BENCH_KAFKA=host:port   a real Kafka for the Kafka rows (else "skipped"); the
#                                      producer creates its topics (16 partitions) unless they exist
#   BENCH_TOPIC_STAMP                  suffix of the topic names (default: PID-TIME). To create the
#                                      topics beforehand: bench-mixed-R-kafka-STAMP and
#                                      bench-small-R-kafka-STAMP for each run R, live-kafka-STAMP
#                                      (each with its NAME.resume)
#   SERVERS_DIR                        where tansu is (DIR/bin/tansu) or is installed into by
#                                      `scripts/install-tansu.sh DIR` (default
#                                      ~/.cache/slotstream/servers, or under $XDG_CACHE_HOME, as
#                                      for the tests); when that fails the tansu rows
#                                      say "skipped"
#   SLOTSTREAM_REDIS_SERVER            redis-server binary (default: redis-server on PATH)
#   SLOTSTREAM_BIN                     slotstream binary (default: target/release/slotstream,
#                                      built first when missing or older than the sources)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

command_line="bench/run.sh$(printf ' %q' "$@")"
for v in BENCH_RUNS BENCH_SCALE BENCH_REQUESTS BENCH_INITIAL_KEYS BENCH_SMALL_BYTES BENCH_SMALL_KEYS \
         BENCH_MIXED_KEYS BENCH_TOPIC_STAMP SERVERS_DIR SLOTSTREAM_BIN SLOTSTREAM_REDIS_SERVER SLOTSTREAM_BENCH_KAFKA; do
  [ -n "${!v:-}" ] && command_line="$v=$(printf '%q' "${!v}") $command_line"
done
out=bench/results.md
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-}
mixed_keys=${BENCH_MIXED_KEYS:-}
small_keys=${BENCH_SMALL_KEYS:-}
small_bytes=${BENCH_SMALL_BYTES:-32}
requests=${BENCH_REQUESTS:-}
initial_keys=${BENCH_INITIAL_KEYS:-}
do_snapshot=1 do_incremental=1 do_micro=1 do_tansu=1
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift ;;
    --quick) scale=0.05; runs=${runs:-1} ;;
    --scale) scale=$2; shift ;;
    --mixed-keys) mixed_keys=$2; shift ;;
    --small-keys) small_keys=$2; shift ;;
    --small-bytes) small_bytes=$2; shift ;;
    --requests) requests=$2; shift ;;
    --initial-keys) initial_keys=$2; shift ;;
    --runs) runs=$2; shift ;;
    --no-snapshot) do_snapshot=0 ;;
    --no-incremental) do_incremental=0 ;;
    --no-micro) do_micro=0 ;;
    --no-tansu) do_tansu=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
scaled() { calc "$1 * $scale" | awk '{printf "%d", $1 + 0.5}'; }
runs=${runs:-3}
mixed_keys=${mixed_keys:-$(scaled 1000000)}
small_keys=${small_keys:-$(scaled 5000000)}
requests=${requests:-$(scaled 1000000)}
initial_keys=${initial_keys:-$(scaled 100000)}
partitions=16   # sync's and the topics' default partition count: one checkpoint key each
kafka=${SLOTSTREAM_BENCH_KAFKA:-}
stamp=${BENCH_TOPIC_STAMP:-$$-$(date +%s)}

bench_init
build_if_stale
declare -A T M R S   # times (space-separated, one per run), memory, incremental results,
                     # snapshot runs stopped by dev-broker's retention
doc="$run/results.md"
: > "$doc"
emit() { printf '%s\n' "$@" >> "$doc"; }

# --- formatting ---------------------------------------------------------------------------------
fmt_s() { printf '%.2f s' "$1"; }
ratio() { # a b -> "a ÷ b" as N.NN×, or n/a
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2f×", a / b }'
}
# a ÷ b where b was measured with resolution r: when b < r the true ratio is larger than a ÷ r,
# printed as "> N×".
ratio_res() { # a b r
  awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN {
    if (a == "" || b == "" || a == "nan" || b == "nan") print "n/a"
    else if (b + 0 < r + 0) printf "> %.0f×", a / r
    else printf "%.2f×", a / b }'
}
mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
thousands() { echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }
rss_mb() { tail -1 "$1" | awk '{ printf "%d", $1 / 1024 }'; }   # /usr/bin/time -f %M file (KB)
max_of() { printf '%s\n' "$@" | sort -g | tail -1; }
die_log() { # message file...
  local f; log "FATAL: $1"; shift
  for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
  exit 1
}
timed() { local f=$1; shift; /usr/bin/time -f %M -o "$f" "$@"; }   # peak RSS (KB) -> $f

kafka_status=""
if [ -n "$kafka" ]; then
  if python3 -c 'import socket,sys; h,p=sys.argv[1].split(",")[0].rsplit(":",1); socket.create_connection((h,int(p)),3)' "$kafka" 2>/dev/null; then
    kafka_status=up
  else
    kafka_status="skipped: no Kafka reachable at $kafka"
  fi
else
  kafka_status="skipped: no Kafka reachable (SLOTSTREAM_BENCH_KAFKA not set)"
fi
if [ "$do_tansu" = 1 ]; then
  tansu_prepare   # sets tansu_status, tansu_version
else
  tansu_status="skipped: --no-tansu" tansu_version=""
fi

# --- brokers: dev (slotstream dev-broker), tansu, kafka ($SLOTSTREAM_BENCH_KAFKA) ----------------
broker_label() { case $1 in dev) echo dev-broker ;; tansu) echo tansu ;; kafka) echo Kafka ;; esac; }
broker_status() { case $1 in dev) echo up ;; tansu) echo "$tansu_status" ;; kafka) echo "$kafka_status" ;; esac; }
start_broker() { # kind topic outfile: sets brokers, and broker_pid (empty for Kafka)
  case $1 in
    dev) start_dev_broker "$2" "$partitions" "$3" ;;
    tansu) start_tansu ;;
    kafka) brokers=$kafka; broker_pid="" ;;
  esac
}
# dev-broker keeps ~5 MB per partition; a consumer further behind stops with this error.
retention_note="stopped: dev-broker's retention (~5 MB/partition) was exceeded; the consumer refused to skip records"
retention_hit() { [ -f "$1" ] && grep -q 'were deleted from the log before they were applied' "$1"; }

# --- machine ------------------------------------------------------------------------------------
machine() {
  local commit dirty=""
  commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  [ -n "$(git --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null)" ] && dirty=" (working tree has uncommitted changes)"
  emit "# slotstream benchmarks" "" \
    "Every figure is a ratio against native Redis replication measured in the same run, on this machine." "" \
    "## Machine" "" \
    "- CPUs: $(nproc) ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))" \
    "- RAM: $(awk '/^MemTotal:/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
    "- OS: $(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)" \
    "- Redis: $("$server" --version | sed 's/^Redis server //') (source, replicas and targets, all on loopback)" \
    "- slotstream: commit $commit$dirty, release build ($bin, built $(date -u -r "$bin" '+%F %T UTC'))" \
    "- tansu: $([ "$tansu_status" = up ] && echo "$tansu_version (SERVERS_DIR/bin/tansu, memory storage, loopback; started afresh for each run)" || echo "$tansu_status")" \
    "- Kafka: ${kafka:+$kafka }${kafka_status}" \
    "- Date: $(date -u '+%F %T UTC')" "" \
    "Command:" "" '```bash' "$command_line" '```' "" \
    "Sizes: mixed $mixed_keys keys; small $small_keys × $small_bytes B; burst $requests requests per test; incremental source starts with $initial_keys keys; $runs run(s) per snapshot way (median)." ""
}

# --- 1 + 2: snapshot ----------------------------------------------------------------------------
load_mixed() { # port
  python3 bench/gen_mixed.py --keys "$mixed_keys" | redis-cli -p "$1" --pipe > "$run/pipe.out" 2>&1 \
    || die_log "loading the mixed dataset failed" "$run/pipe.out"
  grep -q 'errors: 0,' "$run/pipe.out" || die_log "loading the mixed dataset had errors" "$run/pipe.out"
}
load_small() { redis-cli -p "$1" debug populate "$small_keys" key "$small_bytes" >/dev/null; }

check_target() { # target-port source-keys log what: DBSIZE = keys + one checkpoint per partition + the claim
  local n c
  n=$(redis-cli -p "$1" dbsize)
  c=$(redis-cli -p "$1" exists $(for p in $(seq 0 $((partitions - 1))); do echo "__slotstream:checkpoint:$3:$p"; done) "__slotstream:claim:$3")
  [ "$n" = "$(($2 + partitions + 1))" ] && [ "$c" = "$((partitions + 1))" ] ||
    die "$4: the target has $n keys ($c of the $partitions checkpoint keys and the claim), expected $2 + $partitions + 1"
}

snap_native() { # id src keys
  local rep t0 t1 pid
  rep=$(start)
  t0=$(now)
  redis-cli -p "$rep" replicaof 127.0.0.1 "$2" >/dev/null
  until [ "$(field "$rep" master_link_status)" = up ] && [ "$(redis-cli -p "$rep" dbsize)" = "$3" ]; do sleep 0.01; done
  t1=$(now)
  T[$1.native]+=" $(calc "$t1 - $t0")"
  pid=$(server_pid "$rep")
  M[$1.native]+=" $(vm_hwm_mb "$pid")"
  M[$1.native_used]+=" $(mb "$(info_field "$rep" memory used_memory_peak)")"
  M[$1.rdb_bytes]=$(stat -c %s "$run/$rep/dump.rdb" 2>/dev/null || echo 0)
  stop_server "$rep"
}

snap_sync() { # id src keys
  local dst t0 t1
  dst=$(start)
  t0=$(now)
  timed "$run/sync.rss" "$bin" sync --snapshot-only --log warn --source "redis://127.0.0.1:$2" \
    --target "redis://127.0.0.1:$dst" > "$run/sync.out" 2> "$run/sync.err" \
    || die_log "slotstream sync --snapshot-only failed" "$run/sync.err" "$run/sync.out"
  t1=$(now)
  check_target "$dst" "$3" "sync:127.0.0.1:$2" "sync ($1)"
  T[$1.sync]+=" $(calc "$t1 - $t0")"
  M[$1.sync]+=" $(rss_mb "$run/sync.rss")"
  stop_server "$dst"
}

consume_snapshot() { # brokers topic target-port kind: retried while the topic does not exist yet.
  # Returns 1 when the consumer stopped on dev-broker's retention; any other failure aborts.
  local tries=0
  until timed "$run/consume.rss" "$bin" consume --snapshot-only --log warn --brokers "$1" --topic "$2" \
      --target "redis://127.0.0.1:$3" > "$run/consume.out" 2> "$run/consume.err"; do
    [ "$4" = dev ] && retention_hit "$run/consume.err" && return 1
    grep -q 'does not exist' "$run/consume.err" && [ $((tries += 1)) -lt 300 ] \
      || die_log "slotstream consume --snapshot-only via $(broker_label "$4") failed" "$run/consume.err" "$run/produce.err"
    sleep 0.1
  done
}

snap_kafka() { # id src keys kind(dev|tansu|kafka) run-number
  local id=$1 src=$2 keys=$3 kind=$4 topic dst t0 t1 producer
  topic="bench-$id-$5-$kind-$stamp"
  start_broker "$kind" "$topic" "$run/broker.out"
  dst=$(start)
  t0=$(now)
  timed "$run/produce.rss" "$bin" produce --snapshot-only --log warn --source "redis://127.0.0.1:$src" \
    --brokers "$brokers" --topic "$topic" --partitions "$partitions" > "$run/produce.out" 2> "$run/produce.err" &
  producer=$!; track "$producer"
  if ! consume_snapshot "$brokers" "$topic" "$dst" "$kind"; then
    log "snapshot/$id: the consumer stopped: dev-broker's retention was exceeded ($(grep -m1 -o 'records [0-9]*\.\.=[0-9]* of [^ ]*' "$run/consume.err")); going on"
    S[$id.$kind]=$((${S[$id.$kind]:-0} + 1))
    untrack "$producer"
    untrack "$broker_pid"
    stop_server "$dst"
    return 0
  fi
  wait "$producer" || die_log "slotstream produce --snapshot-only via $(broker_label "$kind") failed" "$run/produce.err"
  forget "$producer"
  t1=$(now)
  check_target "$dst" "$keys" "$topic" "produce+consume via $(broker_label "$kind") ($id)"
  T[$id.$kind]+=" $(calc "$t1 - $t0")"
  M[$id.$kind.produce]+=" $(rss_mb "$run/produce.rss")"
  M[$id.$kind.consume]+=" $(rss_mb "$run/consume.rss")"
  if [ -n "$broker_pid" ]; then
    M[$id.$kind.broker]+=" $(vm_hwm_mb "$broker_pid")"
    untrack "$broker_pid"
  fi
  stop_server "$dst"
}

snapshot_dataset() { # id loader
  local id=$1 src keys t0 i
  src=$(start)
  log "snapshot/$id: loading the source"
  t0=$(now)
  "$2" "$src"
  keys=$(redis-cli -p "$src" dbsize)
  T[$id.keys]=$keys
  T[$id.load]=$(calc "$(now) - $t0")
  M[$id.dataset]=$(mb "$(info_field "$src" memory used_memory_dataset)")
  log "snapshot/$id: $keys keys, dataset $(mb "$(info_field "$src" memory used_memory_dataset)") MB, loaded in $(printf %.1f "${T[$id.load]}") s"
  for i in $(seq "$runs"); do
    log "snapshot/$id run $i/$runs: native replica"; snap_native "$id" "$src" "$keys"
    log "snapshot/$id run $i/$runs: slotstream sync"; snap_sync "$id" "$src" "$keys"
    log "snapshot/$id run $i/$runs: produce+consume via dev-broker"; snap_kafka "$id" "$src" "$keys" dev "$i"
    if [ "$tansu_status" = up ]; then
      log "snapshot/$id run $i/$runs: produce+consume via tansu"; snap_kafka "$id" "$src" "$keys" tansu "$i"
    fi
    if [ "$kafka_status" = up ]; then
      log "snapshot/$id run $i/$runs: produce+consume via Kafka $kafka"; snap_kafka "$id" "$src" "$keys" kafka "$i"
    fi
    log "snapshot/$id run $i: $(for w in native sync dev tansu kafka; do
      if [ -n "${T[$id.$w]:-}" ]; then printf '%s %.2f s, ' "$w" "$(median ${T[$id.$w]})"
      elif [ -n "${S[$id.$w]:-}" ]; then printf '%s stopped, ' "$w"; fi; done | sed 's/, $//') (medians so far)"
  done
  stop_server "$src"
}

snapshot_report() {
  local id n way label t stopped
  emit "## Snapshot" "" \
    "Time from start until the copy is complete; median of $runs run(s); ratio = time ÷ the native replica's time." "" \
    "- **native replica**: a fresh \`redis-server\`, \`REPLICAOF\` the source, until \`master_link_status:up\` and \`DBSIZE\` equal to the source's." \
    "- **sync**: \`slotstream sync --snapshot-only\` into an empty server, until it exits." \
    "- **dev-broker / tansu / Kafka**: \`slotstream produce --snapshot-only\` and \`slotstream consume --snapshot-only\` started together ($partitions partitions), until both exit. dev-broker and tansu are started empty for each run; on tansu and Kafka the producer creates the topic." \
    "- dev-broker keeps only the newest ~5 MB (or 100,000 batches) of each partition: a consumer that falls further behind stops rather than skip records, and the run is reported as stopped." \
    "- After each slotstream run the target's \`DBSIZE\` was checked to be the source's + $partitions checkpoint keys + the claim (\`__slotstream:claim:<log>\`)." \
    "- mixed: \`bench/gen_mixed.py\` (strings of 8 B–120 KB, some with TTLs; hashes, lists, sets, zsets in small and large encodings; streams with a consumer group), loaded with \`redis-cli --pipe\`; small: \`DEBUG POPULATE\`." "" \
    "| data | way | time | ÷ native | runs (s) |" "|---|---|---|---|---|"
  for id in mixed small; do
    [ -n "${T[$id.keys]:-}" ] || continue
    n=$(median ${T[$id.native]})
    if [ "$id" = mixed ]; then label="mixed: $(thousands "${T[$id.keys]}") keys, ${M[$id.dataset]} MB"
    else label="small: $(thousands "${T[$id.keys]}") × $small_bytes B, ${M[$id.dataset]} MB"; fi
    for way in native sync dev tansu kafka; do
      case $way in
        native) t="native replica" ;; sync) t="slotstream sync" ;;
        *) t="produce+consume via $(broker_label "$way")" ;;
      esac
      stopped=${S[$id.$way]:-0}
      if [ -z "${T[$id.$way]:-}" ]; then
        emit "| $label | $t | $([ "$stopped" -gt 0 ] && echo "$retention_note" || broker_status "$way") | – | $([ "$stopped" -gt 0 ] && echo "$stopped stopped" || echo –) |"
      else
        emit "| $label | $t | $(fmt_s "$(median ${T[$id.$way]})") | $(ratio "$(median ${T[$id.$way]})" "$n") | $(printf '%.2f ' ${T[$id.$way]} | sed 's/ $//; s/ / \/ /g')$([ "$stopped" -gt 0 ] && echo "; $stopped more stopped (dev-broker's retention)") |"
      fi
    done
  done
  emit "" "The native replica received an RDB of $(mb "${M[mixed.rdb_bytes]:-0}") MB (mixed) and $(mb "${M[small.rdb_bytes]:-0}") MB (small)." ""

  emit "## Memory" "" \
    "Peak RSS of each process during the snapshot runs above (largest over the completed runs): \`/usr/bin/time -f %M\` for slotstream's commands, \`VmHWM\` for \`dev-broker\`, tansu and the native replica's \`redis-server\` (which holds the whole dataset; its \`used_memory_peak\` in brackets). Ratio = RSS ÷ the native replica's peak RSS." "" \
    "| data | process | peak RSS | ÷ native replica |" "|---|---|---|---|"
  for id in mixed small; do
    [ -n "${T[$id.keys]:-}" ] || continue
    n=$(max_of ${M[$id.native]})
    emit "| $id | native replica redis-server | $n MB (used_memory_peak $(max_of ${M[$id.native_used]}) MB) | 1.00× |"
    emit "| $id | slotstream sync | $(max_of ${M[$id.sync]}) MB | $(ratio "$(max_of ${M[$id.sync]})" "$n") |"
    for way in dev tansu kafka; do
      label=$(broker_label "$way")
      if [ -z "${T[$id.$way]:-}" ]; then
        emit "| $id | produce / consume via $label | $([ "${S[$id.$way]:-0}" -gt 0 ] && echo "$retention_note" || broker_status "$way") | – |"
        continue
      fi
      emit "| $id | slotstream produce ($label) | $(max_of ${M[$id.$way.produce]}) MB | $(ratio "$(max_of ${M[$id.$way.produce]})" "$n") |"
      emit "| $id | slotstream consume ($label) | $(max_of ${M[$id.$way.consume]}) MB | $(ratio "$(max_of ${M[$id.$way.consume]})" "$n") |"
      case $way in
        dev) emit "| $id | slotstream dev-broker (holds the newest ~5 MB of each partition in memory) | $(max_of ${M[$id.dev.broker]}) MB | $(ratio "$(max_of ${M[$id.dev.broker]})" "$n") |" ;;
        tansu) emit "| $id | tansu (memory storage: holds the whole topic) | $(max_of ${M[$id.tansu.broker]}) MB | $(ratio "$(max_of ${M[$id.tansu.broker]})" "$n") |" ;;
      esac
    done
  done
  emit ""
}

# --- 3: incremental -----------------------------------------------------------------------------
wait_live() { # target log source: every partition has applied its snapshot and reached the source.
  # Returns 1 when a follower process exited meanwhile (the caller decides); waits at most 600 s.
  local deadline=$(($(date +%s) + 600)) p done want
  while :; do
    for p in "${follower_pids[@]}"; do running "$p" || return 1; done
    done=0
    for p in $(seq 0 $((partitions - 1))); do
      [ "$(redis-cli -p "$1" hget "__slotstream:checkpoint:$2:$p" snapshot_done)" = 1 ] && done=$((done + 1))
    done
    if [ "$done" = "$partitions" ]; then
      want=$(offset "$3" master_repl_offset)
      [ "$(min_checkpoint "$1" "$2")" -ge "$want" ] && return 0
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die_log "the follower did not finish its snapshot and catch up within 600 s" "$run/live-"*.log
    sleep 0.1
  done
}

# CPU time (user + system) a process has used so far, in clock ticks (/proc/PID/stat fields 14
# and 15; the names of the processes measured hold no spaces).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

incr_run() { # mode: native | sync | dev | tansu | kafka
  local mode=$1 src rep dst="" log_name="" follower_pids=() watch=() topic p k v full0 full1
  local cpu_names=() cpu_pids=() cpu0=() i
  log "incremental/$mode: preparing"
  src=$(start)
  redis-cli -p "$src" debug populate "$initial_keys" key 32 >/dev/null
  rep=$(start)
  redis-cli -p "$rep" replicaof 127.0.0.1 "$src" >/dev/null
  until [ "$(field "$rep" master_link_status)" = up ] && [ "$(redis-cli -p "$rep" dbsize)" = "$initial_keys" ]; do sleep 0.02; done
  case $mode in
    sync)
      dst=$(start); log_name="sync:127.0.0.1:$src"
      "$bin" sync --log info --partitions "$partitions" --source "redis://127.0.0.1:$src" \
        --target "redis://127.0.0.1:$dst" > "$run/live-sync.out" 2> "$run/live-sync.log" &
      follower_pids+=($!); track $! ;;
    dev|tansu|kafka)
      topic="live-$mode-$stamp"; log_name=$topic
      start_broker "$mode" "$topic" "$run/live-broker.out"
      [ -n "$broker_pid" ] && follower_pids+=("$broker_pid")
      dst=$(start)
      "$bin" produce --log info --source "redis://127.0.0.1:$src" --brokers "$brokers" --topic "$topic" \
        --partitions "$partitions" > "$run/live-produce.out" 2> "$run/live-produce.log" &
      follower_pids+=($!); track $!
      # the topic exists once the snapshot is in it
      for _ in $(seq 6000); do grep -q '^produce:' "$run/live-produce.out" && break; sleep 0.1; done
      grep -q '^produce:' "$run/live-produce.out" || die_log "the producer did not write its snapshot" "$run/live-produce.log"
      "$bin" consume --log info --brokers "$brokers" --topic "$topic" --target "redis://127.0.0.1:$dst" \
        > "$run/live-consume.out" 2> "$run/live-consume.log" &
      follower_pids+=($!); track $! ;;
  esac
  if [ -n "$dst" ] && ! wait_live "$dst" "$log_name" "$src"; then
    incr_stopped "$mode" || die_log "incremental/$mode: a follower process exited before the burst" "$run/live-"*.log
    incr_teardown; return 0
  fi
  for p in "${follower_pids[@]}"; do watch+=(--watch "$p"); done   # the probe stops when one exits
  # CPU of every process that works for the copy, from the burst's start until caught up.
  cpu_names=(source "native replica"); cpu_pids=("$(server_pid "$src")" "$(server_pid "$rep")")
  case $mode in
    sync) cpu_names+=("slotstream sync" target); cpu_pids+=("${follower_pids[0]}" "$(server_pid "$dst")") ;;
    dev|tansu|kafka)
      [ -n "$broker_pid" ] && { cpu_names+=(broker); cpu_pids+=("$broker_pid"); }
      cpu_names+=(produce consume target)
      cpu_pids+=("${follower_pids[@]: -2:1}" "${follower_pids[@]: -1}" "$(server_pid "$dst")") ;;
  esac
  cpu0=(); for p in "${cpu_pids[@]}"; do cpu0+=("$(cpu_ticks "$p")"); done
  full0=$(info_field "$src" stats sync_full)
  log "incremental/$mode: burst of 4 × $requests requests"
  if ! python3 bench/burst_probe.py --source "$src" --replica "$rep" ${dst:+--target "$dst" --log "$log_name"} \
      --partitions "$partitions" --burst-log "$run/burst-$mode.txt" "${watch[@]}" -- \
      redis-benchmark -p "$src" -t set,incr,lpush,hset -P 16 -n "$requests" -r 100000 -q \
      > "$run/probe-$mode.out" 2> "$run/probe-$mode.err"; then
    incr_stopped "$mode" || die_log "incremental/$mode: the burst or the catch-up failed" "$run/probe-$mode.err" "$run/probe-$mode.out" "$run/live-"*.log
    incr_teardown; return 0
  fi
  while IFS='=' read -r k v; do R[$mode.$k]=$v; done < "$run/probe-$mode.out"
  R[$mode.cpu]=""
  for i in "${!cpu_pids[@]}"; do
    R[$mode.cpu]+="$([ -n "${R[$mode.cpu]}" ] && echo ', ')${cpu_names[i]} $(calc "($(cpu_ticks "${cpu_pids[i]}") - ${cpu0[i]}) / $(getconf CLK_TCK) / (4 * $requests / 1000000)" | xargs printf '%.2f') s"
  done
  full1=$(info_field "$src" stats sync_full)
  R[$mode.resyncs]=$((full1 - full0))
  R[$mode.bench]=$(tr '\r' '\n' < "$run/burst-$mode.txt" | grep 'requests per second' | sed 's/ requests per second.*//' | paste -sd ' ' | sed 's/  */ /g')
  if [ -n "$dst" ]; then
    "$bin" verify --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$dst" > "$run/verify-$mode.out" 2>&1 \
      || die_log "incremental/$mode: slotstream verify found differences after the catch-up" "$run/verify-$mode.out"
    R[$mode.verify]="identical (exit 0)"
  fi
  log "incremental/$mode: $(paste -sd ' ' "$run/probe-$mode.out")"
  incr_teardown
}
# The rest of incr_run's locals (dynamic scope): stop the followers (newest first), then the servers.
incr_teardown() {
  local k
  for ((k = ${#follower_pids[@]} - 1; k >= 0; k--)); do untrack "${follower_pids[k]}"; done
  [ -n "$dst" ] && stop_server "$dst"
  stop_server "$rep"; stop_server "$src"
}
# A dev-broker consumer that stopped on the broker's retention: recorded as such (true), the
# benchmark goes on. Anything else: false (the caller aborts).
incr_stopped() { # mode
  [ "$1" = dev ] && retention_hit "$run/live-consume.log" || return 1
  R[$1.stopped]=$retention_note
  log "incremental/$1: the consumer stopped: dev-broker's retention was exceeded ($(grep -m1 -o 'records [0-9]*\.\.=[0-9]* of [^ ]*' "$run/live-consume.log")); going on"
}

incremental_report() {
  local mode t nat
  emit "## Incremental" "" \
    "The source starts with $(thousands "$initial_keys") keys and a native replica attached; the follower copies it and catches up, then \`redis-benchmark -p SRC -t set,incr,lpush,hset -P 16 -n $requests -r 100000 -q\` runs as a burst. In every run the native replica follows the same burst alongside: the ratios of applied ops/s, lag and catch-up are against it. Source ops/s is compared with the run where only the native replica follows." "" \
    "- source ops/s: calls of set/incr/lpush/hset in the source's \`INFO commandstats\` during the burst ÷ the burst's duration." \
    "- applied ops/s: those ops ÷ the time from the start of the burst until the follower reached the source's final \`master_repl_offset\`." \
    "- lag, sampled (\`bench/burst_probe.py\`): every 100 ms during the burst the source's \`master_repl_offset\` is read; followers are polled every 5 ms (native: the replica's \`master_repl_offset\`; slotstream: the smallest \`offset\` of the $partitions checkpoints \`__slotstream:checkpoint:<log>:<p>\` in the target). A sample's lag is the time until the follower first reached that offset. Resolution ≈ the 5 ms poll plus scheduling delay; where the native figure is below 5 ms the ratio is given as a lower bound (slotstream's figure ÷ 5 ms)." \
    "- caught up: from the end of the burst until the follower reached the source's offset at the end of the burst; \`slotstream verify\` then compared source and target (exit 0 = identical)." \
    "- Brokers: dev-broker and tansu are started empty for each run; on tansu and Kafka the producer creates the topic. dev-broker keeps only the newest ~5 MB (or 100,000 batches) of each partition: a consumer further behind than that stops rather than skip records (\"stopped\" below; the burst is cut short there)." \
    "- A partition's checkpoint passes offsets where it has no record of its own only with the producer's heartbeats, written every 100 ms (\`HEARTBEAT_EVERY\` in producer/src/follow.rs): slotstream's lag and catch-up figures include up to ~0.1 s of that cadence." "" \
    "| follower | burst | source ops/s | ÷ native-only run | applied ops/s | native applied ops/s | ÷ native |" "|---|---|---|---|---|---|---|"
  for mode in native sync dev tansu kafka; do
    case $mode in native) t="native replica only" ;; sync) t="slotstream sync" ;; *) t="produce+consume via $(broker_label "$mode")" ;; esac
    if [ -n "${R[$mode.stopped]:-}" ]; then emit "| $t | ${R[$mode.stopped]} | – | – | – | – | – |"; continue; fi
    if [ -z "${R[$mode.burst_s]:-}" ]; then
      case $mode in tansu|kafka) emit "| $t | $(broker_status "$mode") | – | – | – | – | – |" ;; esac
      continue
    fi
    if [ "$mode" = native ]; then
      emit "| $t | $(fmt_s "${R[$mode.burst_s]}") | $(thousands "${R[$mode.source_ops_s]}") | 1.00× | $(thousands "${R[$mode.native_applied_ops_s]}") | $(thousands "${R[$mode.native_applied_ops_s]}") | 1.00× |"
    else
      emit "| $t | $(fmt_s "${R[$mode.burst_s]}") | $(thousands "${R[$mode.source_ops_s]}") | $(ratio "${R[$mode.source_ops_s]}" "${R[native.source_ops_s]:-}") | $(thousands "${R[$mode.slotstream_applied_ops_s]}") | $(thousands "${R[$mode.native_applied_ops_s]}") | $(ratio "${R[$mode.slotstream_applied_ops_s]}" "${R[$mode.native_applied_ops_s]}") |"
    fi
  done
  emit "" "| follower | lag p50 | lag p99 | native p50 / p99 (same burst) | p50 ÷ native | p99 ÷ native | caught up after burst | native | ÷ native | verify |" "|---|---|---|---|---|---|---|---|---|---|"
  for mode in native sync dev tansu kafka; do
    case $mode in native) t="native replica only" ;; sync) t="slotstream sync" ;; *) t="produce+consume via $(broker_label "$mode")" ;; esac
    if [ -n "${R[$mode.stopped]:-}" ]; then emit "| $t | ${R[$mode.stopped]} | – | – | – | – | – | – | – | – |"; continue; fi
    if [ -z "${R[$mode.burst_s]:-}" ]; then
      case $mode in tansu|kafka) emit "| $t | $(broker_status "$mode") | – | – | – | – | – | – | – | – |" ;; esac
      continue
    fi
    nat="${R[$mode.native_p50_ms]} / ${R[$mode.native_p99_ms]} ms"
    if [ "$mode" = native ]; then
      emit "| $t | ${R[$mode.native_p50_ms]} ms | ${R[$mode.native_p99_ms]} ms | $nat | 1.00× | 1.00× | $(printf '%.3f s' "${R[$mode.native_caught_up_s]}") | $(printf '%.3f s' "${R[$mode.native_caught_up_s]}") | 1.00× | – |"
    else
      emit "| $t | ${R[$mode.slotstream_p50_ms]} ms | ${R[$mode.slotstream_p99_ms]} ms | $nat | $(ratio_res "${R[$mode.slotstream_p50_ms]}" "${R[$mode.native_p50_ms]}" 5) | $(ratio_res "${R[$mode.slotstream_p99_ms]}" "${R[$mode.native_p99_ms]}" 5) | $(printf '%.3f s' "${R[$mode.slotstream_caught_up_s]}") | $(printf '%.3f s' "${R[$mode.native_caught_up_s]}") | $(ratio_res "${R[$mode.slotstream_caught_up_s]}" "${R[$mode.native_caught_up_s]}" 0.005) | ${R[$mode.verify]} |"
    fi
  done
  emit "" "redis-benchmark's own figures (requests per second per test), and full resyncs the source performed during the burst (should be 0):" ""
  for mode in native sync dev tansu kafka; do
    [ -n "${R[$mode.stopped]:-}" ] && emit "- $mode: ${R[$mode.stopped]} (the burst was cut short)"
    [ -n "${R[$mode.burst_s]:-}" ] || continue
    emit "- $mode: ${R[$mode.bench]}; lag samples ${R[$mode.samples]}; full resyncs ${R[$mode.resyncs]}"
  done
  emit "" "CPU seconds (user + system, \`/proc/PID/stat\`) per million live commands, each process that works for the copy, from the burst's start until the follower caught up (the figure issue 20 is judged by; it does not depend on how busy the machine is):" ""
  for mode in native sync dev tansu kafka; do
    [ -n "${R[$mode.cpu]:-}" ] || continue
    emit "- $mode: ${R[$mode.cpu]}"
  done
  emit ""
}

# --- 4: microbenchmarks -------------------------------------------------------------------------
micro() {
  local spec pkg b
  emit "## Microbenchmarks" "" \
    "criterion, \`-- --warm-up-time 1 --measurement-time 3\`; middle estimate of time and throughput per iteration. For scale: in this run's snapshot section the native replica copied $(native_rates)." "" \
    "| benchmark | time | throughput | ÷ native replica's snapshot rate |" "|---|---|---|---|"
  for spec in slotstream-rdb:rdb_parse slotstream-schemas:codec slotstream-rdb:restore_payload; do
    pkg=${spec%%:*}; b=${spec#*:}
    log "micro: cargo bench -p $pkg --bench $b"
    cargo bench -p "$pkg" --bench "$b" -- --warm-up-time 1 --measurement-time 3 > "$run/bench-$b.txt" 2>&1 \
      || die_log "cargo bench -p $pkg --bench $b failed" "$run/bench-$b.txt"
    awk -v mbs="${native_mb_s:-0}" -v keys="${native_keys_s:-0}" '
      function num(v, u) {   # to bytes/s or elements/s
        if (u ~ /^GiB/) return v * 1073741824; if (u ~ /^MiB/) return v * 1048576; if (u ~ /^KiB/) return v * 1024
        if (u ~ /^Gelem/) return v * 1e9; if (u ~ /^Melem/) return v * 1e6; if (u ~ /^Kelem/) return v * 1e3
        return v
      }
      /^[A-Za-z0-9_]/ { name = $1 }
      /%/ { next }   # the "change:" block (against the previous criterion run)
      /time:/ { sub(/.*time: *\[/, ""); split($0, a, " "); time = a[3] " " a[4] }
      /thrpt:/ {
        sub(/.*thrpt: *\[/, ""); split($0, a, " "); v = a[3]; u = a[4]; r = "n/a"
        x = num(v, u)
        if (u ~ /B\/s/ && mbs > 0) r = sprintf("%.1f× (MB/s of RDB, mixed)", x / 1048576 / mbs)
        else if (u ~ /elem\/s/ && keys > 0) r = sprintf("%.1f× (keys/s, small)", x / keys)
        printf "| %s | %s | %s %s | %s |\n", name, time, v, u, r
      }' "$run/bench-$b.txt" >> "$doc"
  done
  emit ""
}
native_rates() {
  native_mb_s=0; native_keys_s=0
  local parts=()
  if [ -n "${T[mixed.native]:-}" ]; then
    native_mb_s=$(calc "${M[mixed.rdb_bytes]} / 1048576 / $(median ${T[mixed.native]})")
    parts+=("$(printf '%.0f MB/s of RDB (mixed)' "$native_mb_s")")
  fi
  if [ -n "${T[small.native]:-}" ]; then
    native_keys_s=$(calc "${T[small.keys]} / $(median ${T[small.native]})")
    parts+=("$(thousands "$(printf '%.0f' "$native_keys_s")") keys/s (small)")
  fi
  [ ${#parts[@]} -gt 0 ] && (IFS=,; echo "${parts[*]}" | sed 's/,/, /g') || echo "nothing (snapshot section skipped: no ratios)"
}

# --- main ---------------------------------------------------------------------------------------
log "results go to $out; scratch in $run"
machine
if [ "$do_snapshot" = 1 ]; then
  snapshot_dataset mixed load_mixed
  snapshot_dataset small load_small
  snapshot_report
fi
if [ "$do_incremental" = 1 ]; then
  incr_run native
  incr_run sync
  incr_run dev
  [ "$tansu_status" = up ] && incr_run tansu
  [ "$kafka_status" = up ] && incr_run kafka
  incremental_report
fi
if [ "$do_micro" = 1 ]; then
  native_rates > /dev/null   # sets native_mb_s / native_keys_s
  micro
fi
mkdir -p "$(dirname "$out")"
cp "$doc" "$out"
log "done: $out"
