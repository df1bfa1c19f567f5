#!/usr/bin/env bash
# Fails when a log of the test suite's slotstream processes shows a password the suite gave
# them. The suite writes those logs into DIR when SLOTSTREAM_TEST_LOG_DIR=DIR (test-support's
# Proc); tests/passwords.txt lists every password a test gives slotstream (a test that adds one
# adds it there), each also looked for percent-encoded as it would sit in a URL.
#
# usage: scripts/no-passwords-in-logs.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: $0 DIR}
logs=$(find "$dir" -name 'slotstream-*.log' | wc -l)
[ "$logs" -gt 0 ] || { echo "no-passwords-in-logs: no logs in $dir (was SLOTSTREAM_TEST_LOG_DIR set?)" >&2; exit 1; }
found=0
while IFS= read -r password; do
  [ -z "$password" ] || [[ "$password" == \#* ]] && continue
  encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$password")
  for needle in "$password" "$encoded"; do
    status=0
    hits=$(grep -rlF --include='slotstream-*.log' -e "$needle" "$dir") || status=$?
    case $status in
      0) echo "no-passwords-in-logs: a password of the suite is in:" >&2
         echo "$hits" | head -5 >&2
         found=1 ;;
      1) ;;  # not there
      *) echo "no-passwords-in-logs: grep failed ($status) in $dir" >&2; exit 1 ;;
    esac
  done
done < tests/passwords.txt
[ "$found" = 0 ] || exit 1
echo "no-passwords-in-logs: $logs logs, no password of tests/passwords.txt in any"
