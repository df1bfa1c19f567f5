#!/usr/bin/env bash
# Try slotstream on one machine: start a source Redis with sample data and an empty target on
# free ports, copy the source with `slotstream sync --snapshot-only`, then check the copy with
# `slotstream verify`. Cleans up on exit.
#
# Installs what it needs when missing (scripts/lib.sh): the Debian packages redis-server and
# redis-tools, a C toolchain, pkg-config, libssl-dev and zlib1g-dev (to build librdkafka), and
# python3 (to find free ports); and Rust, with rustup, when there is no cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_debian_packages redis-server redis-tools python3 "${BUILD_PACKAGES[@]}"
need_rust

echo "quickstart: building slotstream (release)"
cargo build --release --quiet --bin slotstream
bin=target/release/slotstream

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run=$(mktemp -d)
src_port=$(free_port)
dst_port=$(free_port)
cleanup() {
  redis-cli -p "$src_port" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$dst_port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

start() { # port dir
  mkdir -p "$2"
  redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$2" --logfile "$2/server.log" --repl-diskless-sync-delay 0
  for _ in $(seq 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "quickstart: redis-server on port $1 did not start; see $2/server.log" >&2; exit 1
}
start "$src_port" "$run/source"
start "$dst_port" "$run/target"

echo "quickstart: writing sample data to the source (port $src_port)"
redis-benchmark -p "$src_port" -q -n 50000 -r 20000 -t set,lpush,sadd,hset,zadd >/dev/null
redis-cli -p "$src_port" -n 1 set greeting "hello from db 1" >/dev/null
redis-cli -p "$src_port" set session:42 token EX 3600 >/dev/null
redis-cli -p "$src_port" xadd events '*' kind signup user 42 >/dev/null
echo "quickstart: source has $(redis-cli -p "$src_port" dbsize) keys in db 0"

echo "quickstart: slotstream sync --snapshot-only"
"$bin" sync --source "redis://127.0.0.1:$src_port" --target "redis://127.0.0.1:$dst_port" --snapshot-only

echo "quickstart: slotstream verify"
"$bin" verify --source "redis://127.0.0.1:$src_port" --target "redis://127.0.0.1:$dst_port"
