#!/bin/bash
# Runs two sluice-bench binaries alternately (base, new, base, new, ...) pinned to CPUs 0-1,
# FILTER selecting the benchmarks, ROUNDS rounds, and prints the median real/cpu ns of each.
# BASE_BIN / NEW_BIN override the binaries; MINT the --benchmark_min_time; KEEP=DIR keeps
# every round's JSON there (base.N.json, new.N.json: feed new.*.json to engine_ratios.py);
# NICE=-5 runs the binaries at that niceness (needs the privilege). Further arguments go to
# both binaries (e.g. --benchmark_repetitions=3).
F=$1; R=${2:-3}; shift 2
OUT=${KEEP:-$(mktemp -d)}
mkdir -p "$OUT"
for i in $(seq $R); do
  for b in base new; do
    if [ $b = base ]; then bin=${BASE_BIN:-/tmp/engine-base/build/bench/bench/sluice-bench}; else bin=${NEW_BIN:-/work/wt/engine/build/bench/bench/sluice-bench}; fi
    nice -n ${NICE:-0} taskset -c 0,1 $bin --benchmark_filter="$F" --benchmark_min_time=${MINT:-0.3} --benchmark_format=json "$@" > $OUT/$b.$i.json 2>/dev/null
  done
done
python3 - $OUT <<'PY'
import sys,json,glob,statistics,collections,os
d=collections.defaultdict(list)
for f in glob.glob(sys.argv[1]+"/*.json"):
    b=os.path.basename(f).split(".")[0]
    for r in json.load(open(f))["benchmarks"]:
        if r.get("run_type")=="aggregate": continue
        d[(r["name"],b)].append((r["real_time"],r["cpu_time"]))
names=sorted(set(n for n,_ in d))
for n in names:
    out=[]
    for b in ("base","new"):
        v=d.get((n,b))
        out.append("%7.2f/%6.2f"%(statistics.median(x[0] for x in v),statistics.median(x[1] for x in v)) if v else "      n/a     ")
    print("%-52s base %s  new %s"%(n,out[0],out[1]))
PY
