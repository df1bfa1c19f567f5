#!/usr/bin/env bash
# The test suite on a fresh Debian 12 machine, in one command: installs what is missing, then
# runs `cargo nextest run --workspace` with the arguments given.
#
# Installed only when missing (scripts/lib.sh):
#   - Debian packages, with apt-get (through sudo when not root): redis-server and redis-tools
#     (the server the tests start from PATH), build-essential, pkg-config, libssl-dev and
#     zlib1g-dev (librdkafka is built from source), procps (kill), bc (the benchmark scripts),
#     chromium and fonts-dejavu-core (the status page's test), python3 and python3-venv;
#   - Rust, with rustup, when there is no cargo;
#   - cargo-nextest (`cargo install --locked cargo-nextest`);
#   - fastavro, in a Python virtual environment in the cache dir
#     (~/.cache/slotstream/venv, or under $XDG_CACHE_HOME), first on PATH for the tests: the
#     schemas' fastavro check runs `python3`;
#   - the seven Redis/Valkey versions, with scripts/install-servers.sh into $SERVERS_DIR
#     (default ~/.cache/slotstream/servers, or under $XDG_CACHE_HOME).
#
# usage: scripts/test.sh [NEXTEST ARGS...]     e.g. scripts/test.sh -p slotstream-verify
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

need_debian_packages "${TEST_PACKAGES[@]}" "${BUILD_PACKAGES[@]}"
need_rust
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
venv=$(python_venv fastavro)
export PATH="$venv/bin:$PATH"
export SERVERS_DIR=${SERVERS_DIR:-$DEFAULT_SERVERS_DIR}
bash scripts/install-servers.sh "$SERVERS_DIR"

cargo nextest run --workspace "$@"
