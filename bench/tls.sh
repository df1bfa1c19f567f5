#!/usr/bin/env bash
# What TLS costs on the 1 M-key snapshot: the same source copied in the same run, each way over a
# plain link and over TLS (TLS 1.3, the server's choice here), by (a) a native replica
# (`--tls-replication yes` for the TLS copy) and (b) `slotstream sync --snapshot-only` (the
# source link and the target links both over TLS for the TLS copy). Prints a Markdown table with
# the medians, TLS ÷ plain for each, and sync ÷ native for each.
#
# usage: bench/tls.sh [KEYS] [VALUE_BYTES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-1000000}
value_bytes=${2:-32}
runs=${3:-3}
. bench/lib.sh   # start, native_copy, stop_server, now, median, data_keys; cleanup on exit
bench_init tls
build_if_stale
command -v openssl >/dev/null || die "openssl is needed to make the certificates"

# A CA and one certificate for 127.0.0.1, used by every server (and trusted by every client).
certs="$run/certs"; mkdir -p "$certs"
(
  cd "$certs"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=bench CA" -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=server" \
    -keyout server.key -out server.csr 2>/dev/null
  echo "subjectAltName=IP:127.0.0.1" > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt 2>/dev/null
)
tls_files=(--tls-cert-file "$certs/server.crt" --tls-key-file "$certs/server.key"
           --tls-ca-cert-file "$certs/ca.crt")
# A server with a TLS port beside its plain one (which the script uses to check); prints both.
start_tls() {
  local tls_port; tls_port=$(free_port)
  local port; port=$(start --tls-port "$tls_port" "${tls_files[@]}" --tls-auth-clients no)
  echo "$port $tls_port"
}

read -r src src_tls <<< "$(start_tls)"
redis-cli -p "$src" debug populate "$keys" key "$value_bytes" >/dev/null
echo "source: $keys keys of $value_bytes bytes, $($server --version | cut -d' ' -f3)," \
  "$(openssl version | cut -d' ' -f1-2)" >&2

# Seconds `sync --snapshot-only` takes, plain or over TLS on both sides.
sync_over() { # plain|tls
  local target target_tls t0 t1 args
  read -r target target_tls <<< "$(start_tls)"
  if [ "$1" = tls ]; then
    args=(--source "rediss://127.0.0.1:$src_tls" --target "rediss://127.0.0.1:$target_tls"
          --source-tls-ca-cert "$certs/ca.crt" --target-tls-ca-cert "$certs/ca.crt")
  else
    args=(--source "redis://127.0.0.1:$src" --target "redis://127.0.0.1:$target")
  fi
  t0=$(now)
  "$bin" sync --snapshot-only --log warn "${args[@]}" > "$run/sync.out"
  t1=$(now)
  [ "$(data_keys "$target")" = "$keys" ] || die "the target has the wrong key count"
  stop_server "$target"
  echo "$t1 - $t0" | bc -l
}

native=(); native_tls=(); synced=(); synced_tls=()
for i in $(seq "$runs"); do
  native+=("$(native_copy "$src" "$keys")")
  native_tls+=("$(native_copy "$src_tls" "$keys" --tls-replication yes "${tls_files[@]}")")
  synced+=("$(sync_over plain)")
  synced_tls+=("$(sync_over tls)")
  printf 'run %d: native %.2f s, native TLS %.2f s, sync %.2f s, sync TLS %.2f s\n' "$i" \
    "${native[-1]}" "${native_tls[-1]}" "${synced[-1]}" "${synced_tls[-1]}" >&2
done

n=$(median "${native[@]}"); nt=$(median "${native_tls[@]}")
s=$(median "${synced[@]}"); st=$(median "${synced_tls[@]}")
echo "| copy of $keys keys × $value_bytes B | plain | TLS | TLS ÷ plain |"
echo "|---|---|---|---|"
printf '| native replica | %.2f s | %.2f s | %.2f× |\n' "$n" "$nt" "$(calc "$nt / $n")"
printf '| slotstream sync | %.2f s | %.2f s | %.2f× |\n' "$s" "$st" "$(calc "$st / $s")"
printf '| sync ÷ native | %.2f× | %.2f× | |\n' "$(calc "$s / $n")" "$(calc "$st / $nt")"
