#!/usr/bin/env bash
# Smoke run of every fuzz target, for CI: builds the fuzz crate, seeds the corpora (seeds.sh),
# runs each target for FUZZ_SECONDS (default 60) and fails if any of them finds a crash, a
# timeout or an out-of-memory input, printing the input's path and the command that replays it.
#
#   bash fuzz/smoke.sh                 # FUZZ_SECONDS=10 bash fuzz/smoke.sh for a quick look
#
# cargo-fuzz passes nightly-only flags (-Z, -C passes=sancov-module); RUSTC_BOOTSTRAP=1 lets a
# stable toolchain take them, so CI needs no nightly. cargo-fuzz is installed when missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

# libFuzzer options of every run, then each target's own.
common=(-rss_limit_mb=1024 -timeout=10)
options() {
  case $1 in
    # A datum of at most a few KiB must not make either decoder ask for more than this.
    record_decode) echo -malloc_limit_mb=32 ;;
  esac
}

start=$SECONDS
cargo fuzz build
echo "smoke: built in $((SECONDS - start)) s"
bash seeds.sh corpus

failed=()
for target in $(cargo fuzz list); do
  log=$(mktemp)
  mkdir -p "artifacts/$target"
  before=$(ls "artifacts/$target")
  # shellcheck disable=SC2046 # options() gives whole words
  if cargo fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" \
    "${common[@]}" $(options "$target") >"$log" 2>&1; then
    echo "smoke: $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
  else
    failed+=("$target")
    echo "smoke: $target FAILED; the end of its log:"
    tail -n 40 "$log"
    for found in $(comm -13 <(echo "$before") <(ls "artifacts/$target")); do
      echo "smoke: $target found fuzz/artifacts/$target/$found; replay it with"
      echo "  cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $target artifacts/$target/$found --" \
        "${common[*]} $(options "$target")"
    done
  fi
  rm -f "$log"
done

echo "smoke: $(cargo fuzz list | wc -l) targets in $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "smoke: failed: ${failed[*]}"
  exit 1
fi
