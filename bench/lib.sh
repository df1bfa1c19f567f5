# Helpers shared by the benchmark scripts (bench/run.sh, bench/snapshot.sh, bench/lag.sh) and the
# soak (scripts/soak.sh).
# Source it from a script that runs with `set -euo pipefail` from the repository root:
#
#   cd "$(dirname "$0")/.."; . bench/lib.sh; bench_init
#
# bench_init makes a scratch directory ($run) and installs an EXIT trap that stops every server
# started with `start` and every process registered with `track` (and their children), by id.
# `bench_init NAME keep` names it slotstream-NAME.XXXXXX and keeps it at exit (scripts/soak.sh).

server=${SLOTSTREAM_REDIS_SERVER:-redis-server}
bin=${SLOTSTREAM_BIN:-target/release/slotstream}
pids=()
run=""
bench_hooks=()      # extra cleanup commands, run after the tracked processes are stopped
. scripts/lib.sh   # DEFAULT_SERVERS_DIR
tansu_dir=${SERVERS_DIR:-$DEFAULT_SERVERS_DIR}   # where scripts/install-tansu.sh puts tansu
tansu_runs=0

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

keep_run=""
bench_init() { # [name [keep]]
  run=$(mktemp -d "${TMPDIR:-/tmp}/slotstream-${1:-bench}.XXXXXX")
  keep_run=${2:-}
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Stops a process and its descendants (e.g. a `timed` subshell, its `/usr/bin/time` and what that
# runs), by id, the deepest first: SIGTERM, then SIGKILL to whatever is still alive after 10 s.
stop_pid() {
  local all=("$1") c i alive
  for ((i = 0; i < ${#all[@]}; i++)); do
    for c in $(ps -o pid= --ppid "${all[i]}" 2>/dev/null); do all+=("$c"); done
  done
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do kill "${all[i]}" 2>/dev/null || true; done
  for _ in $(seq 100); do
    alive=0
    for c in "${all[@]}"; do kill -0 "$c" 2>/dev/null && [[ "$(ps -o stat= -p "$c")" != Z* ]] && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  log "process ${all[*]} ignored SIGTERM for 10 s: SIGKILL"
  for c in "${all[@]}"; do kill -9 "$c" 2>/dev/null || true; done
}

bench_cleanup() {
  local rc=$? h p pid
  set +e
  # processes first (they may need their servers to stop cleanly), then the servers
  for ((p = ${#pids[@]} - 1; p >= 0; p--)); do stop_pid "${pids[p]}"; done   # newest first
  # then the hooks (a tansu whose start was interrupted): a broker stopped before its clients
  # would hold up their drain
  for h in "${bench_hooks[@]}"; do eval "$h"; done
  for p in $(cat "$run/ports" 2>/dev/null); do
    pid=$(redis-cli -p "$p" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "$run" ] && [ "$keep_run" != keep ] && rm -rf "$run"
  return "$rc"
}

track() { pids+=("$1"); }
forget() { local p keep=(); for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; pids=("${keep[@]}"); }
running() { [ -e "/proc/$1" ] && [[ "$(ps -o stat= -p "$1")" != Z* ]]; }   # pid: runs (not a zombie)
untrack() { # pid: stops it and forgets it
  stop_pid "$1"; wait "$1" 2>/dev/null || true
  forget "$1"
}

# Builds the release binary only when it is missing or older than a source file.
build_if_stale() {
  if [ -n "${SLOTSTREAM_BIN:-}" ]; then
    [ -x "$bin" ] || die "SLOTSTREAM_BIN=$bin is not executable"
    return
  fi
  if [ ! -x "$bin" ] || [ -n "$(find Cargo.toml Cargo.lock src schemas rdb link producer consumer kafka verify \
        -newer "$bin" \( -name '*.rs' -o -name 'Cargo.*' -o -name '*.avsc' \) -print -quit)" ]; then
    log "building $bin (missing or older than the sources)"
    cargo build --release --quiet --bin slotstream
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts a redis-server on a free loopback port (never 6379); prints the port. Extra arguments
# are passed to redis-server. Called as `x=$(start)`, i.e. in a subshell, so the port is
# recorded in the file $run/ports, which the cleanup reads.
start() {
  local port; port=$(free_port)
  while [ "$port" = 6379 ]; do port=$(free_port); done
  mkdir -p "$run/$port"
  "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$run/$port" --logfile "$run/$port/server.log" --repl-diskless-sync-delay 0 \
    --enable-debug-command yes "$@" >/dev/null
  for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$port" ping >/dev/null 2>&1 || die "redis-server on port $port did not start"
  echo "$port" >> "$run/ports"
  echo "$port"
}
# Keys over the servers (ports) given, slotstream's bookkeeping (`__slotstream:*`) aside.
data_keys() {
  local n=0 p
  for p in "$@"; do
    n=$((n + $(redis-cli -p "$p" dbsize) - $(redis-cli -p "$p" --scan --pattern '__slotstream:*' | wc -l)))
  done
  echo "$n"
}
# Seconds a native replica (a fresh server, stopped after) takes to hold the `keys` keys of `src`;
# further arguments go to the replica's redis-server (bench/tls.sh: a replica over TLS).
native_copy() { # src keys [server args...]
  local replica t0 t1
  replica=$(start "${@:3}")
  t0=$(now)
  redis-cli -p "$replica" replicaof 127.0.0.1 "$1" >/dev/null
  while [ "$(field "$replica" master_link_status)" != "up" ] || \
        [ "$(redis-cli -p "$replica" dbsize)" != "$2" ]; do sleep 0.01; done
  t1=$(now)
  stop_server "$replica"
  echo "$t1 - $t0" | bc -l
}
# A node of a Redis Cluster on a free port (its bus port free too); prints the port.
cluster_node() {
  start --cluster-enabled yes --cluster-port "$(free_port)" --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 "$@"
}
cluster_state() { redis-cli -p "$1" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p'; }
# Starts three primaries that serve every slot between them; prints their ports.
new_cluster() {
  local a b c p
  a=$(cluster_node); b=$(cluster_node); c=$(cluster_node)
  redis-cli --cluster create "127.0.0.1:$a" "127.0.0.1:$b" "127.0.0.1:$c" \
    --cluster-replicas 0 --cluster-yes >/dev/null
  for p in $a $b $c; do
    for _ in $(seq 300); do
      [ "$(cluster_state "$p")" = ok ] && break
      sleep 0.1
    done
    [ "$(cluster_state "$p")" = ok ] || die "cluster node $p is not ready"
  done
  echo "$a $b $c"
}
stop_server() { # port
  redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
  { grep -vx "$1" "$run/ports" || true; } > "$run/ports.new"
  mv "$run/ports.new" "$run/ports"
}

now() { date +%s.%N; }
calc() { echo "$*" | bc -l; }
info_field() { # port section field
  redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"
}
field() { info_field "$1" replication "$2"; }        # port field (INFO replication)
offset() { field "$@"; }
server_pid() { info_field "$1" server process_id; }
vm_hwm_mb() { # pid -> peak RSS in MB from /proc (VmHWM)
  awk '/^VmHWM:/{printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"
}

# Smallest checkpoint offset over the partitions of log $2 in target port $1 (0 when one is missing).
min_checkpoint() { # target-port log [partitions]
  local n=${3:-${partitions:-16}} min="" o p
  for p in $(seq 0 $((n - 1))); do
    o=$(redis-cli -p "$1" hget "__slotstream:checkpoint:$2:$p" offset)
    [ -z "$o" ] && { echo 0; return; }
    if [ -z "$min" ] || [ "$o" -lt "$min" ]; then min=$o; fi
  done
  echo "$min"
}

# Starts `slotstream dev-broker --topic NAME:PARTS` in the background: sets broker_pid and
# brokers (its bootstrap address).
start_dev_broker() { # topic partitions outfile
  "$bin" dev-broker --log warn --topic "$1:$2" > "$3" &
  broker_pid=$!; track "$broker_pid"
  for _ in $(seq 200); do [ -s "$3" ] && break; sleep 0.05; done
  brokers=$(head -1 "$3")
  [ -n "$brokers" ] || die "dev-broker printed no address"
}

# tansu (scripts/install-tansu.sh), a second Kafka-protocol broker. tansu_prepare installs it into
# $tansu_dir unless it is there already (then nothing is fetched) and sets tansu_status ("up" or
# "skipped: why") and tansu_version.
tansu_prepare() {
  if bash scripts/install-tansu.sh "$tansu_dir" > "$run/tansu-install.out" 2>&1; then
    tansu_status=up
    tansu_version=$("$tansu_dir/bin/tansu" --version 2>/dev/null | awk '{print $2}')
  else
    tansu_status="skipped: tansu is not in $tansu_dir and scripts/install-tansu.sh failed"
    tansu_version=""
  fi
}

# Starts a fresh tansu (memory storage, empty) with scripts/start-tansu.sh: sets broker_pid and
# brokers, like start_dev_broker. Its pid is tracked; the cleanup also stops a tansu whose start was
# interrupted before that (from the pid files in $run/tansu.N/). Log: $run/tansu.N/tansu.log.
start_tansu() {
  local dir="$run/tansu.$((tansu_runs += 1))"
  [ "$tansu_runs" = 1 ] && bench_hooks+=(stop_stray_tansu)
  brokers=$(bash scripts/start-tansu.sh "$tansu_dir" "$dir" 2> "$dir.err") || {
    cat "$dir.err" >&2; die "tansu did not start"; }
  broker_pid=$(cat "$dir/tansu.pid"); track "$broker_pid"
}
stop_stray_tansu() {
  local f p
  for f in "$run"/tansu.*/tansu.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f")
    # only if that pid still is a tansu (it may have been stopped and the pid reused)
    grep -qa tansu "/proc/$p/cmdline" 2>/dev/null && stop_pid "$p"
  done
  return 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
