#!/usr/bin/env bash
# A first sluiced figure with wrk: requests/s, latency percentiles and server CPU-seconds per
# request (from /proc/PID/stat, which the load generator cannot hide). sluiced and wrk are
# pinned to different CPUs. Loopback only; bounded by DURATION.
#   bench/compare/sluiced_wrk.sh [build/release/tools/sluiced]
# Env: DURATION (s, default 10), CONNECTIONS (default 64), THREADS_WRK (default 1),
#      SERVER_CPU (default 0), LOAD_CPU (default 1), MODE (admit|deny, default admit),
#      PIPELINE (requests per write through bench/compare/pipeline.lua; default 1: none)
set -euo pipefail
cd "$(dirname "$0")/../.."
sluiced=${1:-build/release/tools/sluiced}
duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
wrk_threads=${THREADS_WRK:-1}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
mode=${MODE:-admit}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 2; }

# admit: a huge budget, every request is checked and admitted (200 + RateLimit headers).
# deny: a tiny budget, nearly every request gets the preformatted 429.
if [[ $mode == admit ]]; then rate=1000000000/s; burst=1000000000; else rate=1/h; burst=1; fi
config=$(mktemp /tmp/sluiced-wrk-XXXXXX.yaml)
out=$(mktemp /tmp/sluiced-wrk-XXXXXX.out)
trap 'kill $pid 2>/dev/null || true; rm -f "$config" "$out"' EXIT
cat >"$config" <<YAML
listen: 127.0.0.1:0
admin: 127.0.0.1:0
threads: 1
policies:
  - name: per-ip
    key: ip
    rate: $rate
    burst: $burst
YAML
taskset -c "$server_cpu" "$sluiced" --config "$config" >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'admin on' "$out" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out")
[[ -n $port ]] || { cat "$out"; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(cpu_ticks)
script=()
if [[ ${PIPELINE:-1} -gt 1 ]]; then script=(-s bench/compare/pipeline.lua); fi
result=$(PIPELINE=${PIPELINE:-1} taskset -c "$load_cpu" wrk -t"$wrk_threads" -c"$connections" \
  -d"${duration}s" --latency "${script[@]}" "http://127.0.0.1:$port/")
t1=$(cpu_ticks)
echo "$result"
requests=$(echo "$result" | awk '/requests in/ {print $1}')
echo "server: $(( t1 - t0 )) ticks of CPU at ${hz} Hz for $requests requests"
awk -v t=$(( t1 - t0 )) -v hz="$hz" -v n="$requests" \
  'BEGIN { printf "server CPU per request: %.2f us\n", (t / hz) / n * 1e6 }'
