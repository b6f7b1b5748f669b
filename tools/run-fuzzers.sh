#!/usr/bin/env bash
# Runs each libFuzzer target of build/fuzz for SECONDS from its seed corpus (fuzz/corpus/<t>,
# read only), JOBS targets at a time (each target is one process on one core, so on a 2-core
# machine two run side by side and the whole step takes half as long as one after another).
# What a target finds goes to OUT/<t>/ (corpus/, crash-*), never into the repository.
#
#   tools/run-fuzzers.sh SECONDS JOBS OUT target...
#
# Exits non-zero if any target fails, after printing the end of its log.
set -uo pipefail

seconds=$1 jobs=$2 out=$3
shift 3

run_one() {
  local t=$1
  mkdir -p "$out/$t/corpus"
  if build/fuzz/fuzz/"${t}"_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/$t/" \
    "$out/$t/corpus" "fuzz/corpus/$t" >"$out/$t/log" 2>&1; then
    echo "$t" >"$out/$t/passed"
  fi
}

running=0
for t in "$@"; do
  rm -f "$out/$t/passed"
  echo "=== fuzz $t (${seconds}s)"
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "$@"; do
  if [[ -f $out/$t/passed ]]; then
    echo "--- $t"
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$out/$t/log"
  else
    tail -n 60 "$out/$t/log"
    echo "fuzz $t FAILED: see $out/$t/"
    failed=1
  fi
done
exit "$failed"
