"""sluice from Python through cffi (Debian: python3-cffi), in ABI mode: no compiler needed.

    SLUICE_LIBRARY=/path/to/libsluice.so.1 python3 sluice_cffi.py

The declarations below are the part of <sluice/c.h> this module uses, copied as cffi's cdef
wants them (no preprocessor). A call through cffi costs ~60 ns plus ~25 ns per argument, far
more than a decision (~15 ns), so the module decides lists of keys with one call of two
arguments: `Limiter.check_many` packs the keys into buffers a `sluice_batch` described once,
and calls `sluice_batch_check(batch, now_ns)`.
"""
import array
import ctypes.util
import os
import time

import cffi

CDEF = """
typedef struct sluice_table sluice_table;
typedef struct sluice_limiter sluice_limiter;
typedef struct sluice_decision {
  int32_t allowed; int32_t flags; int64_t remaining; int64_t retry_after_ns;
  int64_t reset_after_ns;
} sluice_decision;
typedef struct sluice_table_options {
  size_t size; uint64_t capacity; int32_t when_full; uint32_t flags; uint64_t seed[4];
} sluice_table_options;
typedef struct sluice_policy {
  size_t size; const char *name; uint64_t count; int64_t period_ns; uint64_t burst;
} sluice_policy;
unsigned sluice_version_number(void);
const char *sluice_version_string(void);
const char *sluice_strerror(int code);
void sluice_table_options_init(sluice_table_options *o, size_t size);
int sluice_table_create(const sluice_table_options *o, sluice_table **out, char *err,
                        size_t errlen);
int sluice_table_create_shared(const sluice_table_options *o, sluice_table **out, char *err,
                               size_t errlen);
void sluice_table_close(sluice_table *t);
void sluice_policy_init(sluice_policy *p, size_t size);
int sluice_rate_parse(const char *text, size_t len, uint64_t *count, int64_t *period_ns,
                      char *err, size_t errlen);
int sluice_limiter_create(sluice_table *t, const sluice_policy *policies, size_t n,
                          sluice_limiter **out, char *err, size_t errlen);
void sluice_limiter_destroy(sluice_limiter *l);
int sluice_limiter_find(const sluice_limiter *l, const char *name, size_t len,
                        uint32_t *index);
int sluice_check(sluice_limiter *l, uint32_t policy, const void *key, size_t key_len,
                 int64_t now_ns, uint64_t cost, sluice_decision *out);
int sluice_check_packed(sluice_limiter *l, uint32_t policy, const void *keys,
                        const uint32_t *key_lens, size_t n, int64_t now_ns, uint64_t cost,
                        sluice_decision *out);
typedef struct sluice_batch {
  size_t size; sluice_limiter *limiter; uint32_t policy; uint32_t flags; uint64_t cost;
  const void *keys; const uint32_t *key_lens; size_t n; sluice_decision *out;
  uint8_t *allowed;
} sluice_batch;
void sluice_batch_init(sluice_batch *b, size_t size);
int sluice_batch_check(const sluice_batch *b, int64_t now_ns);
int64_t sluice_now_ns(void);
int sluice_format_header(const sluice_limiter *l, uint32_t policy, const sluice_decision *d,
                         int which, char *buf, size_t len);
"""

ffi = cffi.FFI()
ffi.cdef(CDEF)


def load(path=None):
    """Opens libsluice: `path`, $SLUICE_LIBRARY, or the system's libsluice.so.1."""
    path = path or os.environ.get("SLUICE_LIBRARY") or ctypes.util.find_library("sluice")
    return ffi.dlopen(path or "libsluice.so.1")


HEADERS = {"Retry-After": 1, "RateLimit-Policy": 2, "RateLimit": 3}
SLUICE_BATCH_CLOCK = 0x1


class SluiceError(Exception):
    pass


class Limiter:
    """Named GCRA policies over one table. `shared=True` puts the table in anonymous shared
    memory: make the Limiter before a pre-fork server forks, and every worker shares it."""

    def __init__(self, lib, policies, capacity=1 << 20, shared=False):
        self._lib = lib
        err = ffi.new("char[256]")
        opts = ffi.new("sluice_table_options *")
        lib.sluice_table_options_init(opts, ffi.sizeof("sluice_table_options"))
        opts.capacity = capacity
        table = ffi.new("sluice_table **")
        create = lib.sluice_table_create_shared if shared else lib.sluice_table_create
        self._check_rc(create(opts, table, err, len(err)), err)
        arr = ffi.new("sluice_policy[]", len(policies))
        names = []  # keep the C strings alive until the limiter has copied them
        for i, (name, rate, burst) in enumerate(policies):
            lib.sluice_policy_init(ffi.addressof(arr, i), ffi.sizeof("sluice_policy"))
            names.append(ffi.new("char[]", name.encode()))
            arr[i].name = names[-1]
            count = ffi.new("uint64_t *")
            period = ffi.new("int64_t *")
            self._check_rc(lib.sluice_rate_parse(rate.encode(), len(rate), count, period, err,
                                                 len(err)), err)
            arr[i].count, arr[i].period_ns, arr[i].burst = count[0], period[0], burst
        out = ffi.new("sluice_limiter **")
        rc = lib.sluice_limiter_create(table[0], arr, len(policies), out, err, len(err))
        lib.sluice_table_close(table[0])  # the limiter keeps the table alive
        self._check_rc(rc, err)
        self._limiter = ffi.gc(out[0], lib.sluice_limiter_destroy)
        self._one = ffi.new("sluice_decision *")
        # The batch descriptor and the buffers it points at, made once and grown when a batch
        # does not fit; each check_many rewrites the buffers in place.
        self._batch = ffi.new("sluice_batch *")
        lib.sluice_batch_init(self._batch, ffi.sizeof("sluice_batch"))
        self._batch.limiter = self._limiter
        self._batch_cap = self._key_cap = 0
        self._batch_n = self._batch_policy = self._batch_cost = None
        self._batch_flags = 0
        self._grow(64, 64 * 64)

    def _check_rc(self, rc, err=None):
        if rc < 0:
            detail = ffi.string(err).decode() if err is not None else ""
            raise SluiceError(ffi.string(self._lib.sluice_strerror(rc)).decode() +
                              (": " + detail if detail else ""))
        return rc

    def policy(self, name):
        index = ffi.new("uint32_t *")
        raw = name.encode()
        self._check_rc(self._lib.sluice_limiter_find(self._limiter, raw, len(raw), index))
        return index[0]

    def check(self, policy, key, now_ns=None, cost=1):
        """One decision: (allowed, the decision struct)."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        rc = self._check_rc(self._lib.sluice_check(self._limiter, policy, key, len(key), now_ns,
                                                   cost, self._one))
        return rc == 1, self._one

    def _grow(self, n, key_bytes):
        self._batch_cap = max(n, 2 * self._batch_cap)
        self._key_cap = max(key_bytes, 2 * self._key_cap)
        self._keys = bytearray(self._key_cap)
        self._lens = array.array("I", bytes(4 * self._batch_cap))
        self._out = ffi.new("sluice_decision[]", self._batch_cap)
        self._allowed = ffi.new("uint8_t[]", self._batch_cap)
        self._allowed_bytes = ffi.buffer(self._allowed)
        # The descriptor keeps only pointers: hold the from_buffer views (they pin the
        # buffers, which are never resized: check_many assigns same-length slices).
        self._keys_view = ffi.from_buffer(self._keys)
        self._lens_view = ffi.from_buffer("uint32_t[]", self._lens)
        b = self._batch
        b.keys = self._keys_view
        b.key_lens = self._lens_view
        b.out = self._out
        b.allowed = self._allowed

    def check_many(self, policy, keys, now_ns=None, cost=1):
        """Decides a list of bytes keys with one call; returns a bytes of 0/1, one per key."""
        n = len(keys)
        if n == 0:  # (an empty slice assignment would count as a resize of the pinned buffers)
            return b""
        joined = b"".join(keys)
        if n > self._batch_cap or len(joined) > self._key_cap:
            self._grow(n, len(joined))
        # Into the descriptor's buffers, in place: a copy of the joined keys, and the lengths
        # filled in C by array("I", map(len, ...)) (no per-element cffi conversion).
        self._keys[:len(joined)] = joined
        self._lens[:n] = array.array("I", map(len, keys))
        b = self._batch
        if n != self._batch_n:  # a field write costs about what an argument does: skip repeats
            b.n = self._batch_n = n
        if policy != self._batch_policy or cost != self._batch_cost:
            b.policy, b.cost = policy, cost
            self._batch_policy, self._batch_cost = policy, cost
        # No time given: SLUICE_BATCH_CLOCK, the library reads CLOCK_MONOTONIC itself.
        flags = SLUICE_BATCH_CLOCK if now_ns is None else 0
        if flags != self._batch_flags:
            b.flags = self._batch_flags = flags
        self._check_rc(self._lib.sluice_batch_check(b, now_ns or 0))
        return self._allowed_bytes[:n]

    def decision(self, i):
        """The full decision of key i of the last check_many call."""
        return self._out[i]

    def header(self, policy, decision, name):
        buf = ffi.new("char[600]")
        n = self._check_rc(self._lib.sluice_format_header(self._limiter, policy, decision,
                                                          HEADERS[name], buf, len(buf)))
        return ffi.string(buf, n).decode() if n else None


def main():
    lib = load()
    print("sluice", ffi.string(lib.sluice_version_string()).decode())
    limiter = Limiter(lib, [("per-ip", "10/s", 5)], capacity=1 << 16)
    ip = limiter.policy("per-ip")
    t0 = 1000 * 10**9  # a fixed clock, so the output is the same on every run

    # One key, seven requests at once: the burst of 5 passes.
    results = [limiter.check(ip, b"192.0.2.7", now_ns=t0)[0] for _ in range(7)]
    print("single:", results)
    assert results == [True] * 5 + [False] * 2
    allowed, d = limiter.check(ip, b"192.0.2.7", now_ns=t0)
    for name in HEADERS:
        print(f"{name}: {limiter.header(ip, d, name)}")
    assert limiter.header(ip, d, "Retry-After") == "1"

    # A batch of 64: 16 clients, 4 requests each, then each client's 5th and 6th.
    keys = [b"198.51.100.%d" % (i % 16) for i in range(64)]
    allowed = limiter.check_many(ip, keys, now_ns=t0)
    print("batch of 64:", sum(allowed), "admitted")
    assert sum(allowed) == 64
    allowed = limiter.check_many(ip, keys[:32], now_ns=t0)
    print("next 32:", sum(allowed), "admitted (the 5th of each client), the rest wait",
          limiter.decision(31).retry_after_ns, "ns")
    assert sum(allowed) == 16 and limiter.decision(31).retry_after_ns == 10**8

    # 420 requests of 60 keys of every length up to 40 bytes (the buffers grow), twice: the
    # batch decides what one check per key decides on a second limiter.
    other = Limiter(lib, [("per-ip", "10/s", 5)], capacity=1 << 16)
    keys = [bytes(range(j % 41)) + b"%d" % j for j in (i % 60 for i in range(420))]
    for t in (t0, t0 + 10**8):
        many = limiter.check_many(ip, keys, now_ns=t)
        one = bytes(other.check(ip, k, now_ns=t)[0] for k in keys)
        assert many == one, (many, one)
        assert other.check(ip, keys[-1], now_ns=t)[1].retry_after_ns == \
            limiter.check(ip, keys[-1], now_ns=t)[1].retry_after_ns
        assert sum(many) == (300 if t == t0 else 60), sum(many)
    print("batch of 420:", sum(many), "admitted, as 420 single checks")

    # No now_ns: the batch is decided at the library's clock, the single check at
    # time.monotonic_ns(), one clock: a key spent by the batch is denied by the check.
    slow = Limiter(lib, [("slow", "1/m", 1)], capacity=1 << 8)
    assert slow.check_many(0, []) == b""
    assert slow.check_many(0, [b"a", b"b"]) == b"\x01\x01"
    assert not slow.check(0, b"a")[0] and slow.check_many(0, [b"b", b"c"]) == b"\x00\x01"
    print("real clock: ok")
    print("ok")


if __name__ == "__main__":
    main()
