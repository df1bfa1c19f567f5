#!/usr/bin/env bash
# Writes the seed inputs of every fuzz target to corpus/<target>/ (or to the directory given),
# from the repository's fixtures and from the hand-encoded inputs below. Corpora are
# git-ignored; rerunning adds the seeds again and keeps what the fuzzer found.
#
#   bash fuzz/seeds.sh [DIR]     # DIR defaults to fuzz/corpus
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/corpus}
fixtures=$here/../rdb/tests/fixtures

# Writes the bytes of a hex string (spaces allowed) to a file.
hex() { printf "$(tr -d ' \n' <<<"$2" | sed 's/../\\x&/g')" >"$1"; }

mkdir -p "$out"/{rdb_parser,command_stream,record_decode,reply_parser,eof_framing}

# rdb_parser: the snapshots of every supported server version.
cp "$fixtures"/*.rdb "$out/rdb_parser/"

# command_stream: a control byte (read sizes), then the replication stream.
printf '\x00*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n' >"$out/command_stream/set"
printf '\x35*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n' \
  >"$out/command_stream/multi"

# record_decode: one datum per body kind (the target puts this build's header in front), in
# the canonical encoding. The envelope of each: source "a", epoch 1, position (2, 0), db 0,
# slot 5, capture_ms 100, then the body's union index and fields.
envelope='02 61 02 04 00 00 0a c8 01'
# SnapshotKey "k", type 0, object "\x05hello", RDB 11, expire 1000, no idle, freq 5.
hex "$out/record_decode/snapshot_key" "$envelope 00 02 6b 00 0c 05 68 65 6c 6c 6f 16 02 d0 0f 00 02 0a"
# SnapshotChunk "k", type 18, RDB 10, seq 1, not first, last, object "ab", no expiry.
hex "$out/record_decode/snapshot_chunk" "$envelope 02 02 6b 24 14 02 00 01 04 61 62 00"
# Command SET k v.
hex "$out/record_decode/command" "$envelope 04 06 06 53 45 54 02 6b 02 76 00"
# EpochBegin: replid of 40 '0', offset 0, 4 partitions, RDB 11, "redis 7.0.15", module ReJSON
# with 3 keys, db 0 with 2 field-TTL hashes, example "h".
hex "$out/record_decode/epoch_begin" "$envelope 06 50 $(printf '30%.0s' {1..40}) 00 08 16
  18 72 65 64 69 73 20 37 2e 30 2e 31 35 02 0c 52 65 4a 53 4f 4e 02 06 00 02 00 04 00 02 02 68 00"
# SnapshotEnd of 10 records.
hex "$out/record_decode/snapshot_end" "$envelope 08 14"
# Barrier over partitions 0 and 1 with PING.
hex "$out/record_decode/barrier" "$envelope 0a 04 00 02 00 02 02 08 50 49 4e 47 00 00"
# Heartbeat at offset 7.
hex "$out/record_decode/heartbeat" "$envelope 0c 0e"
# Function "#!lua".
hex "$out/record_decode/function" "$envelope 0e 0a 23 21 6c 75 61"

# reply_parser: a control byte (read sizes), then what the destination answers.
printf '\x00+OK\r\n:12\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n*2\r\n+QUEUED\r\n-WRONGTYPE bad\r\n' \
  >"$out/reply_parser/kinds"
printf '\x13*3\r\n+OK\r\n*2\r\n:1\r\n$5\r\nhello\r\n-ERR x\r\n$0\r\n\r\n' >"$out/reply_parser/nested"
printf '\x21-NOSCRIPT No matching script\r\n*0\r\n+PONG\r\n' >"$out/reply_parser/errors"

# eof_framing: a control byte (read sizes), then what the source sends after +FULLRESYNC:
# keepalive newlines, the header, the payload, then the start of the command stream.
mark=0123456789abcdef0123456789abcdef01234567
ping='*1\r\n$4\r\nPING\r\n'
# The smallest RDB: REDIS0011, SELECTDB 0, string k = v, EOF, no checksum (0).
tiny=$(mktemp)
trap 'rm -f "$tiny"' EXIT
hex "$tiny" '52 45 44 49 53 30 30 31 31 fe 00 00 01 6b 01 76 ff 00 00 00 00 00 00 00 00'
for rdb in "$tiny" "$fixtures/redis-7.0.15.rdb"; do
  name=$(basename "$rdb" .rdb)
  [[ $rdb == "$tiny" ]] && name=tiny
  { printf '\x00\n\n$EOF:%s\r\n' "$mark"; cat "$rdb"; printf "%s$ping" "$mark"; } \
    >"$out/eof_framing/eof-$name"
  { printf '\x27\n$%d\r\n' "$(wc -c <"$rdb")"; cat "$rdb"; printf "$ping"; } \
    >"$out/eof_framing/sized-$name"
done
