#!/usr/bin/env python3
"""Medians and target ratios of a sluice-bench run.

Reads the JSON google-benchmark writes (--benchmark_format=json or --benchmark_out=FILE), takes
the median of each benchmark's repetitions (the "median" aggregate when the run reported
aggregates, otherwise the median of the repetitions it finds), and prints Markdown: every
benchmark's median items/s, then the ratios the engine's targets (issue #15) are stated in, each
with PASS or FAIL. Several files (the rounds of one binary from interleave.sh's KEEP directory)
are read as one run: their repetitions are pooled and the median taken over all of them.

    sluice-bench --benchmark_repetitions=5 --benchmark_format=json > run.json
    python3 bench/compare/engine_ratios.py run.json

The hot-key figure is bimodal per process on the 2-vCPU dev VM (PERF.md, "the hot key's two
modes"): all repetitions of one process agree, processes do not. With several files, a last
table gives the hot-key ratios of each file alone, in real and in CPU time, so two modes show
as two clusters instead of disappearing into the pooled median.

Exit status 0, or 1 with --strict when a target fails or a benchmark it needs is missing.
Standard library only.
"""

import argparse
import json
import statistics
import sys


def parse_name(run_name):
    """("BM_GcraHotKey", ("",), 2) from "BM_GcraHotKey/real_time/threads:2"."""
    parts = run_name.split("/")
    family, threads, args = parts[0], 1, []
    for part in parts[1:]:
        if part.startswith("threads:"):
            threads = int(part[len("threads:"):])
        elif part in ("real_time", "process_time", "manual_time") or ":" in part:
            continue  # min_time:, iterations:, repeats: ...
        else:
            args.append(part)
    return family, tuple(args), threads


class Run:
    def __init__(self, run_name):
        self.run_name = run_name
        self.samples = {}  # field -> values of the repetitions
        self.medians = {}  # field -> value of the "median" aggregate

    def median(self, field):
        # Pooled repetitions first (several files of one binary); a run written with
        # --benchmark_report_aggregates_only has only its "median" aggregate.
        values = self.samples.get(field)
        if values:
            return statistics.median(values)
        return self.medians.get(field)

    def repetitions(self):
        counts = [len(v) for v in self.samples.values()]
        return max(counts) if counts else None


NUMERIC_SKIP = {"family_index", "per_family_instance_index", "repetitions",
                "repetition_index", "threads", "iterations"}


def load(paths):
    runs = {}
    order = []
    context = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        context = context or data.get("context", {})
        load_one(data, runs, order)
    return context, [runs[n] for n in order]


def load_one(data, runs, order):
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            print(f"warning: {b['name']} failed: {b.get('error_message', '')}", file=sys.stderr)
            continue
        run_name = b.get("run_name", b["name"])
        if run_name not in runs:
            runs[run_name] = Run(run_name)
            order.append(run_name)
        run = runs[run_name]
        fields = {k: v for k, v in b.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)
                  and k not in NUMERIC_SKIP}
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                run.medians.update(fields)
        else:
            for k, v in fields.items():
                run.samples.setdefault(k, []).append(v)


def si(value):
    if value is None:
        return "n/a"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}"
    return f"{value:.3g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("json", nargs="+",
                        help="google-benchmark JSON output of sluice-bench (one or more)")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target fails or cannot be computed")
    args = parser.parse_args()

    context, runs = load(args.json)
    by_key = {parse_name(r.run_name): r for r in runs}

    def items(family, arg=None, threads=1):
        run = by_key.get((family, (arg,) if arg else (), threads))
        return run.median("items_per_second") if run else None

    print("## sluice-bench medians\n")
    print(f"- host: {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs at "
          f"{context.get('mhz_per_cpu', '?')} MHz, load average at start "
          f"{context.get('load_avg', '?')}")
    print(f"- date: {context.get('date', '?')}, executable: {context.get('executable', '?')}")
    load_avg = context.get("load_avg") or []
    if load_avg and load_avg[0] > 0.5:
        print(f"- WARNING: load average {load_avg[0]:.2f} at start: other work was running, "
              "and the two-thread figures are only meaningful when both threads own a core")
    print()
    print("| benchmark | repetitions | median items/s | median ns/item | counters (median) |")
    print("|---|---:|---:|---:|---|")
    for run in runs:
        ips = run.median("items_per_second")
        ns = 1e9 / ips if ips else None
        counters = []
        for field in sorted(set(run.samples) | set(run.medians)):
            if field in ("items_per_second", "real_time", "cpu_time", "bytes_per_second"):
                continue
            value = run.median(field)
            if value is not None:
                counters.append(f"{field}={value:.4g}")
        reps = run.repetitions() or "aggregates"
        shown_ns = f"{ns:.2f}" if ns else "n/a"
        print(f"| {run.run_name} | {reps} | {si(ips)} | {shown_ns} | {' '.join(counters)} |")

    big = str(1 << 24)
    checks = []  # (what, value, comparison, target)

    def ratio(num, den):
        return num / den if num and den else None

    # The targets of issue #15, each "engine items/s over competitor items/s >= x" or
    # "floor items/s over engine items/s <= x" (a time ratio: how much slower than the floor).
    checks.append(("AtomicFloor / GcraHotKey, 1 thread (hot key, half admitted)",
                   ratio(items("BM_AtomicFloor"), items("BM_GcraHotKey")), "<=", 1.3))
    checks.append(("GcraHotKey / MutexMapHotKey, 1 thread",
                   ratio(items("BM_GcraHotKey"), items("BM_MutexMapHotKey")), ">=", 1.5))
    checks.append(("GcraHotKey / MutexMapHotKey, 2 threads",
                   ratio(items("BM_GcraHotKey", threads=2),
                         items("BM_MutexMapHotKey", threads=2)), ">=", 2.0))
    checks.append(("GcraHotKeyOverLimit / MutexMapHotKeyOverLimit, 2 threads",
                   ratio(items("BM_GcraHotKeyOverLimit", threads=2),
                         items("BM_MutexMapHotKeyOverLimit", threads=2)), ">=", 5.0))
    checks.append(("GcraRandomKeysThreaded / StripedMutexMapRandomKeys, 2 threads (1M keys)",
                   ratio(items("BM_GcraRandomKeysThreaded", threads=2),
                         items("BM_StripedMutexMapRandomKeys", threads=2)), ">=", 2.0))
    checks.append(("MemoryCasFloor / GcraBatchRandomKeys, 16M keys",
                   ratio(items("BM_MemoryCasFloor", big), items("BM_GcraBatchRandomKeys", big)),
                   "<=", 1.3))
    for (family, arg, _), run in sorted(by_key.items(), key=lambda kv: kv[0]):
        if family in ("BM_GcraRandomKeys", "BM_GcraBatchRandomKeys") and arg:
            checks.append((f"bytes per key, {family[3:]}/{arg[0]}",
                           run.median("bytes_per_key"), "<=", 16.0))

    context = []  # ratios that explain the targets; not targets themselves
    context.append(("AtomicFloor / GcraHotKey, 2 threads",
                    ratio(items("BM_AtomicFloor", threads=2), items("BM_GcraHotKey", threads=2))))
    for threads in (1, 2):
        context.append((f"AtomicFloor / GcraHotKeyOverLimit, {threads} thread(s)",
                        ratio(items("BM_AtomicFloor", threads=threads),
                              items("BM_GcraHotKeyOverLimit", threads=threads))))
    context.append(("GcraHotKeyOverLimit / MutexMapHotKeyOverLimit, 1 thread",
                    ratio(items("BM_GcraHotKeyOverLimit"), items("BM_MutexMapHotKeyOverLimit"))))
    context.append(("GcraRandomKeysThreaded / StripedMutexMapRandomKeys, 1 thread",
                    ratio(items("BM_GcraRandomKeysThreaded"),
                          items("BM_StripedMutexMapRandomKeys"))))
    context.append(("GcraBatchRandomKeys / GcraRandomKeys, 16M keys",
                    ratio(items("BM_GcraBatchRandomKeys", big), items("BM_GcraRandomKeys", big))))
    context.append(("MemoryFloor / GcraBatchRandomKeys, 16M keys",
                    ratio(items("BM_MemoryFloor", big), items("BM_GcraBatchRandomKeys", big))))
    context.append(("MemoryFloor / MemoryCasFloor, 16M keys",
                    ratio(items("BM_MemoryFloor", big), items("BM_MemoryCasFloor", big))))
    context.append(("GcraBatchRandomKeys/1024 / GcraBatchRandomKeys/16M (16M time over L1-table time)",
                    ratio(items("BM_GcraBatchRandomKeys", "1024"),
                          items("BM_GcraBatchRandomKeys", big))))

    print("\n## Targets\n")
    print("| ratio | median | target | result |")
    print("|---|---:|---:|---|")
    failed = False
    for what, value, op, target in checks:
        if value is None:
            verdict, shown = "MISSING", "n/a"
            failed = True
        else:
            ok = value >= target if op == ">=" else value <= target
            verdict, shown = ("PASS" if ok else "FAIL"), f"{value:.2f}"
            failed = failed or not ok
        print(f"| {what} | {shown} | {op} {target:g} | {verdict} |")
    print("\n## Context (not targets)\n")
    print("| ratio | median |")
    print("|---|---:|")
    for what, value in context:
        print(f"| {what} | {'n/a' if value is None else f'{value:.2f}'} |")
    if len(args.json) > 1:
        print_per_process(args.json)
    return 1 if (failed and args.strict) else 0


def print_per_process(paths):
    """The 1-thread hot-key ratios of each file (one process) alone."""
    print("\n## Hot key, 1 thread, per process (each file alone)\n")
    print("| file | load | GcraHotKey cpu ns | AtomicFloor cpu ns | floor ratio real / cpu "
          "| vs MutexMapHotKey real / cpu |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in paths:
        context, runs = load([path])
        by_key = {parse_name(r.run_name): r for r in runs}

        def get(family, field):
            run = by_key.get((family, (), 1))
            return run.median(field) if run else None

        hot, floor, mutex = "BM_GcraHotKey", "BM_AtomicFloor", "BM_MutexMapHotKey"

        def both(num, den):
            # Time ratios: how many times slower `den` is than `num`, i.e. items(num)/items(den).
            real = (get(num, "items_per_second") / get(den, "items_per_second")
                    if get(num, "items_per_second") and get(den, "items_per_second") else None)
            cpu = (get(den, "cpu_time") / get(num, "cpu_time")
                   if get(num, "cpu_time") and get(den, "cpu_time") else None)
            return " / ".join("n/a" if v is None else f"{v:.2f}" for v in (real, cpu))

        load_avg = (context.get("load_avg") or ["?"])[0]
        shown_load = f"{load_avg:.2f}" if isinstance(load_avg, float) else str(load_avg)
        cells = [f"{v:.2f}" if v else "n/a" for v in (get(hot, "cpu_time"), get(floor, "cpu_time"))]
        print(f"| {path} | {shown_load} | {cells[0]} | {cells[1]} | {both(floor, hot)} "
              f"| {both(hot, mutex)} |")


if __name__ == "__main__":
    sys.exit(main())
