// Batches through the C ABI: sluice_check_batch (an array of requests), sluice_check_packed
// (one policy, the keys in one buffer) and sluice_batch_check (the packed batch described by a
// reusable sluice_batch, for bindings that pay for every argument of a call).
#include <time.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "c_api/handles.h"
#include "internal/table_path.h"

namespace sluice::c_api {
namespace {

// Batches decide through the engine's inline path (internal/table_path.h, as
// Limiter::CheckBatch does): hash -> bucket -> decision in this loop, without a call into
// StateTable::Check and StateTable::Prefetch per key. The slow path stays out of line.
using internal::TablePath;

// A rolling window as Limiter::CheckBatch's: while request i is decided, the bucket of
// request i + kAhead is being fetched, so cache misses overlap.
constexpr std::size_t kAhead = 16;

constexpr std::size_t kMaxBatch =
    static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());

inline void PrefetchBucket(const StateTable& table, std::uint64_t hash) noexcept {
  __builtin_prefetch(&TablePath::BucketFor(table, hash), /*rw=*/1, /*locality=*/3);
}

// The arguments of sluice_check_packed and sluice_batch_check, checked before anything is
// decided: SLUICE_OK or the error to return.
[[nodiscard]] inline int CheckPacked(const sluice_limiter* l, std::uint32_t policy,
                                     const void* keys, const std::uint32_t* key_lens,
                                     std::size_t n) noexcept {
  if (l == nullptr || (n != 0 && key_lens == nullptr) || n > kMaxBatch) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (policy >= l->policy_count) [[unlikely]] {
    return SLUICE_ENOPOLICY;
  }
  if (keys == nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      if (key_lens[i] != 0) return SLUICE_EINVAL;
    }
  }
  return SLUICE_OK;
}

// Hashes key i of a packed batch, which starts at `offset`, and moves `offset` past it.
// Always inlined into both loops of DecidePacked (as a lambda, GCC kept it out of line: a
// call per key; a function attribute is what both GCC and Clang accept).
[[gnu::always_inline]] inline std::uint64_t HashNext(const sluice::Limiter& lim, PolicyId policy,
                                                     const char* bytes,
                                                     const std::uint32_t* key_lens, std::size_t i,
                                                     std::size_t& offset) noexcept {
  const std::uint64_t h = lim.HashKey(policy, std::string_view(bytes + offset, key_lens[i]));
  offset += key_lens[i];
  return h;
}

// Decides a packed batch whose arguments CheckPacked accepted. `out` and `allowed` may each
// be NULL (not written). Returns the number admitted.
int DecidePacked(sluice_limiter* l, std::uint32_t policy, const void* keys,
                 const std::uint32_t* key_lens, std::size_t n, std::int64_t now_ns,
                 std::uint64_t cost, sluice_decision* out, std::uint8_t* allowed) noexcept {
  sluice::Limiter& lim = *l->limiter;
  sluice::StateTable& table = lim.table();
  const sluice::GcraParams& params = lim.policy(PolicyId{policy}).params();
  const char* const bytes = static_cast<const char*>(keys);
  std::uint64_t hashes[kAhead];
  std::size_t ahead_offset = 0;  // where the key of the next request to hash starts
  const std::int64_t now = sluice::ClampTime(now_ns);
  for (std::size_t i = 0; i < std::min(kAhead, n); ++i) {
    hashes[i] = HashNext(lim, PolicyId{policy}, bytes, key_lens, i, ahead_offset);
    PrefetchBucket(table, hashes[i]);
  }
  int admitted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t hash = hashes[i % kAhead];
    if (i + kAhead < n) {
      hashes[i % kAhead] =
          HashNext(lim, PolicyId{policy}, bytes, key_lens, i + kAhead, ahead_offset);
      PrefetchBucket(table, hashes[i % kAhead]);
    }
    const sluice::Decision d = TablePath::Check(table, hash, params, now, cost);
    if (out != nullptr) out[i] = ToC(d);
    if (allowed != nullptr) allowed[i] = d.allowed ? 1 : 0;
    admitted += d.allowed ? 1 : 0;
  }
  return admitted;
}

// The bytes of ABI 1's sluice_batch: a caller's struct must cover them. Fields a later
// release appends are read only when the caller's `size` covers them too.
constexpr std::size_t kBatchSizeV1 = offsetof(sluice_batch, allowed) + sizeof(std::uint8_t*);
static_assert(kBatchSizeV1 == sizeof(sluice_batch), "ABI 1's sluice_batch is the whole struct");
constexpr std::uint32_t kBatchFlags = SLUICE_BATCH_CLOCK;  // every flag this library knows

// sluice_now_ns() without the call through the PLT (an exported symbol may be interposed).
inline std::int64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int CheckRequests(const sluice_limiter* l, const sluice_request* r, std::size_t n,
                  const sluice_decision* out) noexcept {
  if (l == nullptr || (n != 0 && (r == nullptr || out == nullptr))) return SLUICE_EINVAL;
  if (n > kMaxBatch) return SLUICE_EINVAL;
  for (std::size_t i = 0; i < n; ++i) {
    if (r[i].key == nullptr && r[i].key_len != 0) return SLUICE_EINVAL;
    if (r[i].policy >= l->policy_count) return SLUICE_ENOPOLICY;
  }
  return SLUICE_OK;
}

}  // namespace sluice::c_api

using namespace sluice::c_api;  // NOLINT(google-build-using-namespace): this file's own helpers
using sluice::PolicyId;

extern "C" {

int sluice_check_batch(sluice_limiter* l, const sluice_request* requests, size_t n, int64_t now_ns,
                       sluice_decision* out) noexcept {
  if (const int rc = CheckRequests(l, requests, n, out); rc != 0) [[unlikely]] {
    return rc;
  }
  sluice::Limiter& lim = *l->limiter;
  sluice::StateTable& table = lim.table();
  std::uint64_t hashes[kAhead];
  const auto hash_of = [&](std::size_t i) noexcept {
    return lim.HashKey(PolicyId{requests[i].policy}, KeyOf(requests[i].key, requests[i].key_len));
  };
  const std::int64_t now = sluice::ClampTime(now_ns);
  for (std::size_t i = 0; i < std::min(kAhead, n); ++i) {
    hashes[i] = hash_of(i);
    PrefetchBucket(table, hashes[i]);
  }
  int admitted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t hash = hashes[i % kAhead];
    if (i + kAhead < n) {
      hashes[i % kAhead] = hash_of(i + kAhead);
      PrefetchBucket(table, hashes[i % kAhead]);
    }
    const sluice::Decision d = TablePath::Check(
        table, hash, lim.policy(PolicyId{requests[i].policy}).params(), now, requests[i].cost);
    out[i] = ToC(d);
    admitted += d.allowed ? 1 : 0;
  }
  return admitted;
}

int sluice_check_packed(sluice_limiter* l, uint32_t policy, const void* keys,
                        const uint32_t* key_lens, size_t n, int64_t now_ns, uint64_t cost,
                        sluice_decision* out) noexcept {
  if (n != 0 && out == nullptr) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (const int rc = CheckPacked(l, policy, keys, key_lens, n); rc != 0) [[unlikely]] {
    return rc;
  }
  return DecidePacked(l, policy, keys, key_lens, n, now_ns, cost, out, nullptr);
}

void sluice_batch_init(sluice_batch* b, size_t size) noexcept {
  if (b == nullptr || size < sizeof(b->size)) return;
  std::memset(static_cast<void*>(b), 0, size);
  sluice_batch defaults;
  std::memset(&defaults, 0, sizeof defaults);
  defaults.size = size;
  defaults.cost = 1;
  std::memcpy(static_cast<void*>(b), &defaults, std::min(size, sizeof defaults));
}

int sluice_batch_check(const sluice_batch* b, int64_t now_ns) noexcept {
  if (b == nullptr || b->size < kBatchSizeV1 || (b->flags & ~kBatchFlags) != 0) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (const int rc = CheckPacked(b->limiter, b->policy, b->keys, b->key_lens, b->n); rc != 0)
      [[unlikely]] {
    return rc;
  }
  if ((b->flags & SLUICE_BATCH_CLOCK) != 0) now_ns = MonotonicNs();
  return DecidePacked(b->limiter, b->policy, b->keys, b->key_lens, b->n, now_ns, b->cost, b->out,
                      b->allowed);
}

}  // extern "C"
