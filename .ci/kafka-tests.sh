#!/usr/bin/env bash
# Runs the Kafka tests (every test with "kafka" in its name) once more, against tansu: a second,
# independent Kafka-protocol broker next to the dev-broker the suite starts by itself. Tests that
# exercise dev-broker itself skip themselves here. Exits with nextest's status.
#
# usage: .ci/kafka-tests.sh   (SERVERS_DIR defaults to ~/.cache/slotstream/servers, or under
#   $XDG_CACHE_HOME, as for scripts/install-servers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SERVERS_DIR=${SERVERS_DIR:-$DEFAULT_SERVERS_DIR}
bash scripts/install-tansu.sh "$SERVERS_DIR" >/dev/null

RUNDIR=$(mktemp -d)
stop_tansu() {
    if [ -f "$RUNDIR/tansu.pid" ]; then
        kill "$(cat "$RUNDIR/tansu.pid")" 2>/dev/null || true
    fi
    rm -rf "$RUNDIR"
}
trap stop_tansu EXIT

brokers=$(bash scripts/start-tansu.sh "$SERVERS_DIR" "$RUNDIR")
echo "kafka-tests: tansu $("$SERVERS_DIR/bin/tansu" --version | awk '{print $2}') at $brokers"

status=0
SLOTSTREAM_TEST_BROKERS=$brokers cargo nextest run --workspace --no-tests=warn \
    -E 'test(/kafka/)' || status=$?
if [ "$status" -ne 0 ]; then
    echo "kafka-tests: tansu's log (last 50 lines):"
    tail -n 50 "$RUNDIR/tansu.log" || true
fi
exit "$status"
