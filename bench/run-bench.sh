#!/usr/bin/env bash
# bench/run-bench.sh -- `make bench`: Herald side by side with nchan, in one run.
#
# Starts nchan (nginx + libnginx-mod-nchan, bench/nchan.conf) and heraldd on
# free ports the OS picked, runs scenarios (a)-(g) against each server in
# alternation (herald, nchan / nchan, herald / ...), REPS times each, and
# prints one table of medians: scenario | Herald | nchan | ratio. (h) is
# Herald alone: three heraldd nodes sharing channels through one
# redis-server (its rows have no nchan figure); (r) runs (a), (b) and (d)
# against one heraldd on the redis engine and one on sqlite, into a second
# table (redis | sqlite | ratio). Writes bench/results/latest.csv and
# latest-engines.csv, latest.md (the tables for docs/benchmarks.md),
# latest.png (bench/plot.gp), and the raw output of every run under
# bench/results/logs/. docs/benchmarks.md explains the scenarios.
#
# Environment (defaults in brackets; the defaults are what `make bench` runs):
#   BUILD_DIR [build]    where heraldd and herald-bench are
#   REPS [3]             measurements per scenario and server (median reported)
#   SCENARIOS [a b c d e f g h r w]  a subset for quick experiments ((e) needs (a);
#                        (r) starts its (a) search from (a)'s result if (a) ran)
#   HERALD_PROTO [ably-json]  ably-json | ably-msgpack (scenarios (a)-(e))
#   NCHAN_PROTO [nchan-ws]    nchan-ws | nchan-sse (scenarios (a)-(e))
#                        (f) and (g) are (a) and (d) over event streams: Herald's
#                        /sse against nchan's EventSource subscriber
#   BENCH_THREADS [2]    herald-bench threads
#   A_STEP_S [3]         seconds measured per rate step of (a)
#   B_RATE [0]           (b) total publish rate (0: as fast as ACKs allow)
#   C_DURATION_S [6]     wrk duration of (c)
#   D_CONNS [10000]      idle connections of (d)
#   E_DURATION_S [5]     seconds measured in (e)
#   H_NODES [3]          heraldd nodes of (h), each with H_THREADS [1] threads
#   H_CHANNELS [10]      channels of (h), each with H_SUBS_PER_NODE [100]
#                        subscribers on every node and one publisher per node
#   H_P50_MS [20] H_P99_MS [100]  (h)'s latency budget
#   R_REPS [1]           measurements per engine and scenario in (r) (time: (r)
#                        takes ~80 s per repetition after (a), more without it)
#   KEEP_WORK [0]        1: keep the servers' temporary directories
#   RESULTS_DIR [bench/results]  where the results go (for experiments)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
HERALDD=$BUILD_DIR/heraldd
HB=$BUILD_DIR/herald-bench
RESULTS=${RESULTS_DIR:-$ROOT/bench/results}
LOGS=$RESULTS/logs
NCHAN_MODULE=${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}

REPS=${REPS:-3}
SCENARIOS=${SCENARIOS:-a b c d e f g h r w}
HERALD_PROTO=${HERALD_PROTO:-ably-json}
NCHAN_PROTO=${NCHAN_PROTO:-nchan-ws}
BENCH_THREADS=${BENCH_THREADS:-2}
SIZE=100                         # payload bytes everywhere
SERVER_CPU=""                    # set by hb: the server's CPU use during the last run
A_SUBS=1000                      # (a), (e), (f): 1 publisher -> 1,000 subscribers, 1 channel
A_RATES=(100 200 400 800 1600 3200 6400 12800 25600 51200)
A_STEP_S=${A_STEP_S:-3}
B_CHANNELS=1000 B_SUBS_PER_CHANNEL=10 B_PUBLISHERS=10
B_RATE=${B_RATE:-0}
B_DURATION_S=${B_DURATION_S:-3}
C_CONNS=50 C_THREADS=2
C_DURATION_S=${C_DURATION_S:-6}
D_CONNS=${D_CONNS:-10000}
D_CHANNELS=${D_CHANNELS:-100}
D_HOLD_S=${D_HOLD_S:-3}
E_DURATION_S=${E_DURATION_S:-5}
H_NODES=${H_NODES:-3} H_THREADS=${H_THREADS:-1}
H_CHANNELS=${H_CHANNELS:-10} H_SUBS_PER_NODE=${H_SUBS_PER_NODE:-100}
H_RATES=(50 100 200 400 800 1600 3200 6400 12800 25600)
H_P50_MS=${H_P50_MS:-20} H_P99_MS=${H_P99_MS:-100}
R_REPS=${R_REPS:-1}
WARMUP_S=1
KEEP_WORK=${KEEP_WORK:-0}

KEY="bench.root:$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
T0=$(date +%s)

exec 3>&2   # progress goes to the original stderr, even from redirected functions
log() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&3; }
die() { log "error: $*"; exit 1; }

# --- preflight ---------------------------------------------------------------
for tool in nginx wrk gnuplot jq perl curl timeout; do
  command -v "$tool" >/dev/null || die "$tool is missing (make bench installs it)"
done
[[ -x $HERALDD ]] || die "$HERALDD not built (make build)"
[[ -x $HB || $SCENARIOS == c ]] || die "$HB not built (make build)"
[[ -f $NCHAN_MODULE ]] || die "nchan module not found at $NCHAN_MODULE (libnginx-mod-nchan)"
if [[ " $SCENARIOS " == *" "[hr]" "* ]]; then
  for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null || die "$tool is missing (make deps installs redis-server)"
  done
fi

# Every process started from here inherits the raised limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576
(( NOFILE >= D_CONNS + 1000 )) ||
  log "warning: open files limit $NOFILE is below $D_CONNS connections + slack; (d) may fail"

WORK=$(mktemp -d /tmp/herald-bench.XXXXXX)
mkdir -p "$LOGS"
rm -f "$LOGS"/*.json "$LOGS"/*.err "$LOGS"/*.log "$LOGS"/*.txt "$LOGS"/*.cpu

# --- process bookkeeping: everything started is killed on exit -----------------
declare -a STARTED=()           # pids of servers and clients we started
cleanup() {
  local pid
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${STARTED[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [[ $KEEP_WORK = 1 ]] && log "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

forget() {  # forget <pid>: it was stopped and waited for
  local keep=() p
  for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  STARTED=("${keep[@]}")
}

# run_wait CMD...: runs CMD in the background and waits for it, so that a
# signal reaches our trap at once (and the cleanup kills CMD).
run_wait() {
  "$@" &
  local pid=$! rc
  STARTED+=("$pid")
  wait "$pid"; rc=$?
  forget "$pid"
  return "$rc"
}

free_port() {  # asks the OS for a free port on 127.0.0.1
  perl -MIO::Socket::INET -e \
    'print IO::Socket::INET->new(LocalAddr=>"127.0.0.1",LocalPort=>0,Proto=>"tcp",Listen=>1)->sockport'
}

# --- servers -------------------------------------------------------------------
# start_herald NAME ENGINE [THREADS [ARGS...]]: sets SRV_PID[NAME],
# SRV_PORT[NAME], SRV_KIND[NAME]. ENGINE is memory, sqlite or redis (ARGS
# then name the instance: --redis redis://127.0.0.1:PORT); THREADS [2].
declare -A SRV_PID SRV_PORT SRV_KIND SRV_DIR SRV_MEMBERS
start_herald() {
  local name=$1 storage=$2 threads=${3:-2} dir pid port=""
  shift $(( $# < 3 ? $# : 3 ))
  dir=$(mktemp -d "$WORK/$name.XXXX")
  # Every bench client comes from 127.0.0.1, thousands of them connecting
  # at once: no per-address cap on connections yet to authenticate.
  HERALD_KEY=$KEY "$HERALDD" --port 0 --bind 127.0.0.1 --threads "$threads" \
    --engine "$storage" --data-dir "$dir" --max-inbound-rate 1000000 \
    --max-unauthenticated-per-address 0 --log-level warn "$@" >"$dir/heraldd.log" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  for _ in $(seq 100); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$dir/heraldd.log" 2>/dev/null | grep -o '[0-9]*$')
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$dir/heraldd.log" >&2; die "heraldd ($name) did not start"; }
  SRV_PID[$name]=$pid SRV_PORT[$name]=$port SRV_KIND[$name]=herald SRV_DIR[$name]=$dir
  log "started heraldd $name ($storage engine, $threads threads) pid $pid on port $port"
}

# start_redis NAME: a redis-server on a free port, in its own directory,
# as the redis engine would meet it in production: no RDB snapshots, an
# append-only file fsynced every second. Sets SRV_PID[NAME], SRV_PORT[NAME].
start_redis() {
  local name=$1 dir pid port tries
  dir=$(mktemp -d "$WORK/$name.XXXX")
  for tries in 1 2 3; do
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' \
      --appendonly yes --appendfsync everysec --daemonize no \
      --logfile "$dir/redis.log" >"$dir/redis.out" 2>&1 &
    pid=$!
    STARTED+=("$pid")
    for _ in $(seq 50); do
      [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; then
      SRV_PID[$name]=$pid SRV_PORT[$name]=$port SRV_KIND[$name]=redis SRV_DIR[$name]=$dir
      log "started redis-server $name ($(redis-server --version | grep -o 'v=[0-9.]*'), appendfsync everysec) pid $pid on port $port"
      return 0
    fi
    wait "$pid" 2>/dev/null; forget "$pid"   # the port was taken meanwhile: try another
  done
  cat "$dir/redis.log" "$dir/redis.out" >&2
  die "redis-server did not start"
}

# start_cluster NAME NODES THREADS: a redis-server NAME-redis and NODES
# heraldd (NAME-1 ..) with --engine redis on it; NAME is the group, whose
# SRV_PORT is the nodes' ports comma-separated (herald-bench --port) and
# whose serving processes are the nodes.
start_cluster() {
  local name=$1 nodes=$2 threads=$3 i ports=""
  start_redis "$name-redis"
  for i in $(seq "$nodes"); do
    start_herald "$name-$i" redis "$threads" --redis "redis://127.0.0.1:${SRV_PORT[$name-redis]}"
    ports+="${ports:+,}${SRV_PORT[$name-$i]}"
  done
  SRV_MEMBERS[$name]="$(seq -f "$name-%g" -s ' ' "$nodes") $name-redis"
  SRV_PORT[$name]=$ports SRV_KIND[$name]=herald SRV_PID[$name]=group
}

start_nchan() {
  local name=$1 dir pid port user="" tries
  dir=$(mktemp -d "$WORK/$name.XXXX")
  [[ $(id -u) = 0 ]] && user="user root;"  # workers keep access to the private prefix
  for tries in 1 2 3; do
    port=$(free_port)
    # nginx touches every connection slot at start: no more than 65536 of them.
    sed -e "s|@PREFIX@|$dir|g; s|@PORT@|$port|g; s|@USER@|$user|; s|@NOFILE@|$(( NOFILE < 65536 ? NOFILE : 65536 ))|g;" \
        -e "s|@NCHAN_MODULE@|$NCHAN_MODULE|" "$ROOT/bench/nchan.conf" >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/nginx.out" 2>&1 &
    pid=$!
    STARTED+=("$pid")
    for _ in $(seq 50); do
      curl -s -o /dev/null "http://127.0.0.1:$port/nope" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && curl -s -o /dev/null "http://127.0.0.1:$port/nope"; then
      SRV_PID[$name]=$pid SRV_PORT[$name]=$port SRV_KIND[$name]=nchan SRV_DIR[$name]=$dir
      log "started nginx+nchan $name master pid $pid (workers $(server_pids "$name" | tr '\n' ' ')) on port $port"
      return 0
    fi
    wait "$pid" 2>/dev/null; forget "$pid"   # the port was taken meanwhile: try another
  done
  cat "$dir/error.log" "$dir/nginx.out" >&2
  die "nginx+nchan did not start"
}

stop_server() {
  local name=$1 pid=${SRV_PID[$1]} m
  if [[ -n ${SRV_MEMBERS[$name]:-} ]]; then   # a group: its members
    for m in ${SRV_MEMBERS[$name]}; do stop_server "$m"; done
    unset "SRV_MEMBERS[$name]" "SRV_PID[$name]"
    return
  fi
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  forget "$pid"
  unset "SRV_PID[$name]"
}

alive() {  # dies (with the end of the server's log) when server NAME is gone
  local m
  if [[ -n ${SRV_MEMBERS[$1]:-} ]]; then
    for m in ${SRV_MEMBERS[$1]}; do alive "$m"; done
    return 0
  fi
  kill -0 "${SRV_PID[$1]}" 2>/dev/null && return 0
  log "server $1 (pid ${SRV_PID[$1]}) is gone; the end of its log:"
  tail -n 20 "${SRV_DIR[$1]}"/*.log >&3
  die "server $1 died"
}

# The processes that serve connections: heraldd itself, nginx's workers; of
# a cluster, its heraldd nodes (not its redis-server: see h_step).
server_pids() {
  local pid=${SRV_PID[$1]} m
  if [[ -n ${SRV_MEMBERS[$1]:-} ]]; then
    for m in ${SRV_MEMBERS[$1]}; do [[ ${SRV_KIND[$m]} == herald ]] && server_pids "$m"; done
  elif [[ ${SRV_KIND[$1]} == nchan ]]; then ps -o pid= --ppid "$pid" | tr -d ' '; else echo "$pid"; fi
}
rss_kb() {  # rss_kb NAME [FIELD]: sum of FIELD (VmRSS) in kB over the serving processes
  local total=0 p v field=${2:-VmRSS}
  for p in $(server_pids "$1"); do
    v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {  # user + system CPU ticks of the serving processes (heraldd; nginx's workers)
  local total=0 p v
  for p in $(server_pids "$1"); do
    v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null)
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}
fd_count() {
  local total=0 p n
  for p in $(server_pids "$1"); do
    n=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
    total=$(( total + n ))
  done
  echo "$total"
}

# --- clients --------------------------------------------------------------------
hb_cmd() {  # hb_cmd NAME OUT LIMIT_S: sets HB_CMD, the herald-bench command line
  local name=$1 out=$2 limit=$3 proto keyarg=()
  if [[ ${SRV_KIND[$name]} == herald ]]; then
    proto=$HERALD_PROTO; keyarg=(--key "$KEY")
  else
    proto=$NCHAN_PROTO
  fi
  HB_CMD=(timeout -k 5 "$limit" "$HB" --server "${SRV_KIND[$name]}" --protocol "$proto"
          --host 127.0.0.1 --port "${SRV_PORT[$name]}" "${keyarg[@]}" --threads "$BENCH_THREADS")
}
hb_check() {  # hb_check OUT STATUS: returns non-zero unless the run produced JSON
  local out=$1 rc=$2
  if (( rc == 0 )) && ! jq -e . "$out.json" >/dev/null 2>&1; then
    log "herald-bench output is not JSON ($out.json)"; rc=2
  fi
  (( rc == 0 )) || log "herald-bench exited $rc (see $out.err)"
  return "$rc"
}
# hb NAME OUT LIMIT_S args...: runs herald-bench against server NAME; the JSON
# goes to OUT.json, progress to OUT.err. Returns herald-bench's status.
hb() {
  local name=$1 out=$2 limit=$3
  shift 3
  hb_cmd "$name" "$out" "$limit"
  alive "$name"
  echo "${HB_CMD[*]:3} $*" >"$out.err"
  local t0 c0 rc
  t0=$(date +%s%N) c0=$(cpu_ticks "$name")
  run_wait "${HB_CMD[@]}" "$@" >"$out.json" 2>>"$out.err"
  rc=$?
  alive "$name"
  SERVER_CPU=$(awk -v c="$(( $(cpu_ticks "$name") - c0 ))" -v hz="$CLK_TCK" \
    -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN { printf ", server %.2f cores over %.1f s", c / hz / (t / 1e9), t / 1e9 }')
  hb_check "$out" "$rc"
}
j() { jq -r "$1 // empty" "$2" 2>/dev/null; }   # j FILTER FILE

# --- results -------------------------------------------------------------------
# VAL[scenario|metric|server] holds the per-run values ("v1 v2 v3").
declare -A VAL
declare -a ROWS=()              # "scenario|metric|unit|better|label|ratio?", table order
declare -a EROWS=()             # the same for the engine comparison (r)
declare -a WROWS=()             # and for the webhook rules' cost (w)
TABLE=ROWS                      # the table row() adds to
# row SCENARIO METRIC UNIT higher|lower LABEL [noratio]: noratio for figures
# taken at different loads (each server's own saturation), shown but not compared.
row() { local -n rows=$TABLE; rows+=("$1|$2|$3|$4|$5|${6:-}"); }
add() { VAL["$1|$2|$3"]+="${VAL["$1|$2|$3"]:+ }$4"; }   # add scenario metric server value
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {
  if (NR == 0) print ""; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
us2ms() { awk -v v="$1" 'BEGIN { if (v == "") print ""; else printf "%.3f", v / 1000 }'; }

order() {  # order REP A [B]: alternate which server goes first
  if (( $1 % 2 )) || (( $# < 3 )); then echo "$2 ${3:-}"; else echo "$3 $2"; fi
}

# --- scenarios (a) and (f): fan-out saturation ------------------------------------
# SC is the scenario being searched (a, or f over event streams), set by
# fanout_search for the functions it calls.
# One step: 1 publisher at RATE msgs/s to A_SUBS subscribers on one channel.
# It passes when >= 95 % of the expected deliveries arrived, p99 <= 1 s and the
# delivered rate is >= 90 % of the offered one (a publisher that cannot keep
# up is saturation too). A narrow failure (>= 75 % delivered, p99 < 3 s) is
# run once more before it counts: a hiccup of a second or two must not end the
# search (nchan has them); a clear failure is not repeated (it takes long to
# drain).
a_step() {  # a_step NAME REP RATE: sets verdict (pass|fail|narrow) and dps
  local name=$1 rep=$2 rate=$3 out="$LOGS/$SC-$1-r$2-$3"
  verdict=fail dps=0
  [[ -e $out.json ]] && { mv "$out.json" "$out-try1.json"; mv "$out.err" "$out-try1.err"; }
  hb "$name" "$out" $(( A_STEP_S + WARMUP_S + 60 )) --subscribers $A_SUBS --channels 1 \
     --publishers 1 --rate "$rate" --size $SIZE --duration $A_STEP_S \
     --warmup $WARMUP_S || return 0
  read -r verdict dps < <(jq -r --argjson rate "$rate" --argjson subs $A_SUBS '
    (.delivered_per_s / ($rate * $subs)) as $share
    | (if .expected > 0 and .delivered >= 0.95 * .expected and .latency_us.p99 <= 1000000
          and $share >= 0.9 then "pass"
       elif $share >= 0.75 and .latency_us.p99 < 3000000 then "narrow"
       else "fail" end)
      + " " + (.delivered_per_s | tostring)' "$out.json")
  log "($SC) $name rep $rep: $rate msgs/s -> $(jq -r '"\(.delivered_per_s|floor) deliveries/s, lost \(.lost)/\(.expected), p99 \(.latency_us.p99) µs, bench \(.cpu.cores) cores"' "$out.json")$SERVER_CPU $verdict"
}

# a_try NAME REP RATE: one confirmed step ($STEP: a_step, or h_step for
# (h)); updates lo/hi and the best pass.
STEP=a_step
a_try() {
  "$STEP" "$@"
  [[ $verdict == narrow ]] && "$STEP" "$@"
  if [[ $verdict == pass ]]; then
    lo=$3
    if awk -v a="$dps" -v b="$best" 'BEGIN { exit !(a > b) }'; then
      best=$dps best_rate=$3 best_file="$LOGS/$SC-$1-r$2-$3.json"
    fi
    return 0
  fi
  hi=$3
  return 1
}

# The search: the first repetition doubles the rate from A_RATES[0] until a
# step fails, later ones start at the first one's saturation rate and go up
# (doubling) or down (halving) from there; then bisection until the failing
# rate is within 15 % of the passing one.
# Rates come from A_RATES, the servers from NAMES (herald nchan); SEARCH_BEST,
# if set, is called as SEARCH_BEST NAME BEST_FILE after each search.
declare -A A_FIRST_LO A_FIRST_HI A_SAT_RATE   # by "scenario|server"
NAMES="herald nchan" SEARCH_BEST=""
# fanout_search SC LABEL [AT]: rows SC|saturation, p50_ms, p99_ms; AT names
# the step of the latency rows [at own saturation].
fanout_search() {
  local SC=$1 rep name rate i lo hi mid best best_rate best_file max=${A_RATES[-1]}
  local at=${3:-at own saturation}
  row "$SC" saturation deliveries/s higher "$2"
  row "$SC" p50_ms ms lower "($SC) p50 latency $at" noratio
  row "$SC" p99_ms ms lower "($SC) p99 latency $at" noratio
  for rep in $(seq "$REPS"); do
    for name in $(order "$rep" $NAMES); do
      best=0 best_rate=0 best_file="" lo=0 hi=0
      if (( ${A_FIRST_LO[$SC|$name]:-0} > 0 )); then
        if a_try "$name" "$rep" "${A_FIRST_LO[$SC|$name]}"; then
          rate=${A_FIRST_HI[$SC|$name]:-0}
          (( rate > lo )) || rate=$(( lo * 2 ))
          while (( rate <= max )) && a_try "$name" "$rep" "$rate"; do rate=$(( rate * 2 )); done
        else
          rate=$(( hi / 2 ))
          while (( rate >= A_RATES[0] / 2 )) && ! a_try "$name" "$rep" "$rate"; do rate=$(( rate / 2 )); done
        fi
      else
        for rate in "${A_RATES[@]}"; do a_try "$name" "$rep" "$rate" || break; done
      fi
      for (( i = 0; i < 4 && lo > 0 && hi > 0 && hi * 100 > lo * 115; i++ )); do
        mid=$(( (lo + hi) / 2 ))
        a_try "$name" "$rep" "$mid"
      done
      (( hi == 0 )) && log "($SC) $name rep $rep: no saturation up to $max msgs/s"
      log "($SC) $name rep $rep: saturation ${best%.*} deliveries/s at $best_rate msgs/s (fails at $hi msgs/s)"
      if [[ -z ${A_FIRST_LO[$SC|$name]:-} ]]; then A_FIRST_LO[$SC|$name]=$lo A_FIRST_HI[$SC|$name]=$hi; fi
      add "$SC" saturation "$name" "$best"
      add "$SC" sat_rate "$name" "$best_rate"
      if [[ -n $best_file ]]; then
        add "$SC" p50_ms "$name" "$(us2ms "$(j .latency_us.p50 "$best_file")")"
        add "$SC" p99_ms "$name" "$(us2ms "$(j .latency_us.p99 "$best_file")")"
        add "$SC" bench_cores "$name" "$(j .cpu.cores "$best_file")"
        [[ -n $SEARCH_BEST ]] && "$SEARCH_BEST" "$name" "$best_file"
      fi
    done
  done
}

scenario_a() {
  local name
  fanout_search a "(a) fan-out 1 pub x 1000 subs: saturation"
  for name in herald nchan; do
    A_SAT_RATE[$name]=$(median ${VAL["a|sat_rate|$name"]})
  done
}

# (f): the same over event streams: 1,000 Herald /sse streams (bare payloads)
# or nchan EventSource subscribers; the publisher is the same as in (a).
scenario_f() {
  local HERALD_PROTO=sse NCHAN_PROTO=nchan-sse
  fanout_search f "(f) SSE fan-out 1 pub x 1000 streams: saturation"
}

# --- scenario (b): 1000 channels x 10 subscribers, 10 publishers ------------------
scenario_b() {  # the servers are $NAMES
  local rep name out
  row b deliveries_per_s deliveries/s higher "(b) 1000 channels x 10 subs / 10 pubs"
  row b lost_pct % lower "(b) deliveries lost"
  row b p50_ms ms lower "(b) p50 latency"
  row b p99_ms ms lower "(b) p99 latency"
  for rep in $(seq "$REPS"); do
    for name in $(order "$rep" $NAMES); do
      out="$LOGS/b-$name-r$rep"
      if hb "$name" "$out" $(( B_DURATION_S + WARMUP_S + 120 )) \
           --subscribers $(( B_CHANNELS * B_SUBS_PER_CHANNEL )) --channels $B_CHANNELS \
           --publishers $B_PUBLISHERS --rate "$B_RATE" --size $SIZE \
           --duration $B_DURATION_S --warmup $WARMUP_S; then
        add b deliveries_per_s "$name" "$(j .delivered_per_s "$out.json")"
        add b lost_pct "$name" "$(jq -r 'if .expected > 0 then 100 * .lost / .expected else 0 end' "$out.json")"
        add b p50_ms "$name" "$(us2ms "$(j .latency_us.p50 "$out.json")")"
        add b p99_ms "$name" "$(us2ms "$(j .latency_us.p99 "$out.json")")"
        add b bench_cores "$name" "$(j .cpu.cores "$out.json")"
        log "(b) $name rep $rep: $(jq -r '"\(.delivered_per_s|floor) deliveries/s, lost \(.lost)/\(.expected), p99 \(.latency_us.p99) µs, errors \(.errors), disconnects \(.disconnects), bench \(.cpu.cores) cores"' "$out.json")$SERVER_CPU"
      else
        add b deliveries_per_s "$name" 0
      fi
    done
  done
}

# --- scenario (c): REST publish throughput with wrk -------------------------------
c_run() {  # c_run NAME REP
  local name=$1 rep=$2 out="$LOGS/c-$1-r$2" url args
  if [[ ${SRV_KIND[$name]} == herald ]]; then
    url="http://127.0.0.1:${SRV_PORT[$name]}/channels/bench-rest/messages"
    args=(json $SIZE "Basic $(printf %s "$KEY" | base64 -w0)")
  else
    url="http://127.0.0.1:${SRV_PORT[$name]}/pub/bench-rest"
    args=(raw $SIZE)
  fi
  alive "$name"
  local c0
  c0=$(cpu_ticks "$name")
  run_wait timeout -k 5 $(( C_DURATION_S + 30 )) wrk -t$C_THREADS -c$C_CONNS -d${C_DURATION_S}s \
    -s "$ROOT/bench/publish.lua" "$url" -- "${args[@]}" >"$out.txt" 2>&1
  alive "$name"
  SERVER_CPU=$(awk -v c="$(( $(cpu_ticks "$name") - c0 ))" -v hz="$CLK_TCK" -v t="$C_DURATION_S" \
    'BEGIN { printf ", server %.2f cores", c / hz / t }')
  grep '^BENCH_JSON ' "$out.txt" | sed 's/^BENCH_JSON //' >"$out.json"
  if ! jq -e . "$out.json" >/dev/null 2>&1; then
    log "(c) $name rep $rep: wrk failed (see $out.txt)"; add c-$3 requests_per_s "$name" 0; return
  fi
  local errs
  errs=$(jq '.errors | add' "$out.json")
  (( errs == 0 )) || log "(c) $name rep $rep: $errs errors: $(jq -c .errors "$out.json")"
  add "c-$3" requests_per_s "$name" "$(j .requests_per_s "$out.json")"
  add "c-$3" p50_ms "$name" "$(us2ms "$(j .latency_us.p50 "$out.json")")"
  add "c-$3" p99_ms "$name" "$(us2ms "$(j .latency_us.p99 "$out.json")")"
  log "(c) $name rep $rep: $(jq -r '"\(.requests_per_s|floor) requests/s, p99 \(.latency_us.p99) µs"' "$out.json")$SERVER_CPU"
}

# Every measurement on fresh servers, as in (d): Herald keeps every message
# for 2 minutes, so a server reused across repetitions met each one with
# another million messages in memory (new pages, which on a VM also cost the
# host's first touch) and later repetitions measured a different server;
# nchan keeps 100 messages per channel.
c_fresh_run() {  # c_fresh_run NAME REP: starts NAME's server, measures, stops it
  local name=$1 rep=$2
  case $name in
    herald) start_herald herald memory; c_run herald "$rep" memory ;;
    herald-sqlite) start_herald herald-sqlite sqlite; c_run herald-sqlite "$rep" sqlite ;;
    nchan) start_nchan nchan; c_run nchan "$rep" memory ;;
  esac
  log "(c) $name rep $rep: RSS at the end $(rss_kb "$name") kB"
  stop_server "$name"
}

scenario_c() {
  local rep name
  row c-memory requests_per_s requests/s higher "(c) REST publish (Herald memory storage)"
  row c-memory p99_ms ms lower "(c) REST publish p99 (Herald memory storage)"
  row c-sqlite requests_per_s requests/s higher "(c) REST publish (Herald sqlite storage)"
  row c-sqlite p99_ms ms lower "(c) REST publish p99 (Herald sqlite storage)"
  for rep in $(seq "$REPS"); do
    for name in $(order "$rep" herald nchan) herald-sqlite; do c_fresh_run "$name" "$rep"; done
  done
  # Herald with sqlite against the same nchan figures (nchan has no durable store).
  VAL["c-sqlite|requests_per_s|herald"]=${VAL["c-sqlite|requests_per_s|herald-sqlite"]:-}
  VAL["c-sqlite|p99_ms|herald"]=${VAL["c-sqlite|p99_ms|herald-sqlite"]:-}
  VAL["c-sqlite|requests_per_s|nchan"]=${VAL["c-memory|requests_per_s|nchan"]:-}
  VAL["c-sqlite|p99_ms|nchan"]=${VAL["c-memory|p99_ms|nchan"]:-}
}

# --- scenario (w): what webhook rules cost a REST publish --------------------------
# (c)'s load on a heraldd with W_RULES batch rules taking every publish
# (signed, delivered to nginx answering 204, --webhook-batch-interval-ms
# 10 so the receiver keeps up) and on one with none; memory and sqlite.
W_RULES=${W_RULES:-3}
W_ADMIN="bench-admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
w_rules() {  # w_rules NAME N: makes N rules on NAME
  local name=$1 i app=${KEY%%.*} key_name=${KEY%%:*}
  for i in $(seq "$2"); do
    curl -sf -o /dev/null -H "Authorization: Bearer $W_ADMIN" -H 'content-type: application/json' \
      -d "{\"id\":\"bench-$i\",\"requestMode\":\"batch\",\"source\":{\"type\":\"channel.message\",\"channelFilter\":\"^bench-rest\"},\"target\":{\"url\":\"http://127.0.0.1:${SRV_PORT[receiver]}/hook\",\"signingKey\":\"$key_name\"}}" \
      "http://127.0.0.1:${SRV_PORT[$name]}/apps/$app/rules" || die "(w) cannot make rule $i on $name"
  done
}
w_metric() {  # w_metric NAME METRIC: a counter of NAME's /metrics
  curl -sf -H "Authorization: Bearer $W_ADMIN" "http://127.0.0.1:${SRV_PORT[$1]}/metrics" |
    awk -v m="$2" '$1 == m { print $2 }'
}
w_fresh_run() {  # w_fresh_run NAME REP ENGINE: hooked-* with rules, plain-* without
  local name=$1 rep=$2 engine=$3 server=${1%%-*}
  start_herald "$name" "$engine" 2 --admin-key "$W_ADMIN" --webhook-batch-interval-ms 10
  [[ $server == hooked ]] && w_rules "$name" "$W_RULES"
  c_run "$name" "$rep" "w-$engine"
  [[ $server == hooked ]] && log "(w) $name rep $rep: webhook events delivered $(w_metric "$name" herald_webhook_deliveries_total), dropped $(w_metric "$name" herald_webhook_dropped_total), queued $(w_metric "$name" herald_webhook_queued)"
  stop_server "$name"
  local m
  for m in requests_per_s p99_ms; do   # one column per configuration
    VAL["c-w-$engine|$m|$server"]=${VAL["c-w-$engine|$m|$name"]:-}
  done
}

scenario_w() {
  local TABLE=WROWS rep engine name
  for engine in memory sqlite; do
    row c-w-$engine requests_per_s requests/s higher "(w) REST publish, $W_RULES webhook rules ($engine storage)"
    row c-w-$engine p99_ms ms lower "(w) REST publish p99, $W_RULES webhook rules ($engine storage)"
  done
  start_nchan receiver
  for rep in $(seq "$REPS"); do
    for engine in memory sqlite; do
      for name in $(order "$rep" hooked-$engine plain-$engine); do w_fresh_run "$name" "$rep" "$engine"; done
    done
  done
  stop_server receiver
}

# --- scenario (d): idle connections, server RSS per connection ---------------------
# Fresh servers for every measurement, so memory freed by earlier scenarios
# cannot hide the cost. RSS is VmRSS of heraldd, or the sum over nginx's workers.
# KIND is herald (memory engine), nchan, or for (r) sqlite or redis (Herald on
# that engine; redis: with a redis-server of its own, whose memory is not
# counted). The figures are added under KIND.
d_run() {  # d_run SC KIND REP: SC is d, or g over event streams
  local sc=$1 kind=$2 rep=$3 name="$1-$2" out="$LOGS/$1-$2-r$3" base_rss base_fds fds rss hbpid reached=0 n rc
  case $kind in
    herald) start_herald "$name" memory ;;
    nchan) start_nchan "$name" ;;
    sqlite) start_herald "$name" sqlite ;;
    redis) start_redis "$name-redis"
           start_herald "$name" redis 2 --redis "redis://127.0.0.1:${SRV_PORT[$name-redis]}" ;;
  esac
  sleep 0.5
  base_rss=$(rss_kb "$name") base_fds=$(fd_count "$name")
  local base_anon base_shm anon shm
  base_anon=$(rss_kb "$name" RssAnon) base_shm=$(rss_kb "$name" RssShmem)
  hb_cmd "$name" "$out" $(( D_HOLD_S + 120 ))
  local args=(--idle --subscribers "$D_CONNS" --channels "$D_CHANNELS" --duration "$D_HOLD_S")
  echo "${HB_CMD[*]:3} ${args[*]}" >"$out.err"
  "${HB_CMD[@]}" "${args[@]}" >"$out.json" 2>>"$out.err" &
  hbpid=$!
  STARTED+=("$hbpid")
  for _ in $(seq 600); do   # up to 60 s to connect
    fds=$(fd_count "$name")
    (( fds - base_fds >= D_CONNS * 99 / 100 )) && { reached=1; break; }
    kill -0 "$hbpid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 1                   # let the handshakes and ATTACHes settle
  rss=$(rss_kb "$name") fds=$(fd_count "$name")
  anon=$(rss_kb "$name" RssAnon) shm=$(rss_kb "$name" RssShmem)
  wait "$hbpid"; rc=$?; forget "$hbpid"
  hb_check "$out" "$rc"
  n=$(j '.subscribers_connected // (.subscribers - .connect_errors)' "$out.json")
  [[ -n $n && $n -gt 0 ]] || n=$(( fds - base_fds ))
  (( reached )) || log "($sc) $kind rep $rep: only $(( fds - base_fds )) connections reached the server"
  if (( n > 0 )); then
    add "$sc" rss_per_conn "$kind" $(( (rss - base_rss) * 1024 / n ))
    add "$sc" connect_per_s "$kind" "$(j .connect_per_s "$out.json")"
  fi
  log "($sc) $kind rep $rep: RSS $base_rss -> $rss kB for $n connections ($(( (rss - base_rss) * 1024 / (n > 0 ? n : 1) )) B each; anon +$(( anon - base_anon )) kB, shmem +$(( shm - base_shm )) kB), connect $(j .connect_per_s "$out.json")/s, errors $(j .connect_errors "$out.json")"
  stop_server "$name"
  [[ $kind == redis ]] && stop_server "$name-redis"
}

scenario_d() {  # the servers are $NAMES
  local rep kind
  row d rss_per_conn bytes lower "(d) server RSS per idle WebSocket ($D_CONNS)"
  row d connect_per_s conn/s higher "(d) connection set-up rate"
  for rep in $(seq "$REPS"); do
    for kind in $(order "$rep" $NAMES); do d_run d "$kind" "$rep"; done
  done
}

# (g): the same with idle event streams (Herald /sse, nchan EventSource).
scenario_g() {
  local rep kind HERALD_PROTO=sse NCHAN_PROTO=nchan-sse
  row g rss_per_conn bytes lower "(g) server RSS per idle SSE stream ($D_CONNS)"
  row g connect_per_s conn/s higher "(g) SSE stream set-up rate"
  for rep in $(seq "$REPS"); do
    for kind in $(order "$rep" herald nchan); do d_run g "$kind" "$rep"; done
  done
}

# --- scenario (e): latency at 50 % of (a)'s saturation ------------------------------
# One fixed rate for both servers: half the lower of the two saturation rates,
# so both run at a moderate load and see the same offered traffic.
scenario_e() {
  local rep name out h=${A_SAT_RATE[herald]:-0} n=${A_SAT_RATE[nchan]:-0} low
  h=${h%.*} n=${n%.*}
  if (( h > 0 && n > 0 )); then low=$(( h < n ? h : n )); else low=$(( h > n ? h : n )); fi
  (( low > 0 )) || low=200
  E_RATE=$(( low / 2 ))
  (( E_RATE > 0 )) || E_RATE=1
  log "(e) rate: 50 % of min(herald $h, nchan $n) msgs/s = $E_RATE msgs/s"
  row e p50_ms ms lower "(e) p50 latency at $E_RATE msgs/s x 1000 subs"
  row e p90_ms ms lower "(e) p90 latency"
  row e p99_ms ms lower "(e) p99 latency"
  row e p999_ms ms lower "(e) p99.9 latency"
  for rep in $(seq "$REPS"); do
    for name in $(order "$rep" herald nchan); do
      out="$LOGS/e-$name-r$rep"
      if hb "$name" "$out" $(( E_DURATION_S + WARMUP_S + 60 )) --subscribers $A_SUBS \
           --channels 1 --publishers 1 --rate "$E_RATE" --size $SIZE \
           --duration $E_DURATION_S --warmup $WARMUP_S; then
        for p in p50 p90 p99 p999; do
          add e ${p}_ms "$name" "$(us2ms "$(j .latency_us.$p "$out.json")")"
        done
        add e bench_cores "$name" "$(j .cpu.cores "$out.json")"
        log "(e) $name rep $rep: $(jq -r '"p50 \(.latency_us.p50) µs, p99 \(.latency_us.p99) µs, lost \(.lost)/\(.expected), \(.delivered_per_s|floor) deliveries/s, bench \(.cpu.cores) cores"' "$out.json")$SERVER_CPU"
      fi
    done
  done
}

# --- scenario (h): three nodes sharing every channel through Redis ----------------
# One redis-server (appendfsync everysec) and H_NODES heraldd --engine redis
# on it; H_CHANNELS channels, each with H_SUBS_PER_NODE subscribers on every
# node and one publisher per node; the total publish rate is stepped up as in
# (a) until a step leaves the budget: p50 > H_P50_MS or p99 > H_P99_MS (or
# fewer than 95 % delivered, or under 90 % of the offered deliveries/s). The
# figure is the best step within it. A failing step is run once more when
# it was near the budget (within 1.5 times) or left the machine partly idle.
h_subs() { echo $(( H_CHANNELS * H_SUBS_PER_NODE * H_NODES )); }

# hb_sampled NAME OUT LIMIT ARGS...: hb against group NAME, and the CPU of its
# heraldd nodes and of its redis-server (NAME-redis) over the measured window
# (from /proc/<pid>/stat): writes "NODE_CORES REDIS_CORES" to OUT.cpu.
hb_sampled() {
  local name=$1 out=$2 limit=$3 pid rc n0 r0 t0 n1 r1 t1 cores
  shift 3
  hb_cmd "$name" "$out" "$limit"
  alive "$name"
  echo "${HB_CMD[*]:3} $*" >"$out.err"
  "${HB_CMD[@]}" "$@" >"$out.json" 2>>"$out.err" &
  pid=$!
  STARTED+=("$pid")
  rm -f "$out.cpu"
  while kill -0 "$pid" 2>/dev/null && ! grep -q '^herald-bench: publishing' "$out.err"; do sleep 0.02; done
  sleep "$(awk -v w="$WARMUP_S" 'BEGIN { print w + 0.1 }')"   # the start delay, the warm-up
  if kill -0 "$pid" 2>/dev/null; then
    t0=$(date +%s%N) n0=$(cpu_ticks "$name") r0=$(cpu_ticks "$name-redis")
    sleep "$A_STEP_S"
    t1=$(date +%s%N) n1=$(cpu_ticks "$name") r1=$(cpu_ticks "$name-redis")
    awk -v n=$(( n1 - n0 )) -v r=$(( r1 - r0 )) -v hz="$CLK_TCK" -v t=$(( t1 - t0 )) \
      'BEGIN { printf "%.3f %.3f\n", n / hz / (t / 1e9), r / hz / (t / 1e9) }' >"$out.cpu"
  fi
  wait "$pid"; rc=$?; forget "$pid"
  alive "$name"
  if [[ -s $out.cpu ]]; then
    read -r cores _ <"$out.cpu"
    SERVER_CPU=", nodes $cores cores, redis-server $(cut -d' ' -f2 "$out.cpu") cores"
  else
    SERVER_CPU=""
  fi
  hb_check "$out" "$rc"
}

h_step() {  # h_step NAME REP RATE: sets verdict (pass|fail|narrow) and dps, as a_step
  local name=$1 rep=$2 rate=$3 out="$LOGS/h-$1-r$2-$3" per_channel=$(( H_SUBS_PER_NODE * H_NODES ))
  verdict=fail dps=0
  [[ -e $out.json ]] && { mv "$out.json" "$out-try1.json"; mv "$out.err" "$out-try1.err"; mv "$out.cpu" "$out-try1.cpu" 2>/dev/null; }
  hb_sampled "$name" "$out" $(( A_STEP_S + WARMUP_S + 60 )) --subscribers "$(h_subs)" \
     --channels "$H_CHANNELS" --publishers $(( H_CHANNELS * H_NODES )) --rate "$rate" \
     --size $SIZE --duration "$A_STEP_S" --warmup $WARMUP_S || return 0
  # Within budget; narrow: within 1.5 times the budget (run once more).
  read -r verdict dps < <(jq -r --argjson rate "$rate" --argjson subs "$per_channel" \
      --argjson p50 $(( H_P50_MS * 1000 )) --argjson p99 $(( H_P99_MS * 1000 )) '
    (.delivered_per_s / ($rate * $subs)) as $share
    | (if .expected > 0 and .delivered >= 0.95 * .expected and $share >= 0.9
          and .latency_us.p50 <= $p50 and .latency_us.p99 <= $p99 then "pass"
       elif $share >= 0.75 and .latency_us.p50 <= 1.5 * $p50 and .latency_us.p99 <= 1.5 * $p99
         then "narrow"
       else "fail" end)
      + " " + (.delivered_per_s | tostring)' "$out.json")
  # A failure while herald-bench, the nodes and redis-server used less than
  # 3/4 of the machine was not theirs to cause (they fill it when (h)
  # saturates): a stall of other load, run once more.
  if [[ $verdict == fail && -s $out.cpu ]] && awk -v b="$(j .cpu.cores "$out.json")" \
       -v s="$(awk '{ print $1 + $2 }' "$out.cpu")" -v n="$(nproc)" 'BEGIN { exit !(b + s < 0.75 * n) }'; then
    verdict=narrow
  fi
  log "(h) rep $rep: $rate msgs/s -> $(jq -r '"\(.delivered_per_s|floor) deliveries/s, lost \(.lost)/\(.expected), p50 \(.latency_us.p50) µs, p99 \(.latency_us.p99) µs, errors \(.errors), disconnects \(.disconnects), bench \(.cpu.cores) cores"' "$out.json")$SERVER_CPU $verdict"
}

h_best() {  # h_best NAME FILE: the CPU figures of the best step
  local cpu=${2%.json}.cpu nodes redis rate
  [[ -s $cpu ]] || return 0
  read -r nodes redis <"$cpu"
  rate=$(j .rate_target "$2")
  add h node_cores "$1" "$nodes"
  add h redis_cores "$1" "$redis"
  add h msgs_per_redis_core "$1" "$(awk -v r="$rate" -v c="$redis" 'BEGIN { if (c > 0) printf "%.0f", r / c }')"
  add h deliveries_per_redis_core "$1" "$(awk -v d="$(j .delivered_per_s "$2")" -v c="$redis" 'BEGIN { if (c > 0) printf "%.0f", d / c }')"
}

scenario_h() {
  local A_RATES=("${H_RATES[@]}") STEP=h_step NAMES=herald SEARCH_BEST=h_best
  start_cluster herald "$H_NODES" "$H_THREADS"
  fanout_search h "(h) $H_NODES nodes on Redis, $H_CHANNELS ch x $(( H_SUBS_PER_NODE * H_NODES )) subs: within budget" \
    "at that step"
  row h sat_rate msgs/s higher "(h) publish rate within budget (p50 <= $H_P50_MS ms, p99 <= $H_P99_MS ms)" noratio
  row h node_cores cores lower "(h) heraldd CPU at that step ($H_NODES nodes, $H_THREADS thread(s) each)" noratio
  row h redis_cores cores lower "(h) redis-server CPU at that step" noratio
  row h msgs_per_redis_core msgs/s higher "(h) publishes per Redis core" noratio
  row h deliveries_per_redis_core deliveries/s higher "(h) deliveries per Redis core" noratio
  log "(h) RSS at the end: nodes $(rss_kb herald) kB, redis-server $(rss_kb herald-redis) kB"
  log "(h) redis-server's own count of the publish script (all steps): $(redis-cli -p "${SRV_PORT[herald-redis]}" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),usec=[0-9]*,usec_per_call=\([0-9.]*\).*/\1 calls, \2 µs each/p')"
  stop_server herald
}

# --- scenario (r): one heraldd on the redis engine against one on sqlite ------------
# (a), (b) and (d) again, Herald against Herald: the redis engine (its own
# redis-server) and the default sqlite one, alternating, R_REPS times, into a
# second table (redis | sqlite | ratio). (a) starts its search at (a)'s
# saturation when (a) ran.
start_engines() {
  start_redis redis-store
  start_herald redis redis 2 --redis "redis://127.0.0.1:${SRV_PORT[redis-store]}"
  start_herald sqlite sqlite 2
}
stop_engines() {
  log "($1) RSS at the end: redis engine $(rss_kb redis) kB (redis-server $(rss_kb redis-store) kB, $(awk -v t="$(cpu_ticks redis-store)" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz }') s of CPU), sqlite engine $(rss_kb sqlite) kB"
  stop_server redis; stop_server redis-store; stop_server sqlite
}

scenario_r() {
  local TABLE=EROWS NAMES="redis sqlite" REPS=$R_REPS name
  for name in redis sqlite; do
    if [[ -n ${A_FIRST_LO[a|herald]:-} ]]; then
      A_FIRST_LO[a|$name]=${A_FIRST_LO[a|herald]} A_FIRST_HI[a|$name]=${A_FIRST_HI[a|herald]:-0}
    fi
  done
  start_engines
  fanout_search a "(a) fan-out 1 pub x 1000 subs: saturation"
  stop_engines a
  start_engines
  scenario_b
  stop_engines b
  scenario_d
}

# --- run -------------------------------------------------------------------------
MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
MACHINE="$MODEL, $(nproc) cores, Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
log "machine: $MACHINE"
log "heraldd: $HERALD_PROTO ((f), (g): sse), 2 threads, memory engine (+ sqlite for (c); (h): $H_NODES nodes x $H_THREADS thread(s) on redis; (r): redis vs sqlite); nchan $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null) on nginx $(nginx -v 2>&1 | sed 's|.*/||'), $NCHAN_PROTO ((f), (g): nchan-sse), 2 workers"
log "logs: $LOGS"

# Client and servers share this machine's cores; anything else running skews
# the figures, so say so.
cpu_busy() {  # percent of all CPU time busy over 1 s
  local a b
  a=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat); sleep 1
  b=$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
    busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%d", (busy + idle > 0) ? 100 * busy / (busy + idle) : 0 }'
}
BUSY=$(cpu_busy)
if (( BUSY > 15 )); then
  log "warning: the machine is already ${BUSY} % busy before the benchmark; the figures will be noisy"
fi
# CPU time of the whole machine (busy, steal) now; at the end, what our own
# processes did not use of it was someone else's.
STAT0=$(awk '/^cpu / {print $2+$3+$4+$7+$8, $9}' /proc/stat)
STAT_T0=$(date +%s%N)

# Every scenario starts on freshly started servers ((c) and (d): for every measurement),
# so what one scenario left behind (history, buffers, heap) cannot weigh on the next.
for s in $SCENARIOS; do
  ts=$(date +%s)
  if [[ $s == [abef] ]]; then
    start_herald herald memory
    start_nchan nchan
  fi
  case $s in
    a) scenario_a ;; b) scenario_b ;; c) scenario_c ;; d) scenario_d ;;
    e) [[ -n ${A_SAT_RATE[herald]:-} ]] || die "(e) needs (a)"; scenario_e ;;
    f) scenario_f ;; g) scenario_g ;; h) scenario_h ;; r) scenario_r ;;
    w) scenario_w ;;
    *) die "unknown scenario $s" ;;
  esac
  if [[ $s == [abef] ]]; then
    log "($s) RSS at the end: herald $(rss_kb herald) kB, nchan $(rss_kb nchan) kB (sum of workers)"
    stop_server herald; stop_server nchan
  fi
  log "scenario ($s) took $(( $(date +%s) - ts )) s"
done

# --- report ------------------------------------------------------------------------
# Other load during the run: machine CPU time minus our children's (every server,
# client and tool we started has been waited for by now).
times >"$WORK/times"   # not in a pipe or $(...): a subshell would report its own (empty) times
OTHER=$(awk -v a="$STAT0" -v b="$(awk '/^cpu / {print $2+$3+$4+$7+$8, $9}' /proc/stat)" \
  -v ours="$(tail -n 1 "$WORK/times")" -v hz="$CLK_TCK" -v ncpu="$(nproc)" \
  -v wall="$(( $(date +%s%N) - STAT_T0 ))" 'function sec(t,  m) {
    m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t); return m * 60 + t }
  BEGIN { split(a, x, " "); split(b, y, " "); split(ours, o, " ")
    other = (y[1] - x[1]) / hz - sec(o[1]) - sec(o[2]); if (other < 0) other = 0
    cap = wall / 1e9 * ncpu
    printf "%d %d", 100 * other / cap, 100 * (y[2] - x[2]) / hz / cap }')
read -r OTHER_PCT STEAL_PCT <<<"$OTHER"
if (( OTHER_PCT > 5 || STEAL_PCT > 5 )); then
  log "warning: other processes used ${OTHER_PCT} % of the machine's CPU during the run (steal ${STEAL_PCT} %); the figures are skewed"
fi
CSV=$RESULTS/latest.csv ECSV=$RESULTS/latest-engines.csv WCSV=$RESULTS/latest-webhooks.csv MD=$RESULTS/latest.md
ratio() {  # ratio BETTER A B: > 1 means A (Herald; the redis engine) is better
  awk -v b="$1" -v h="$2" -v n="$3" 'BEGIN {
    if (h == "" || n == "" || h + 0 <= 0 || n + 0 <= 0) { print ""; exit }
    printf "%.2f", (b == "higher") ? h / n : n / h }'
}
fmt() {  # fmt UNIT VALUE
  awk -v u="$1" -v v="$2" 'BEGIN {
    if (v == "") { print "-"; exit }
    if (u == "ms") printf "%.2f ms", v
    else if (u == "%") printf "%.1f %%", v
    else if (u == "bytes") printf "%d B", v
    else if (u == "cores") printf "%.2f cores", v
    else { s = sprintf("%d", v); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", s)
           print s " " u } }'
}
# write_csv ROWS A B SCENARIOS...: the CSV of one table, its two columns the
# servers A and B (VAL's keys), then the herald-bench CPU of SCENARIOS.
write_csv() {
  local -n rows=$1
  local a=$2 b=$3 r sc m unit better label noratio av bv am bm
  shift 3
  echo "scenario,metric,unit,better,$a,$b,ratio,${a}_runs,${b}_runs,label"
  for r in "${rows[@]}"; do
    IFS='|' read -r sc m unit better label noratio <<<"$r"
    av=${VAL["$sc|$m|$a"]:-} bv=${VAL["$sc|$m|$b"]:-}
    am=$(median $av) bm=$(median $bv)
    r=$(ratio "$better" "$am" "$bm"); [[ -n $noratio ]] && r=""
    echo "$sc,$m,$unit,$better,$am,$bm,$r,${av// /;},${bv// /;},$label"
  done
  for sc in "$@"; do
    av=${VAL["$sc|bench_cores|$a"]:-} bv=${VAL["$sc|bench_cores|$b"]:-}
    [[ -n $av$bv ]] && echo "$sc,bench_cores,cores,info,$(median $av),$(median $bv),,${av// /;},${bv// /;},herald-bench CPU ($sc)"
  done
}
write_csv ROWS herald nchan a b e f h >"$CSV"
if (( ${#EROWS[@]} )); then write_csv EROWS redis sqlite a b >"$ECSV"; else rm -f "$ECSV"; fi
if (( ${#WROWS[@]} )); then write_csv WROWS hooked plain >"$WCSV"; else rm -f "$WCSV"; fi

md_table() {  # md_table CSV A B: a CSV as a Markdown table, and its herald-bench CPU line
  echo "| scenario | $2 | $3 | ratio (>1: $2 better) |"
  echo "|---|---:|---:|---:|"
  tail -n +2 "$1" | while IFS=, read -r sc m unit better h n r hr nr label; do
    [[ $better == info ]] && continue
    echo "| $label | $(fmt "$unit" "$h") | $(fmt "$unit" "$n") | ${r:--} |"
  done
  echo
  echo -n "herald-bench CPU (cores, median; the machine has $(nproc)):"
  tail -n +2 "$1" | while IFS=, read -r sc m unit better h n r hr nr label; do
    [[ $better == info ]] && echo -n " ($sc) ${h:--} / ${n:--}"
  done
  echo
}
{
  echo "Machine: $MACHINE. Herald $HERALD_PROTO vs nchan $NCHAN_PROTO ((f), (g): Herald sse vs nchan nchan-sse); medians of $REPS runs. Other load: ${BUSY} % CPU before the run, ${OTHER_PCT} % during it (steal ${STEAL_PCT} %)."
  echo
  md_table "$CSV" Herald nchan
  if [[ -f $ECSV ]]; then
    echo
    echo "One heraldd (2 threads) on the redis engine (its own redis-server, appendfsync everysec) against one on the sqlite engine; medians of $R_REPS runs:"
    echo
    md_table "$ECSV" redis sqlite
  fi
  if [[ -f $WCSV ]]; then
    echo
    echo "One heraldd with $W_RULES webhook rules taking every publish against one with none; medians of $REPS runs:"
    echo
    md_table "$WCSV" "$W_RULES rules" "no rule" | grep -v '^herald-bench CPU'
  fi
} >"$MD"

gnuplot -e "csv='$CSV'; out='$RESULTS/latest.png'" "$ROOT/bench/plot.gp" 2>"$LOGS/gnuplot.err" ||
  log "gnuplot failed: $(cat "$LOGS/gnuplot.err")"

term_table() {  # term_table CSV A B: a CSV as a table for the terminal
  printf '%-58s %16s %16s %10s\n' "scenario" "$2" "$3" "ratio"
  printf '%-58s %16s %16s %10s\n' "" "" "" "(>1: $2"
  printf '%-58s %16s %16s %10s\n' "" "" "" " better)"
  printf '%.0s-' $(seq 103); echo
  tail -n +2 "$1" | while IFS=, read -r sc m unit better h n r hr nr label; do
    [[ $better == info ]] && continue
    printf '%-58s %16s %16s %10s\n' "$label" "$(fmt "$unit" "$h")" "$(fmt "$unit" "$n")" "${r:--}"
  done
  printf '%.0s-' $(seq 103); echo
}

# The tables, for the terminal.
echo
echo "Herald vs nchan -- $MACHINE"
echo "Herald $HERALD_PROTO, 2 threads; nchan $NCHAN_PROTO, 2 workers ((f), (g): sse vs nchan-sse); median of $REPS runs, servers alternating"
echo "other load: ${BUSY} % CPU before the run, ${OTHER_PCT} % during it (steal ${STEAL_PCT} %)"
if (( ${#ROWS[@]} )); then
  term_table "$CSV" Herald nchan
  grep '^herald-bench CPU' "$MD" | head -n 1
fi
if [[ -f $ECSV ]]; then
  echo
  echo "Herald's redis engine vs its sqlite engine, one heraldd each; median of $R_REPS runs"
  term_table "$ECSV" redis sqlite
  grep '^herald-bench CPU' "$MD" | tail -n 1
fi
if [[ -f $WCSV ]]; then
  echo
  echo "Herald with $W_RULES webhook rules vs none, one heraldd each; median of $REPS runs"
  term_table "$WCSV" "$W_RULES rules" "no rule"
fi
echo "lower is better for latency and RSS; the ratio is inverted there (nchan/Herald, sqlite/redis)"
wrote=$CSV; [[ -f $ECSV ]] && wrote+=", $ECSV"; [[ -f $WCSV ]] && wrote+=", $WCSV"
echo "wrote $wrote, $MD, $RESULTS/latest.png; raw runs in $LOGS"
echo "total time: $(( $(date +%s) - T0 )) s"
