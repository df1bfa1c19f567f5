#!/usr/bin/env bash
# The soak: `slotstream produce` and `slotstream consume` through a broker for a long time under a
# steady write load, with SIGKILLs, watching memory and lag.
#
# Starts a source and a target redis-server on free loopback ports (never 6379), a broker
# (`slotstream dev-broker` by default, or tansu with memory storage, whose fetches slow down as
# its in-memory topic grows: over 30 minutes it, not slotstream, sets the lag), `produce` and `consume`, seeds the
# source with 10,000 keys and waits until the copy is live; then runs scripts/soak_load.py on the
# source for the duration: a ledger of non-idempotent writes (INCR, LPUSH, RPUSH, APPEND, HINCRBY,
# ZINCRBY, XADD, a cross-slot MULTI, a cross-slot Lua EVAL; 13 commands a round) and mixed writes
# over a bounded keyspace (SET with EX, DEL, EXPIRE, SADD, ZINCRBY, HSET, LPUSH + LTRIM, XADD
# MAXLEN, INCR), in pipelines every 100 ms on a fixed schedule. Every --kill-every seconds it
# SIGKILLs `produce` or `consume` (alternately, `produce` first) and restarts it at once with the
# same flags; a role that exits by itself is restarted too, and counts as a failure.
#
# Every second it reads the lag, and every --sample-every seconds it writes a row to samples.csv:
#   - RSS (VmRSS from /proc) of produce, consume, the broker, the source and target redis-server,
#     and the servers' used_memory;
#   - lag_bytes: the source's master_repl_offset minus the smallest checkpoint offset
#     (`__slotstream:checkpoint:<topic>:<p>` in the target) over the 16 partitions;
#   - lag_s: how old the source state is that every partition of the target has reached: the time
#     at which the source's offset (read every second) passed that smallest checkpoint offset,
#     interpolated between the two readings around it, subtracted from now. It covers the
#     producer, the broker and the consumer, and grows while either is down.
# At the end it stops the load, waits until every partition's checkpoint has reached the source's
# offset, runs `slotstream verify` and checks the ledger on the target (and, as a check of the
# ledger itself, on the source), then prints a summary: kills, load, RSS of each process (first
# sample, first after the warm-up, last, max, least-squares slope in MB/hour over the samples after
# the warm-up; for produce and consume also the slope within each process's lifetime, since a
# restart starts its RSS afresh), max and final lag, full and partial resyncs of the source,
# verify and ledger. Exits 1 if verify finds a difference, the ledger a lost, doubled or reordered
# write, the target does not catch up, or a role exited by itself. The scratch directory (CSV,
# every process's log, the servers' logs, lag.txt with the lag of every second) is kept and named at
# the end.
#
# tansu's memory storage keeps every record: its RSS grows with the topic, by design. dev-broker
# keeps only the newest ~5 MB of each partition: a consumer that falls further behind (for one
# killed for long under a heavy load) stops rather than skip records, and the soak fails.
#
# usage: scripts/soak.sh [options]
#   --minutes M         duration of the load (default 30; decimals allowed)   [SOAK_MINUTES]
#   --kill-every S      seconds between SIGKILLs, 0 for none (default 240)    [SOAK_KILL_EVERY]
#   --warmup-minutes M  samples left out of the slopes (default 2)            [SOAK_WARMUP_MINUTES]
#   --sample-every S    seconds between CSV rows (default 10)                 [SOAK_SAMPLE_EVERY]
#   --rounds-per-s N    ledger rounds a second, 13 commands each (default 50) [SOAK_ROUNDS_PER_S]
#   --mixed-per-s N     mixed commands a second (default 500)                 [SOAK_MIXED_PER_S]
#   --broker KIND       dev (default) or tansu                                [SOAK_BROKER]
#   --catch-up-secs S   how long the target may take to catch up at the end (default 600)
# environment:
#   SLOTSTREAM_BIN           slotstream binary (default: target/release/slotstream, built first
#                            when missing or older than the sources)
#   SLOTSTREAM_REDIS_SERVER  redis-server binary (default: redis-server on PATH, else the newest
#                            SERVERS_DIR/bin/redis-*)
#   SERVERS_DIR              where tansu is (DIR/bin/tansu), or is installed into by
#                            scripts/install-tansu.sh (default ~/.cache/slotstream/servers)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh   # start, track, forget, running, stop_pid, start_tansu, start_dev_broker, ...

minutes=${SOAK_MINUTES:-30}
kill_every=${SOAK_KILL_EVERY:-240}
warmup_minutes=${SOAK_WARMUP_MINUTES:-2}
sample_every=${SOAK_SAMPLE_EVERY:-10}
rounds_per_s=${SOAK_ROUNDS_PER_S:-50}
mixed_per_s=${SOAK_MIXED_PER_S:-500}
broker_kind=${SOAK_BROKER:-dev}
catch_up_secs=600
usage() { sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift ;;
    --kill-every) kill_every=$2; shift ;;
    --warmup-minutes) warmup_minutes=$2; shift ;;
    --sample-every) sample_every=$2; shift ;;
    --rounds-per-s) rounds_per_s=$2; shift ;;
    --mixed-per-s) mixed_per_s=$2; shift ;;
    --broker) broker_kind=$2; shift ;;
    --catch-up-secs) catch_up_secs=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case $broker_kind in tansu|dev) ;; *) echo "--broker is tansu or dev, not $broker_kind" >&2; exit 2 ;; esac
for v in "$minutes" "$warmup_minutes" "$rounds_per_s" "$mixed_per_s"; do
  [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "not a number: $v" >&2; exit 2; }
done
for v in "$kill_every" "$sample_every" "$catch_up_secs"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "not a whole number of seconds: $v" >&2; exit 2; }
done
[ "$sample_every" -gt 0 ] || { echo "--sample-every must be at least 1" >&2; exit 2; }
duration=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 + 0.5 }')
warmup=$(awk -v m="$warmup_minutes" 'BEGIN { printf "%d", m * 60 + 0.5 }')
partitions=16
topic=soak
broker_name=$([ "$broker_kind" = dev ] && echo dev-broker || echo tansu)

bench_init soak keep
bench_hooks+=('[ "$rc" = 0 ] || log "exit status $rc; the scratch directory is kept: $run"')
build_if_stale
if [ -z "${SLOTSTREAM_REDIS_SERVER:-}" ] && ! command -v redis-server >/dev/null; then
  server=$(ls -v "${SERVERS_DIR:-$DEFAULT_SERVERS_DIR}"/bin/redis-[0-9]* 2>/dev/null | tail -1)
  [ -n "$server" ] || die "no redis-server: set SLOTSTREAM_REDIS_SERVER, put one on PATH or run scripts/install-servers.sh"
fi

fail_log() { # message file...: the last lines of each file, then exit 1 (the scratch dir is kept)
  local f; log "FATAL: $1"; shift
  for f in "$@"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  log "scratch directory: $run"
  exit 1
}
rss() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }
used_mb() { info_field "$1" memory used_memory | awk '{ printf "%.1f", $1 / 1048576 }'; }
# The smallest checkpoint offset over the partitions, in one round trip; 0 while one is missing.
min_ckpt() {
  local p
  for p in $(seq 0 $((partitions - 1))); do echo "HGET __slotstream:checkpoint:$topic:$p offset"; done |
    redis-cli -p "$dst" | awk '$1 == "" { missing = 1 } m == "" || $1 + 0 < m { m = $1 + 0 }
      END { printf "%.0f\n", missing ? 0 : m }'
}

# --- servers, broker, produce, consume ---------------------------------------------------------
t0=$EPOCHREALTIME   # set again when the load starts
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a }'; }
src=$(start); dst=$(start)
src_pid=$(server_pid "$src"); dst_pid=$(server_pid "$dst")
redis-cli -p "$src" debug populate 10000 soak:seed 64 >/dev/null
case $broker_kind in
  tansu)
    tansu_prepare
    [ "$tansu_status" = up ] || die "$tansu_status (or run with --broker dev)"
    start_tansu ;;
  dev) start_dev_broker "$topic" "$partitions" "$run/broker.out" ;;
esac
log "source 127.0.0.1:$src, target 127.0.0.1:$dst, $broker_name at $brokers; scratch in $run"

declare -A role_pid kills exits
kills=([produce]=0 [consume]=0)
exits=([produce]=0 [consume]=0)
failures=()
start_role() { # produce|consume; output appended to $run/ROLE.log (stderr) and ROLE.out
  local args
  if [ "$1" = produce ]; then
    args=(produce --log info --source "redis://127.0.0.1:$src" --brokers "$brokers" --topic "$topic" --partitions "$partitions")
  else
    args=(consume --log info --brokers "$brokers" --topic "$topic" --target "redis://127.0.0.1:$dst")
  fi
  echo "=== $(date +%T) start: slotstream ${args[*]}" >> "$run/$1.log"
  "$bin" "${args[@]}" >> "$run/$1.out" 2>> "$run/$1.log" &
  role_pid[$1]=$!; track "$!"
}
kill_role() { # role: SIGKILL, reap, start again with the same flags
  local p=${role_pid[$1]}
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  forget "$p"
  echo "=== $(date +%T) SIGKILL (kill $((kills[$1] + 1)))" >> "$run/$1.log"
  kills[$1]=$((kills[$1] + 1))
  start_role "$1"
}
check_roles() { # restarts a role that exited by itself, and records it; a dead broker or load is fatal
  local r p rc
  for r in produce consume; do
    p=${role_pid[$r]}
    running "$p" && continue
    rc=0; wait "$p" 2>/dev/null || rc=$?
    forget "$p"
    exits[$r]=$((exits[$r] + 1))
    failures+=("$r exited by itself with status $rc at $(elapsed) s")
    log "$r exited by itself with status $rc: restarting it (see $run/$r.log)"
    echo "=== $(date +%T) exited with status $rc" >> "$run/$r.log"
    start_role "$r"
  done
  running "$broker_pid" || fail_log "the broker ($broker_name) exited" "$run"/tansu.1/tansu.log "$run/broker.out"
  if [ -n "${load_pid:-}" ] && ! running "$load_pid"; then
    fail_log "the load (scripts/soak_load.py) stopped" "$run/load.err"
  fi
}

start_role produce
start_role consume
log "waiting for the snapshot to be applied"
deadline=$(($(date +%s) + 600))
until [ "$(redis-cli -p "$dst" exists $(for p in $(seq 0 $((partitions - 1))); do echo "__slotstream:checkpoint:$topic:$p"; done))" = "$partitions" ] &&
      [ "$(min_ckpt)" -ge "$(offset "$src" master_repl_offset)" ]; do
  check_roles
  [ "$(date +%s)" -lt "$deadline" ] || fail_log "the copy did not go live within 600 s" "$run/produce.log" "$run/consume.log"
  sleep 0.2
done

# --- the load ------------------------------------------------------------------------------------
t0=$EPOCHREALTIME
: > "$run/source-offsets.txt"   # "time offset", every second
echo "# elapsed_s lag_s lag_bytes, every second" > "$run/lag.txt"
max_lag_s=0 max_lag_at=0 max_lag_bytes=0 lag_s=0 lag_bytes=0 cur=0 ckpt=0
# Reads the source's offset and the checkpoints; sets cur, ckpt, lag_bytes, lag_s and the maxima.
measure() {
  local t
  t=$EPOCHREALTIME
  cur=$(offset "$src" master_repl_offset)
  echo "$t $cur" >> "$run/source-offsets.txt"
  ckpt=$(min_ckpt)
  lag_bytes=$((cur > ckpt ? cur - ckpt : 0))
  # newest first: the first reading at or below ckpt, interpolated towards the next newer one
  # (awk reads to the end: an early exit would fail the pipeline with SIGPIPE under pipefail)
  lag_s=$(tac "$run/source-offsets.txt" | awk -v c="$ckpt" -v now="$t" '
    done { next }
    NR == 1 && $2 <= c { print 0; done = 1; next }
    $2 <= c { printf "%.2f\n", now - ($1 + (nt - $1) * (c - $2) / (no - $2)); done = 1; next }
    { nt = $1; no = $2 }
    END { if (!done) printf "%.2f\n", now - nt }')
  if awk -v a="$lag_s" -v b="$max_lag_s" 'BEGIN { exit !(a > b) }'; then
    max_lag_s=$lag_s max_lag_at=$(elapsed)
  fi
  [ "$lag_bytes" -gt "$max_lag_bytes" ] && max_lag_bytes=$lag_bytes
  echo "$(elapsed) $lag_s $lag_bytes" >> "$run/lag.txt"
  return 0
}
csv=$run/samples.csv
echo "time,elapsed_s,phase,kills,produce_pid,produce_rss_mb,consume_pid,consume_rss_mb,broker_rss_mb,source_rss_mb,target_rss_mb,source_used_mb,target_used_mb,source_offset,min_checkpoint,lag_bytes,lag_s" > "$csv"
sample() { # phase
  echo "$(date +%T),$(elapsed),$1,$((kills[produce] + kills[consume])),${role_pid[produce]},$(rss "${role_pid[produce]}"),${role_pid[consume]},$(rss "${role_pid[consume]}"),$(rss "$broker_pid"),$(rss "$src_pid"),$(rss "$dst_pid"),$(used_mb "$src"),$(used_mb "$dst"),$cur,$ckpt,$lag_bytes,$lag_s" >> "$csv"
}

python3 scripts/soak_load.py write --port "$src" --state "$run/load.json" \
  --rounds-per-s "$rounds_per_s" --mixed-per-s "$mixed_per_s" > "$run/load.out" 2> "$run/load.err" &
load_pid=$!; track "$load_pid"
log "load: $rounds_per_s ledger rounds/s + $mixed_per_s mixed commands/s for $minutes min; SIGKILL every ${kill_every} s (0: none); a CSV row every $sample_every s: $csv"
next_role=produce
next_kill=$kill_every
next_sample=0
tick=0
while :; do
  e=$(elapsed)
  [ "$e" -ge "$duration" ] && break
  check_roles
  measure
  if [ "$e" -ge "$next_sample" ]; then
    sample load
    next_sample=$((next_sample + sample_every))
    if [ $((tick++ % 6)) = 0 ]; then
      log "$e s: lag ${lag_s} s (${lag_bytes} B); RSS produce $(rss "${role_pid[produce]}") consume $(rss "${role_pid[consume]}") broker $(rss "$broker_pid") MB; kills ${kills[produce]}+${kills[consume]}"
    fi
  fi
  if [ "$kill_every" -gt 0 ] && [ "$e" -ge "$next_kill" ]; then
    log "$e s: SIGKILL $next_role"
    kill_role "$next_role"
    [ "$next_role" = produce ] && next_role=consume || next_role=produce
    next_kill=$((next_kill + kill_every))
  fi
  # one tick a second, on t0's schedule
  sleep "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { d = 1 - (b - a) % 1; printf "%.3f", d < 0.05 ? d + 1 : d }')"
done

# --- the end: stop the load, catch up, verify ------------------------------------------------------
kill -TERM "$load_pid"
load_rc=0; wait "$load_pid" || load_rc=$?
forget "$load_pid"; load_pid=""
[ "$load_rc" = 0 ] || fail_log "the load ended with status $load_rc" "$run/load.err"
load_secs=$(elapsed) load_end=$EPOCHREALTIME
rounds=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rounds"])' "$run/load.json")
want=$(offset "$src" master_repl_offset)
log "load stopped after $load_secs s ($(cat "$run/load.out")); waiting for the target to reach the source's offset $want"
caught_up=""
while :; do
  check_roles
  measure
  if [ "$ckpt" -ge "$want" ]; then caught_up=$(awk -v a="$EPOCHREALTIME" -v b="$load_end" 'BEGIN { printf "%.1f", a - b }'); break; fi
  [ "$(($(elapsed) - load_secs))" -lt "$catch_up_secs" ] || break
  [ "$(elapsed)" -ge "$next_sample" ] && { sample catch-up; next_sample=$((next_sample + sample_every)); }
  sleep 0.5
done
sample end
[ -n "$caught_up" ] || failures+=("the target did not reach the source's offset within $catch_up_secs s after the load stopped")

verify_rc=0
"$bin" verify --log warn --source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$dst" > "$run/verify.out" 2>&1 || verify_rc=$?
[ "$verify_rc" = 0 ] || failures+=("slotstream verify: exit $verify_rc")
ledger_rc=0
ledger=$(python3 scripts/soak_load.py check --port "$dst" --rounds "$rounds" 2>&1) || ledger_rc=$?
[ "$ledger_rc" = 0 ] || failures+=("the ledger on the target: $ledger")
source_ledger_rc=0
source_ledger=$(python3 scripts/soak_load.py check --port "$src" --rounds "$rounds" 2>&1) || source_ledger_rc=$?
[ "$source_ledger_rc" = 0 ] || failures+=("the ledger on the source itself (a broken load, not a copy fault): $source_ledger")

# --- summary ---------------------------------------------------------------------------------------
# Per RSS column: first, first after the warm-up, last, max, least-squares slope (MB/hour) over
# the rows of the load phase after the warm-up, and for produce/consume the slope within each pid.
stats() { # column pid-column-or-empty
  awk -F, -v col="$1" -v pidcol="${2:-}" -v w="$warmup" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c[col] == "" { next }
    { y = $c[col] + 0; if (first == "") first = y; last = y; if (y > max) max = y }
    $c["phase"] != "load" || $c["elapsed_s"] < w { next }
    {
      if (after == "") after = y
      x = $c["elapsed_s"] / 3600; n++; sx += x; sy += y; sxx += x * x; sxy += x * y
      if (pidcol != "") { g = $c[pidcol]; gn[g]++; gx[g] += x; gy[g] += y; gxx[g] += x * x; gxy[g] += x * y }
    }
    END {
      slope = (n > 2 && n * sxx - sx * sx > 0) ? sprintf("%+.1f", (n * sxy - sx * sy) / (n * sxx - sx * sx)) : "n/a"
      within = "-"
      if (pidcol != "") {
        for (g in gn) if (gn[g] > 2) { nxy += gxy[g] - gx[g] * gy[g] / gn[g]; nxx += gxx[g] - gx[g] * gx[g] / gn[g]; k++ }
        within = nxx > 0 ? sprintf("%+.1f (%d lifetimes)", nxy / nxx, k) : "n/a"
      }
      printf "%s|%s|%s|%s|%s|%s\n", first, (after == "" ? "n/a" : after), last, max, slope, within
    }' "$csv"
}
final_lag=$(tail -1 "$csv" | awk -F, '{ print $NF }')
lag_pct=$(awk '!/^#/ { print $2 }' "$run/lag.txt" | sort -g |
  awk '{ a[NR] = $1 } END { k = int(NR * 0.99); if (k < 1) k = 1; if (NR) printf "p50 %s s, p99 %s s", a[int((NR + 1) / 2)], a[k] }')
status_line=$([ ${#failures[@]} = 0 ] && echo PASSED || echo FAILED)
{
  echo
  echo "soak $status_line: $(awk -v s="$load_secs" 'BEGIN { printf "%.1f", s / 60 }') min of load via $broker_name, redis-server $("$server" --version | awk '{ print $3 }' | sed 's/^v=//')" \
    "| kills: ${kills[produce]} of produce, ${kills[consume]} of consume (every $kill_every s) | exited by themselves: ${exits[produce]} produce, ${exits[consume]} consume"
  echo "load: $(cat "$run/load.out" | sed 's/^soak_load: //')"
  echo "source: full resyncs $(info_field "$src" stats sync_full), partial resyncs $(info_field "$src" stats sync_partial_ok), partial refused $(info_field "$src" stats sync_partial_err); keys $(redis-cli -p "$src" dbsize), target keys $(redis-cli -p "$dst" dbsize)"
  echo "RSS in MB (VmRSS every $sample_every s; slopes over the samples after the first $warmup_minutes min of load):"
  printf '  %-14s %8s %12s %8s %8s %14s  %s\n' process first after-warmup last max "slope MB/h" "slope within lifetimes MB/h"
  for spec in produce:produce_rss_mb:produce_pid consume:consume_rss_mb:consume_pid "$broker_name:broker_rss_mb:" \
              source-redis:source_rss_mb: target-redis:target_rss_mb: source-used:source_used_mb: target-used:target_used_mb:; do
    IFS=: read -r name column pidcol <<< "$spec"
    IFS='|' read -r a b c d e f <<< "$(stats "$column" "$pidcol")"
    printf '  %-14s %8s %12s %8s %8s %14s  %s\n' "$name" "$a" "$b" "$c" "$d" "$e" "$f"
  done
  echo "lag (source offset time not yet applied on every partition; read every second): $lag_pct, max ${max_lag_s} s at ${max_lag_at} s, max ${max_lag_bytes} B behind; final $final_lag s; caught up ${caught_up:-NOT} s after the load stopped"
  echo "verify: $(tail -1 "$run/verify.out" | sed 's/^verify: //') (exit $verify_rc)"
  echo "$ledger"
  echo "on the source (the ledger's own check): ${source_ledger#ledger: }"
  for f in "${failures[@]}"; do echo "FAILURE: $f"; done
  echo "samples: $csv, the lag every second: $run/lag.txt; logs: $run/{produce,consume}.{log,out}, $run/load.{out,err}, $run/verify.out; scratch directory: $run"
} | tee "$run/summary.txt"
[ ${#failures[@]} = 0 ]
