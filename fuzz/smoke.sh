#!/usr/bin/env bash
# Smoke run of every fuzz target, for CI: builds the fuzz crate, seeds the corpora (seeds.sh),
# runs each target for FUZZ_SECONDS (default 60) and fails if any of them finds a crash, a
# timeout or an out-of-memory input, printing the input's path and the command that replays it.
#
#   bash fuzz/smoke.sh                 # FUZZ_SECONDS=10 bash fuzz/smoke.sh for a quick look
#
# cargo-fuzz passes nightly-only flags (-Z, -C passes=sancov-module); RUSTC_BOOTSTRAP=1 lets a
# stable toolchain take them, so CI needs no nightly. cargo-fuzz is installed when missing.
#
# Built without AddressSanitizer: the targets check with assertions (record_decode measures its
# own allocations) and slotstream's crates forbid unsafe code, while the sanitizer makes each
# input two to five times slower (README.md has the figures). Long runs keep it.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1

start=$SECONDS
if ! command -v cargo-fuzz >/dev/null; then
  cargo install --locked cargo-fuzz
  echo "smoke: cargo-fuzz installed in $((SECONDS - start)) s"
fi

# libFuzzer options of every run: an input may not take more memory or time than this.
options=(-rss_limit_mb=1024 -timeout=10)

built=$SECONDS
cargo fuzz build --sanitizer none
echo "smoke: built in $((SECONDS - built)) s"
bash seeds.sh corpus

failed=()
for target in $(cargo fuzz list); do
  log=$(mktemp)
  mkdir -p "artifacts/$target"
  before=$(ls "artifacts/$target")
  if cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
    -max_total_time="$seconds" "${options[@]}" >"$log" 2>&1; then
    echo "smoke: $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
  else
    failed+=("$target")
    echo "smoke: $target FAILED; the end of its log:"
    tail -n 40 "$log"
    for found in $(comm -13 <(echo "$before") <(ls "artifacts/$target")); do
      echo "smoke: $target found fuzz/artifacts/$target/$found; replay it with"
      echo "  cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none $target" \
        "artifacts/$target/$found -- ${options[*]}"
    done
  fi
  rm -f "$log"
done

echo "smoke: $(cargo fuzz list | wc -l) targets, $((SECONDS - start)) s in all"
if ((${#failed[@]})); then
  echo "smoke: failed: ${failed[*]}"
  exit 1
fi
