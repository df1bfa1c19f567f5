#!/usr/bin/env bash
# The fault-injection suite's long, randomized run: the tests of tests/faults (SIGKILL of sync,
# produce and consume over the snapshot, a big value and the live phase; sync's source link cut
# and stalled through a proxy), with more kills per role than the CI run and a new seed per
# round, on real processes and real servers. Prints every test's summary line (kills by phase,
# workload commands, ledger writes and keys, lost, doubled, keys compared) prefixed with its
# round, the first failure of a failed round with the seed that replays it, and a total line;
# exits non-zero if any round failed. Each round's full output stays in a scratch directory,
# named at the end.
#
# usage: scripts/faults.sh [ROUNDS]      (default 3)
#   SLOTSTREAM_FAULT_KILLS  kills per role in each round (default 60; `cargo nextest run` alone
#                           uses 20), and more proxy cuts with them
#   SLOTSTREAM_FAULT_SEED   the first round's seed (default: random); round i uses SEED + i
#   FAULTS_FILTER           a nextest filter, e.g. `kills` or `produce` (default: every test)
# Replay one failed round: SLOTSTREAM_FAULT_SEED=<seed> SLOTSTREAM_FAULT_KILLS=<kills> \
#   cargo nextest run --test faults --no-capture <test>
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
kills=${SLOTSTREAM_FAULT_KILLS:-60}
seed=${SLOTSTREAM_FAULT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
filter=${FAULTS_FILTER:-}
case "$rounds$kills$seed" in
*[!0-9]*)
    echo "faults: ROUNDS, SLOTSTREAM_FAULT_KILLS and SLOTSTREAM_FAULT_SEED must be decimal numbers (got $rounds, $kills, $seed)" >&2
    exit 2
    ;;
esac
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
logs=$(mktemp -d "${TMPDIR:-/tmp}/slotstream-faults.XXXXXX")

cargo nextest run --test faults --no-run
started=$(date +%s)
failed=0
for ((round = 0; round < rounds; round++)); do
    round_seed=$((seed + round))
    log=$logs/round-$round.log
    status=0
    # shellcheck disable=SC2086 # an empty filter is no argument
    SLOTSTREAM_FAULT_SEED=$round_seed SLOTSTREAM_FAULT_KILLS=$kills \
        cargo nextest run --test faults --no-fail-fast --no-capture $filter >"$log" 2>&1 ||
        status=$?
    grep -E '^[a-z]+-[a-z]+: (seed [0-9]+,|stalled link)' "$log" | sed "s/^/round $round: /" || true
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "round $round: FAILED with seed $round_seed (SLOTSTREAM_FAULT_KILLS=$kills):"
        grep -E '^ +FAIL \[' "$log" | sort -u | sed 's/^ */  /' || true
        grep -E '^[a-z]+-[a-z]+: ledger:' "$log" | sed 's/^/  /' || true
        grep -A4 'panicked at' "$log" | head -n 20 | sed 's/^/  /' || true
    fi
done
echo "faults: $rounds rounds of $kills kills per role from seed $seed in $(($(date +%s) - started)) s:" \
    "$((rounds - failed)) passed, $failed failed; output in $logs"
[ "$failed" -eq 0 ]
