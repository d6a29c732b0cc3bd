#!/usr/bin/env bash
# bench/compare.sh -- two heraldd binaries against each other, in one run.
#
#   bench/compare.sh HERALDD_A HERALDD_B [REPS]
#
# For "did this change cost anything": the binaries alternate (A B, B A,
# A B, ...), so a machine that drifts during the run (on a shared VM the
# same load generator was seen to deliver 27 % less from one run of
# run-bench.sh to the next) drifts for both. Each rep starts a fresh
# heraldd (2 threads, memory storage) and measures the server's CPU time
# (/proc, user + system) per delivery at a fixed fan-out rate (1 publisher,
# 1,000 subscribers, 1,000 messages/s, herald-bench), then REST publish
# throughput and CPU per request (wrk, bench/publish.lua). Prints each rep
# and the medians. Needs build/herald-bench (make build), wrk and jq.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || { echo "usage: $0 HERALDD_A HERALDD_B [REPS]" >&2; exit 2; }
BIN=([0]=$1 [1]=$2)
REPS=${3:-4}
HB=$ROOT/build/herald-bench
KEY="bench.root:$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start BIN: a heraldd on a free port; sets PID and PORT.
start() {
  local dir
  dir=$(mktemp -d "$WORK/heraldd.XXXX")
  HERALD_KEY=$KEY "$1" --port 0 --bind 127.0.0.1 --threads 2 --storage memory \
    --data-dir "$dir" --max-inbound-rate 1000000 \
    --max-unauthenticated-per-address 0 --log-level warn >"$dir/log" 2>&1 &
  PID=$! PORT=""
  for _ in $(seq 100); do
    PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$dir/log" | grep -o '[0-9]*$')
    [[ -n $PORT ]] && return
    sleep 0.1
  done
  cat "$dir/log" >&2; exit 1
}

# One rep of binary i: appends "fanout_ns rest_rps rest_us" to RESULTS[i].
declare -a RESULTS=("" "")
measure() {
  local i=$1 c0 c1 deliveries rps
  start "${BIN[$i]}"
  c0=$(cpu_ticks "$PID")
  deliveries=$("$HB" --server herald --protocol ably-json --host 127.0.0.1 \
    --port "$PORT" --key "$KEY" --threads 2 --subscribers 1000 --channels 1 \
    --publishers 1 --rate 1000 --size 100 --duration 5 --warmup 1 2>&1 >/dev/null |
    grep measured | tail -1 | grep -o 'delivered [0-9]*' | grep -o '[0-9]*$')
  c1=$(cpu_ticks "$PID")
  rps=$(wrk -t2 -c50 -d5s -s "$ROOT/bench/publish.lua" \
    "http://127.0.0.1:$PORT/channels/bench-rest/messages" -- \
    json 100 "Basic $(printf %s "$KEY" | base64 -w0)" 2>&1 |
    sed -n 's/^BENCH_JSON //p' | jq '.requests_per_s | floor')
  local c2
  c2=$(cpu_ticks "$PID")
  kill -INT "$PID"; wait "$PID" 2>/dev/null
  local row
  row=$(awk -v d="$deliveries" -v f=$((c1 - c0)) -v r="$rps" -v w=$((c2 - c1)) -v hz="$HZ" \
    'BEGIN { printf "%.1f %d %.2f", f / hz * 1e9 / d, r, w / hz * 1e6 / (r * 5) }')
  RESULTS[i]+="$row"$'\n'
  read -r ns r us <<<"$row"
  printf '%s rep %d: fan-out %s ns of server CPU a delivery; REST %s requests/s, %s µs of server CPU a request\n' \
    "$([[ $i = 0 ]] && echo A || echo B)" "$2" "$ns" "$r" "$us"
}

for rep in $(seq "$REPS"); do
  if (( rep % 2 )); then measure 0 "$rep"; measure 1 "$rep"
  else measure 1 "$rep"; measure 0 "$rep"; fi
done

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "medians of $REPS (A = $1, B = $2):"
for col in 1 2 3; do
  a=$(printf '%s' "${RESULTS[0]}" | awk -v c=$col 'NF { print $c }' | median)
  b=$(printf '%s' "${RESULTS[1]}" | awk -v c=$col 'NF { print $c }' | median)
  name=$(echo "fan-out_ns_per_delivery REST_requests_per_s REST_us_per_request" | cut -d' ' -f$col)
  awk -v n="$name" -v a="$a" -v b="$b" 'BEGIN { printf "  %-26s A %10.2f  B %10.2f  B/A %.3f\n", n, a, b, b / a }'
done
