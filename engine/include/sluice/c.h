/* sluice C ABI: the engine for C and for anything with a C FFI (Python cffi, Go, Rust, Lua).
 *
 *   #include <sluice/c.h>       cc app.c $(pkg-config --cflags --libs sluice)
 *
 * C99, no other header than <stddef.h> and <stdint.h>. Every symbol is `sluice_`-prefixed,
 * every macro `SLUICE_`. The library is libsluice.so.1 (ABI 1) and libsluice.a.
 *
 * Model. A *table* holds the state (one 16-byte slot per key, a GCRA TAT decided with one CAS);
 * it lives in private memory, in anonymous shared memory made before fork(), in a file (e.g.
 * on /dev/shm) that unrelated processes map, or in memory the caller hands over (an nginx
 * zone). A *limiter* is a process-local set of named policies over one table, hashing keys
 * with the table's secret seed. Every process that shares a table makes its own limiter;
 * limiters with the same policy (same name, rate and burst) share every key's state, across
 * processes and across reloads. The rule decided is DESIGN.md's GCRA (see sluice/gcra.h).
 *
 * Conventions.
 *  - Functions return an int: SLUICE_OK (0) or more on success, a negative SLUICE_E* code on
 *    failure; sluice_strerror() names a code. There is no hidden "last error" state.
 *  - Configuration-time calls take `char *err, size_t errlen` (either may be NULL/0) and write
 *    a NUL-terminated message a user can act on, truncated to fit. Nothing is ever malloc'ed
 *    for the caller to free.
 *  - Option structs begin with `size_t size`: fill them with their *_init() function, passing
 *    sizeof the struct you compiled against, then set fields. A newer library reads only the
 *    fields an older caller knew about, and defaults the rest.
 *  - Value structs used in arrays (sluice_decision, sluice_request) are frozen for ABI 1.
 *  - Keys are pointer + length, any bytes (a NULL pointer is fine with length 0). Keys are
 *    hashed, never stored: their length costs nothing in the table.
 *  - Time is a parameter: `now_ns` is nanoseconds of one monotonic clock that every user of a
 *    table agrees on (sluice_now_ns() is CLOCK_MONOTONIC, the right one for shared tables on
 *    one machine). Values are clamped into [0, 2^62]. A `now` earlier than one already seen
 *    never admits more than a later one would (the rule is monotone in time); nothing fails.
 *  - Hot calls (sluice_check*, sluice_format_header, sluice_now_ns) are thread-safe,
 *    lock-free, never allocate, never block, never make a syscall beyond the vDSO clock read,
 *    and never fail on valid arguments. No C++ exception ever crosses this interface.
 *  - Pointers must be valid unless a function says NULL is accepted; a NULL handle or output
 *    pointer is answered with SLUICE_EINVAL rather than a crash wherever that costs nothing.
 */
#ifndef SLUICE_C_H_
#define SLUICE_C_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_API __attribute__((visibility("default")))
#else
#define SLUICE_API
#endif

#ifdef __cplusplus
#define SLUICE_NOEXCEPT noexcept
extern "C" {
#else
#define SLUICE_NOEXCEPT
#endif

/* ---- Versions ----------------------------------------------------------------------------- */

/* The release this header belongs to. SLUICE_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH. */
#define SLUICE_VERSION_MAJOR 0
#define SLUICE_VERSION_MINOR 1
#define SLUICE_VERSION_PATCH 0
#define SLUICE_VERSION_STRING "0.1.0"
#define SLUICE_VERSION_NUMBER \
  (SLUICE_VERSION_MAJOR * 10000 + SLUICE_VERSION_MINOR * 100 + SLUICE_VERSION_PATCH)
/* The ABI: the SONAME is libsluice.so.<SLUICE_ABI_VERSION>; symbols are versioned SLUICE_1.0. */
#define SLUICE_ABI_VERSION 1

/* The release of the library actually loaded (compare with SLUICE_VERSION_NUMBER: a program
 * built against 0.1.0 runs on any 0.1.x and later of ABI 1). Thread-safe, constant. */
SLUICE_API unsigned sluice_version_number(void) SLUICE_NOEXCEPT;
/* "0.1.0": a static string. Thread-safe, constant. */
SLUICE_API const char* sluice_version_string(void) SLUICE_NOEXCEPT;

/* ---- Errors ------------------------------------------------------------------------------- */

enum {
  SLUICE_OK = 0,
  SLUICE_EINVAL = -1,    /* a bad argument: NULL where a pointer is needed, a bad option */
  SLUICE_ENOMEM = -2,    /* memory could not be allocated or mapped */
  SLUICE_ELAYOUT = -3,   /* attach: not a sluice table, or another layout version or size */
  SLUICE_ESTALE = -4,    /* attach: the table was made under another boot (its clock is gone) */
  SLUICE_ERANGE = -5,    /* a value out of range, or an output buffer too small */
  SLUICE_ENOPOLICY = -6, /* no policy of that name or index in this limiter */
  SLUICE_EBUSY = -7,     /* attach: the table is still being formatted by its creator */
  SLUICE_ESYS = -8,      /* a system call failed (open, ftruncate, mmap): `err` says which */
  SLUICE_ENOTSUP = -9    /* not supported here: a CPU without 16-byte CAS, or a function not
                            implemented in this build (see its comment) */
};

/* A static English string for any code (unknown codes included). Thread-safe, no state. */
SLUICE_API const char* sluice_strerror(int code) SLUICE_NOEXCEPT;

/* ---- Decisions ---------------------------------------------------------------------------- */

/* The answer to one request. Frozen in ABI 1 (32 bytes). */
typedef struct sluice_decision {
  int32_t allowed; /* 1: admitted and its cost consumed; 0: denied, nothing consumed */
  int32_t flags;   /* SLUICE_DECISION_* bits */
  /* Requests of cost 1 that would be admitted right after this decision, in [0, burst]. */
  int64_t remaining;
  /* Denied: the exact wait in ns until the same request would be admitted; 0 when admitted;
   * -1 when it can never be admitted (cost above the burst; SLUICE_DECISION_NEVER is set). */
  int64_t retry_after_ns;
  /* ns until the full burst is available again (0 when it already is). */
  int64_t reset_after_ns;
} sluice_decision;

#define SLUICE_DECISION_NEVER 0x1 /* denied, and no wait would admit it (cost > burst) */

/* ---- Tables ------------------------------------------------------------------------------- */

typedef struct sluice_table sluice_table; /* opaque; a process-local handle onto table memory */

/* What a decision does when the key is new and its bucket of 4 slots holds 4 live keys. */
#define SLUICE_WHEN_FULL_EVICT 0 /* the live key closest to expiring loses its state (default) */
#define SLUICE_WHEN_FULL_DENY 1  /* the new key is denied until a slot expires */
#define SLUICE_WHEN_FULL_ALLOW 2 /* the new key is admitted without keeping state */

/* sluice_table_options.flags */
/* Use `seed` instead of 256 random bits (tests only: a known seed lets clients aim keys at
 * one bucket). */
#define SLUICE_TABLE_FIXED_SEED 0x1

typedef struct sluice_table_options {
  size_t size;       /* sizeof(sluice_table_options) as the caller knows it: set by _init */
  uint64_t capacity; /* keys held at once; rounded up to a power of two, at least 256.
                        0 (only for sluice_table_format): as many as fit in the memory */
  int32_t when_full; /* SLUICE_WHEN_FULL_*; default EVICT */
  uint32_t flags;    /* SLUICE_TABLE_* bits; default 0 */
  uint64_t seed[4];  /* with SLUICE_TABLE_FIXED_SEED only */
} sluice_table_options;

/* Zero-fills `size` bytes of *o, sets o->size = size and the defaults (capacity 2^20 keys,
 * evict). Pass sizeof(*o). Thread-safe. */
SLUICE_API void sluice_table_options_init(sluice_table_options* o, size_t size) SLUICE_NOEXCEPT;

/* Bytes of memory a shareable table of `capacity` keys needs (sluice_table_format's `bytes`):
 * a 4 KiB header plus 16 bytes per key after rounding `capacity` up. 0 when capacity is 0 or
 * above the maximum (2^34 keys). Thread-safe, pure. */
SLUICE_API size_t sluice_table_bytes(uint64_t capacity) SLUICE_NOEXCEPT;
/* The largest capacity whose table fits in `bytes` (the inverse of sluice_table_bytes); 0 when
 * not even the smallest table (256 keys, 8 KiB) fits. Thread-safe, pure. */
SLUICE_API uint64_t sluice_table_capacity_for_bytes(size_t bytes) SLUICE_NOEXCEPT;

/* A table in private memory of this process (mmap'ed and committed now; nothing is allocated
 * later). After fork() the child gets a copy-on-write *copy*, not a share: use
 * sluice_table_create_shared() for that. `o` NULL means the defaults.
 * Errors: EINVAL (bad options), ENOMEM, ENOTSUP (CPU without CMPXCHG16B). Thread-safe. */
SLUICE_API int sluice_table_create(const sluice_table_options* o, sluice_table** out, char* err,
                                   size_t errlen) SLUICE_NOEXCEPT;

/* A table in anonymous MAP_SHARED memory: make it before fork(), and the parent and every
 * child decide on the same slots through the same handle (still valid after fork, at the same
 * address). Each process calls sluice_table_close() on its own copy of the handle.
 * Errors as sluice_table_create. Thread-safe. */
SLUICE_API int sluice_table_create_shared(const sluice_table_options* o, sluice_table** out,
                                          char* err, size_t errlen) SLUICE_NOEXCEPT;

/* sluice_table_open_file() flags */
#define SLUICE_OPEN_CREATE 0x1 /* create and format the file when it does not exist */
#define SLUICE_OPEN_EXCL 0x2   /* with CREATE: fail (ESYS, EEXIST) when it exists */
/* A table from a previous boot is formatted afresh instead of refused with ESTALE. Only safe
 * when no other process has it mapped (e.g. at service start). */
#define SLUICE_OPEN_RESET_STALE 0x4

/* A table in a file that several processes map MAP_SHARED (put it on tmpfs: /dev/shm or
 * /run; on a disk-backed file every slot write is eventually written back). An existing file
 * is attached (as sluice_table_attach: its layout, size and boot id are checked and `o` is
 * ignored except for RESET_STALE); an absent one, with CREATE, is created with `mode` (masked
 * by umask), sized, and formatted from `o`. Two processes creating the same file at once are
 * safe: one formats, the other waits briefly for the INITIALISING flag to clear or gets EBUSY.
 * Errors: EINVAL, ESYS (open/ftruncate/mmap failed, with errno's text in `err`), ELAYOUT,
 * ESTALE, EBUSY, ENOMEM, ENOTSUP. Thread-safe. */
SLUICE_API int sluice_table_open_file(const char* path, int flags, unsigned mode,
                                      const sluice_table_options* o, sluice_table** out, char* err,
                                      size_t errlen) SLUICE_NOEXCEPT;

/* Formats a table into caller memory `mem` of `bytes` bytes (64-byte aligned at least; page
 * aligned is better), writing its header (magic, layout version, sizes, seed, counters, boot
 * id) and clearing every slot. The memory is the caller's: it must stay mapped until the last
 * handle on it is closed, and the library never unmaps it. Formatting memory other processes
 * are deciding on destroys their state: format once (nginx: in the zone's init when there is
 * no old zone), attach everywhere else. `o->capacity` 0 uses as much of `bytes` as fits.
 * Errors: EINVAL (NULL, misaligned, bad options), ERANGE (too small for the capacity: see
 * sluice_table_bytes), ENOTSUP. Not thread-safe with users of the same memory. */
SLUICE_API int sluice_table_format(void* mem, size_t bytes, const sluice_table_options* o,
                                   sluice_table** out, char* err, size_t errlen) SLUICE_NOEXCEPT;

/* Attaches to a table already formatted in `mem` (by this process or another, at this or any
 * other address: the memory holds offsets only). Checks the header before touching a slot.
 * Errors: EINVAL, ELAYOUT (bad magic, another layout version, header/slot size or a table
 * larger than `bytes`), ESTALE (formatted under another boot: CLOCK_MONOTONIC restarted),
 * EBUSY (still being formatted), ENOTSUP. Thread-safe. */
SLUICE_API int sluice_table_attach(void* mem, size_t bytes, sluice_table** out, char* err,
                                   size_t errlen) SLUICE_NOEXCEPT;

/* Releases this process's handle. Memory the library mapped is unmapped when the last limiter
 * made over the handle is destroyed too (limiters keep their table alive); caller memory is
 * never touched. Other processes' handles and every slot's state are unaffected. NULL is
 * accepted. Not thread-safe with other calls on the same handle. */
SLUICE_API void sluice_table_close(sluice_table* t) SLUICE_NOEXCEPT;

/* Counters of a table. In a shared table they are the sum over every process. */
typedef struct sluice_table_stats {
  size_t size;             /* set by the caller to sizeof(sluice_table_stats) */
  uint64_t capacity;       /* keys (slots) */
  uint64_t memory_bytes;   /* the 4 KiB header plus 16 bytes per key: sluice_table_bytes() */
  int64_t occupied;        /* slots holding a key, live or expired (approximate in flight) */
  uint64_t installs;       /* keys installed */
  uint64_t reused_expired; /* installs into a slot whose TAT had passed (lossless) */
  uint64_t evictions;      /* live keys that lost their state (when_full = evict) */
  uint64_t full_denied;    /* requests denied because their bucket was full */
  uint64_t full_allowed;   /* requests admitted without state (when_full = allow) */
  uint64_t stale_pending;  /* half-done installs of a dead or stalled process reclaimed */
  uint32_t shared;         /* 1: the table lives in memory other processes can map */
  int32_t when_full;       /* SLUICE_WHEN_FULL_* */
} sluice_table_stats;

/* Fills *out with the current counters (relaxed reads: each exact, not a snapshot together).
 * `size` is sizeof(*out) as the caller knows it; out->size is set to the bytes written.
 * Errors: EINVAL. Thread-safe, lock-free, no allocation. */
SLUICE_API int sluice_table_get_stats(const sluice_table* t, sluice_table_stats* out,
                                      size_t size) SLUICE_NOEXCEPT;

/* Keys whose state is live at `now_ns` (TAT > now). Walks every slot: for metrics endpoints,
 * not for hot paths. Errors: EINVAL. Thread-safe, lock-free. */
SLUICE_API int sluice_table_count_live(const sluice_table* t, int64_t now_ns,
                                       uint64_t* live) SLUICE_NOEXCEPT;

/* ---- Policies and limiters ---------------------------------------------------------------- */

typedef struct sluice_limiter sluice_limiter; /* opaque, process-local */

/* A GCRA policy: `count` requests per `period_ns`, `burst` at once for a fresh key. */
typedef struct sluice_policy {
  size_t size;       /* sizeof(sluice_policy) as the caller knows it: set by _init */
  const char* name;  /* NUL-terminated, 1..255 printable ASCII bytes; copied */
  uint64_t count;    /* > 0 */
  int64_t period_ns; /* > 0; count/period at most 10^9 per second */
  uint64_t burst;    /* >= 1; default 1; burst * (period/count) at most 2^61 ns */
  /* NULL (default): the policy's keys are its own, a key space made of name, rate and burst.
   * Otherwise (NUL-terminated, 1..255 printable ASCII bytes; copied) the key space is made of
   * this and the rate only: policies naming the same key_space with the same rate share every
   * key's state whatever their bursts, in any limiter over the table, each applying its own
   * burst when it decides (nginx: one limit_req_zone under several `burst=`). A reload that
   * changes only the burst then keeps the state. */
  const char* key_space;
} sluice_policy;

/* Zero-fills `size` bytes of *p, sets p->size = size and burst = 1. Pass sizeof(*p). */
SLUICE_API void sluice_policy_init(sluice_policy* p, size_t size) SLUICE_NOEXCEPT;

/* Parses a rate "N/s", "N/m", "N/h" or "N/d" (`len` bytes of `text`, no NUL needed) into
 * count and period. Errors: EINVAL (the message says what was expected). Thread-safe. */
SLUICE_API int sluice_rate_parse(const char* text, size_t len, uint64_t* count, int64_t* period_ns,
                                 char* err, size_t errlen) SLUICE_NOEXCEPT;

/* A limiter deciding `n` policies (an array of sluice_policy, every element made by the same
 * sluice_policy_init size) over table `t`. Policy i gets index i (see sluice_limiter_find).
 * A policy's key space is a function of its name, rate and burst only, so every process and
 * every reload that defines the same policy shares its keys' state; a changed rate or burst
 * starts afresh. The limiter keeps the table alive (the caller may close `t` afterwards).
 * Errors: EINVAL (no policies, a duplicate name, zero count/period/burst, too fast a rate;
 * `err` names the policy and field), ENOMEM. Thread-safe. */
SLUICE_API int sluice_limiter_create(sluice_table* t, const sluice_policy* policies, size_t n,
                                     sluice_limiter** out, char* err,
                                     size_t errlen) SLUICE_NOEXCEPT;

/* Frees a limiter (NULL accepted) and drops its reference on the table. Not thread-safe with
 * checks on the same limiter. */
SLUICE_API void sluice_limiter_destroy(sluice_limiter* l) SLUICE_NOEXCEPT;

/* The index of the policy named `name` (`len` bytes) into *index. Errors: EINVAL,
 * ENOPOLICY. Thread-safe, no allocation. */
SLUICE_API int sluice_limiter_find(const sluice_limiter* l, const char* name, size_t len,
                                   uint32_t* index) SLUICE_NOEXCEPT;

/* Number of policies (0 for NULL). Thread-safe. */
SLUICE_API uint32_t sluice_limiter_policy_count(const sluice_limiter* l) SLUICE_NOEXCEPT;

/* ---- Checks (the hot path) ---------------------------------------------------------------- */

/* Decides one request of `cost` for `key` under policy `policy` at `now_ns`, writing *out.
 * cost 0 asks without consuming. Returns 1 when admitted, 0 when denied, or EINVAL /
 * ENOPOLICY (bad index; *out untouched). Thread-safe across threads and processes sharing the
 * table; lock-free, at most one CAS when uncontended, no allocation, no syscall. */
SLUICE_API int sluice_check(sluice_limiter* l, uint32_t policy, const void* key, size_t key_len,
                            int64_t now_ns, uint64_t cost, sluice_decision* out) SLUICE_NOEXCEPT;

/* One request of a batch or of a multi-policy check. Frozen in ABI 1 (32 bytes). */
typedef struct sluice_request {
  uint32_t policy; /* index in the limiter */
  uint32_t flags;  /* SLUICE_REQUEST_* bits */
  const void* key; /* key bytes (NULL with key_len 0 is the empty key) */
  size_t key_len;
  uint64_t cost; /* usually 1; 0 asks without consuming */
} sluice_request;

/* sluice_check_all: decided and consuming like any other check, but its denial does not deny
 * the request (a dry run). Ignored by sluice_check_batch. */
#define SLUICE_REQUEST_SHADOW 0x1

/* Decides `n` independent requests in order at one `now_ns`, out[i] for requests[i] (`out`
 * holds n decisions). Hashes and prefetches buckets ahead, so a batch over a large table runs
 * near memory bandwidth, and a binding pays its call overhead once per batch. Returns the
 * number admitted (0..n), or EINVAL (n above INT32_MAX, NULL arrays) / ENOPOLICY before
 * deciding anything (every index is checked first). Thread-safe, lock-free, no allocation. */
SLUICE_API int sluice_check_batch(sluice_limiter* l, const sluice_request* requests, size_t n,
                                  int64_t now_ns, sluice_decision* out) SLUICE_NOEXCEPT;

/* A batch under one policy with the keys packed in one buffer: key i is the next
 * key_lens[i] bytes of `keys` (for bindings: Python joins its keys into one bytes object).
 * Returns the number admitted, or EINVAL / ENOPOLICY. Same guarantees as sluice_check_batch. */
SLUICE_API int sluice_check_packed(sluice_limiter* l, uint32_t policy, const void* keys,
                                   const uint32_t* key_lens, size_t n, int64_t now_ns,
                                   uint64_t cost, sluice_decision* out) SLUICE_NOEXCEPT;

/* A packed batch described once, for bindings that pay for every argument of a call: Python's
 * cffi (ABI mode) converts each argument through libffi, so a call of sluice_check_packed's 8
 * costs ~225 ns and one of sluice_batch_check's 2 ~105 ns (PERF.md: 3.5 against 1.6 ns per
 * decision in batches of 64). A binding fills one sluice_batch with its own reusable buffers (the
 * key bytes, the lengths, the decisions), then per batch rewrites the buffers in place, sets `n`,
 * and calls sluice_batch_check(b, now_ns). Begins with its size like the option structs: fill it
 * with sluice_batch_init(), passing sizeof the struct you compiled against, then set the fields. A
 * later release may append fields (read only when `size` covers them); the ones below keep their
 * place in ABI 1. */
typedef struct sluice_batch {
  size_t size;              /* sizeof(sluice_batch) as the caller knows it: set by _init */
  sluice_limiter* limiter;  /* the limiter deciding the batch */
  uint32_t policy;          /* index in the limiter */
  uint32_t flags;           /* SLUICE_BATCH_* bits; default 0; unknown bits are EINVAL */
  uint64_t cost;            /* each key's cost; default 1; 0 asks without consuming */
  const void* keys;         /* packed keys: key i is the next key_lens[i] bytes */
  const uint32_t* key_lens; /* n lengths */
  size_t n;                 /* keys in this batch, at most INT32_MAX; default 0 */
  sluice_decision* out;     /* n decisions, or NULL: not written */
  uint8_t* allowed;         /* n bytes, 1 admitted / 0 denied, or NULL: not written */
} sluice_batch;

/* sluice_batch.flags: sluice_batch_check ignores its `now_ns` and reads sluice_now_ns()
 * (CLOCK_MONOTONIC) itself, once per batch: a binding then needs no clock read of its own. */
#define SLUICE_BATCH_CLOCK 0x1

/* Zero-fills `size` bytes of *b, sets b->size = size and cost = 1. Pass sizeof(*b). */
SLUICE_API void sluice_batch_init(sluice_batch* b, size_t size) SLUICE_NOEXCEPT;

/* Decides the batch *b describes at `now_ns` (with SLUICE_BATCH_CLOCK: at sluice_now_ns()):
 * what sluice_check_packed(b->limiter, b->policy,
 * b->keys, b->key_lens, b->n, now_ns, b->cost, b->out) decides, writing b->out[i] and
 * b->allowed[i] for each key where they are not NULL. *b is only read, but its out/allowed
 * buffers are written: one descriptor per thread. Returns the number admitted (0..n), or EINVAL
 * (b or b->limiter NULL, b->size below ABI 1's struct, an unknown flag, n above INT32_MAX,
 * key_lens NULL with n > 0, keys NULL with a nonzero length) / ENOPOLICY before deciding
 * anything. Same guarantees as sluice_check_batch. */
SLUICE_API int sluice_batch_check(const sluice_batch* b, int64_t now_ns) SLUICE_NOEXCEPT;

/* What sluice_check_all decided for the request as a whole. */
typedef struct sluice_multi_decision {
  int32_t allowed; /* 1: every enforcing check admitted */
  uint32_t reserved;
  /* The check a response should report: the denying one, else the one with the fewest
   * remaining (ties: the longest reset). SLUICE_NONE when n is 0. */
  size_t reported;
  /* Checks decided, in order: those after an enforcing denial are not decided at all. */
  size_t decided;
} sluice_multi_decision;

#define SLUICE_NONE ((size_t)-1)

/* One request against several policies (e.g. per-IP and per-route), decided together: if an
 * enforcing check denies, what the earlier checks admitted is given back (the request consumes
 * nothing anywhere) and the later checks are not decided. out[i] receives checks[i]'s decision
 * for i < result->decided. Returns 1 admitted / 0 denied (as result->allowed), or EINVAL /
 * ENOPOLICY before deciding anything. A refund is exact unless the key was evicted meanwhile.
 * Thread-safe, lock-free, no allocation. */
SLUICE_API int sluice_check_all(sluice_limiter* l, const sluice_request* checks, size_t n,
                                int64_t now_ns, sluice_decision* out,
                                sluice_multi_decision* result) SLUICE_NOEXCEPT;

/* One check of a cross-limiter multi-check (sluice_check_multi): a request against a policy
 * of any limiter, over any table. Frozen in ABI 1 (40 bytes). */
typedef struct sluice_limit_check {
  sluice_limiter* limiter;
  uint32_t policy; /* index in that limiter */
  uint32_t flags;  /* SLUICE_REQUEST_SHADOW */
  const void* key; /* key bytes (NULL with key_len 0 is the empty key) */
  size_t key_len;
  uint64_t cost; /* usually 1; 0 asks without consuming */
} sluice_limit_check;

/* sluice_check_all across limiters, and so across tables (several nginx zones, a per-IP
 * table and a per-route one): the checks are decided in order at `now_ns`; when an enforcing
 * check denies, every admission the earlier checks made is refunded (sluice_refund at the
 * same `now_ns`, so the request consumes nothing anywhere) and later checks are not decided.
 * Unlike one CAS, the checks are not one atomic step: a request decided concurrently on an
 * earlier check's key may see the admission until it is refunded (and may be denied because
 * of it); what the refund leaves is exactly the state without the admission when every such
 * request used a time at most the key's TAT before it (always true of a key already carrying
 * state, and with one shared `now`), and never less than it (over-admitting by at most
 * (t - now_ns) / T of a request, where t is a racing request's later clock reading).
 * out[i] receives checks[i]'s decision for i < result->decided; result as sluice_check_all.
 * Returns 1 admitted / 0 denied, or EINVAL (NULL arrays or limiter, n above INT32_MAX) /
 * ENOPOLICY before deciding anything. Thread-safe, lock-free, no allocation. */
SLUICE_API int sluice_check_multi(const sluice_limit_check* checks, size_t n, int64_t now_ns,
                                  sluice_decision* out,
                                  sluice_multi_decision* result) SLUICE_NOEXCEPT;

/* Gives back an admission: `admitted` is the decision sluice_check (or a batch) returned for
 * `key` and `cost` under `policy` at `decided_ns`; `now_ns` is the time of the refund (pass
 * `decided_ns` to refund right away). Moves the key's TAT back by
 * min(cost * T, max(0, decided_ns + admitted->reset_after_ns - now_ns)) with one CAS: what
 * has expired since the admission is not given back, and the state never ends below what it
 * would be had the admission not happened, provided every request decided on the key in
 * between used a time <= now_ns (the details are in engine/src/table_refund.cc). A denied
 * decision, cost 0 and a key no longer held are no-ops. For callers that learn late that a
 * request should not count (the upstream failed, the client went away). Returns SLUICE_OK, or
 * EINVAL / ENOPOLICY. Thread-safe, lock-free, no allocation. */
SLUICE_API int sluice_refund(sluice_limiter* l, uint32_t policy, const void* key, size_t key_len,
                             uint64_t cost, const sluice_decision* admitted, int64_t decided_ns,
                             int64_t now_ns) SLUICE_NOEXCEPT;

/* CLOCK_MONOTONIC in ns (a vDSO read, no syscall on Linux x86-64). Thread-safe. */
SLUICE_API int64_t sluice_now_ns(void) SLUICE_NOEXCEPT;

/* ---- HTTP header values (IETF httpapi RateLimit draft; DESIGN.md "sluiced") ---------------- */

/* Which header sluice_format_header() writes:
 *   Retry-After       ceil(retry_after / 1 s), at least 1 (denials only)
 *   RateLimit-Policy  "name";q=<burst>;w=<ceil(burst * T / 1 s)>
 *   RateLimit         "name";r=<remaining>;t=<ceil(reset_after / 1 s)> */
#define SLUICE_HEADER_RETRY_AFTER 1
#define SLUICE_HEADER_RATELIMIT_POLICY 2
#define SLUICE_HEADER_RATELIMIT 3

/* A buffer this long holds any header value of a policy whose name is `name_len` bytes. */
#define SLUICE_HEADER_VALUE_MAX(name_len) ((name_len)*2 + 64)

/* Writes the value (no name, no CRLF) of header `which` for decision `d` of policy `policy`
 * into buf, NUL-terminated, and returns its length (without the NUL). Returns 0 and writes ""
 * when the header does not apply: Retry-After of an admitted request, or of one that can never
 * be admitted (a 429 without Retry-After, as DESIGN.md says). The name is a structured-field
 * string (backslash before '"' and '\'). Errors: EINVAL (bad `which` or NULL), ENOPOLICY,
 * ERANGE (len too small; see SLUICE_HEADER_VALUE_MAX). Thread-safe, no allocation. */
SLUICE_API int sluice_format_header(const sluice_limiter* l, uint32_t policy,
                                    const sluice_decision* d, int which, char* buf,
                                    size_t len) SLUICE_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SLUICE_C_H_ */
