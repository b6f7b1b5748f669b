#!/usr/bin/env bash
# sluiced with 1 and 2 shards on this machine, sluice-load as the client (plain and pipelined
# x16, keys uniform:10000, every request admitted). With 1 shard the server is pinned to CPU 0 and
# sluice-load (1 thread) to CPU 1; with 2 shards neither is pinned and sluice-load runs 2
# threads, so on a 2-CPU machine the load generator competes with the shards for the cores.
#   bench/compare/scaling.sh [build/release] [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
duration=${2:-10}
sluiced=$build/tools/sluiced
load=$build/tools/sluice-load
tmp=$(mktemp -d /tmp/sluice-scaling-XXXXXX)
pid=
cleanup() { if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
hz=$(getconf CLK_TCK)
printf '| shards | pipeline | requests/s | p50 us | p99 us | server CPU us/request |\n|---:|---:|---:|---:|---:|---:|\n'
for shards in 1 2; do
  for pipeline in 1 16; do
    cat >"$tmp/s.yaml" <<YAML
listen: 127.0.0.1:0
admin: 127.0.0.1:0
threads: $shards
table: {capacity: 65536, when_full: evict}
policies:
  - name: per-key
    key: header:x-key
    when_missing: skip
    rate: 100000/s
    burst: 100
YAML
    if [[ $shards == 1 ]]; then server_pin=(taskset -c 0); load_pin=(taskset -c 1); else server_pin=(); load_pin=(); fi
    "${server_pin[@]}" "$sluiced" --config "$tmp/s.yaml" >"$tmp/out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -qs "admin on" "$tmp/out" && break; sleep 0.05; done
    port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$tmp/out")
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    json=$("${load_pin[@]}" "$load" --json --progress=false --threads "$shards" --connections 64 \
      --pipeline "$pipeline" --duration "${duration}s" --keys uniform:10000 "http://127.0.0.1:$port/")
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    python3 -c '
import json, sys
r = json.loads(sys.argv[1]); ticks = float(sys.argv[2]); hz = float(sys.argv[3])
print("| %s | %s | %.0f | %.0f | %.0f | %.2f |" % (sys.argv[4], sys.argv[5], r["requests_per_s"],
      r["latency_us"]["p50"], r["latency_us"]["p99"], ticks / hz / r["requests"] * 1e6))
' "$json" "$((t1 - t0))" "$hz" "$shards" "$pipeline"
  done
done
