#!/usr/bin/env python3
"""The C ABI from Python through cffi (ABI mode): ns per decision, single calls against
batches of 64 (issue #13's T8: at most 20 ns per decision in batches of 64).

    SLUICE_LIBRARY=build/bench/engine/src/c_api/libsluice.so.1 \\
      /usr/bin/python3 bench/compare/cffi_batch.py [--repetitions 7]

Four ways, interleaved in every repetition, medians reported (time.process_time_ns: CPU time
of this process, so other load on the machine counts less than with wall time):
  single        sluice_check once per key (one cffi call per decision)
  batch call    sluice_batch_check(batch, now) on 64 keys already packed into the buffers of
                a sluice_batch made once (one per packed batch): the FFI call of 2 arguments
                and the engine, what a binding pays when its keys arrive packed (T8's row)
  batch clock   the same with SLUICE_BATCH_CLOCK set: the library reads the clock, the caller
                passes 0 (no Python clock read: the other rows' now() is a fake clock)
  packed call   sluice_check_packed on the same 64 keys: the same work through a call of 8
                arguments
  packed 1024   the same in batches of 1024: the call cost spread 16 times thinner, so close
                to the engine's own cost per decision (the floor the other rows stand on)
  check_many    examples/python's Limiter.check_many: join 64 bytes keys, copy them and their
                lengths into its sluice_batch's buffers, call, and take the 64 allowed flags
                (a Python caller's whole cost)
  noop          a Python loop of the same length doing nothing (the interpreter's floor)
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))
import sluice_cffi  # noqa: E402

ffi = sluice_cffi.ffi
BATCH = 64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repetitions", type=int, default=7)
    ap.add_argument("--decisions", type=int, default=64 * 4000)
    args = ap.parse_args()
    lib = sluice_cffi.load()
    limiter = sluice_cffi.Limiter(lib, [("p", "50000000/s", 100)], capacity=1 << 12)
    raw = limiter._limiter
    keys = [b"client-%06d" % i for i in range(1024)]
    batches = [keys[i:i + BATCH] for i in range(0, len(keys), BATCH)]
    packed = [(b"".join(b), ffi.new("uint32_t[]", [len(k) for k in b])) for b in batches]
    out = ffi.new("sluice_decision[]", BATCH)
    descriptors = []
    lent = []  # the key buffers the descriptors point into, kept alive
    for buf, lens in packed:
        b = ffi.new("sluice_batch *")
        lib.sluice_batch_init(b, ffi.sizeof("sluice_batch"))
        lent.append(ffi.from_buffer(buf))
        b.limiter, b.policy, b.keys, b.key_lens, b.n, b.out = raw, 0, lent[-1], lens, BATCH, out
        descriptors.append(b)
    # The library's clock is not the fake clock of the other rows, so this row decides on a
    # table of its own (same size, same keys): a key spent at real time would be denied at the
    # fake one, and the other rows would measure denials.
    real_time = sluice_cffi.Limiter(lib, [("p", "50000000/s", 100)], capacity=1 << 12)
    clocked = []
    for b in descriptors:
        c = ffi.new("sluice_batch *")
        ffi.memmove(c, b, ffi.sizeof("sluice_batch"))
        c.limiter = real_time._limiter
        c.flags = sluice_cffi.SLUICE_BATCH_CLOCK
        clocked.append(c)
    one = ffi.new("sluice_decision *")
    rounds = args.decisions // BATCH
    clock = [10**9]

    def now():
        clock[0] += 1000
        return clock[0]

    def single():
        check = lib.sluice_check
        for r in range(rounds):
            t = now()
            for k in batches[r % len(batches)]:
                check(raw, 0, k, len(k), t, 1, one)

    def batch_call():
        check = lib.sluice_batch_check
        for r in range(rounds):
            check(descriptors[r % len(descriptors)], now())

    def batch_clock():
        check = lib.sluice_batch_check
        for r in range(rounds):
            check(clocked[r % len(clocked)], 0)

    def packed_call():
        check = lib.sluice_check_packed
        for r in range(rounds):
            buf, lens = packed[r % len(packed)]
            check(raw, 0, buf, lens, BATCH, now(), 1, out)

    big_buf = b"".join(keys)
    big_lens = ffi.new("uint32_t[]", [len(k) for k in keys])
    big_out = ffi.new("sluice_decision[]", len(keys))

    def packed_1024():
        check = lib.sluice_check_packed
        for r in range(rounds // (len(keys) // BATCH)):
            check(raw, 0, big_buf, big_lens, len(keys), now(), 1, big_out)

    def check_many():
        for r in range(rounds):
            limiter.check_many(0, batches[r % len(batches)], now_ns=now())

    def noop():
        for r in range(rounds):
            now()

    ways = [("single", single), ("batch call", batch_call), ("batch clock", batch_clock),
            ("packed call", packed_call), ("packed 1024", packed_1024),
            ("check_many", check_many), ("noop", noop)]
    results = {name: [] for name, _ in ways}
    for _ in range(args.repetitions):
        for name, fn in ways:
            start = time.process_time_ns()
            fn()
            results[name].append((time.process_time_ns() - start) / (rounds * BATCH))
    print(f"python {sys.version.split()[0]}, cffi {sluice_cffi.cffi.__version__}, "
          f"{args.repetitions} repetitions of {rounds * BATCH} decisions, batches of {BATCH}")
    print(f"{'way':<12} {'median ns/decision':>19} {'min':>8} {'max':>8}")
    for name, _ in ways:
        v = results[name]
        print(f"{name:<12} {statistics.median(v):>19.1f} {min(v):>8.1f} {max(v):>8.1f}")


if __name__ == "__main__":
    main()
