// The state table: fixed memory holding one GCRA TAT per key, decided with one CAS.
//
// IMPLEMENTATION DETAILS
//
// Slot, 16 bytes, 16-byte aligned, read and written as one 128-bit word by CAS:
//
//   struct Slot {
//     uint64 tag;   // 0: empty.  bit 63 set: PENDING install, `tat` holds a nonce.
//                   // otherwise: a committed key whose identity is `tag` (see below).
//     int64  tat;   // committed: the key's theoretical arrival time, ns.
//   };
//
// Bucket: 4 slots = 64 bytes, aligned to kCacheLine. A decision touches exactly one bucket.
// The table is 2^k buckets (k >= 6), so capacity rounds up to a power of two >= 256 keys and
// memory is exactly 16 bytes per key of capacity.
//
// Hash split: h = KeyHasher::Hash(space, key), 64 bits.
//   bucket = h & (buckets - 1)          (low k bits)
//   tag    = h >> 1, or 1 if that is 0  (high 63 bits; bit 63 stays clear for PENDING)
// Since k >= 1, bucket and tag together carry all 64 bits of h: two keys share state only when
// their full 64-bit hashes are equal (or both are 0/1, one more 2^-64 case).
//
// Decision for a key already present (the steady state): read the four slots, find the
// committed one with our tag, compute GcraStep() from the (tag, tat) we read, and for an
// admission CAS the 128-bit slot from what we read to (tag, new tat). A failed CAS hands back
// the current value: recompute and retry; the loop has no side effects before its CAS wins.
// Reads are single 16-byte atomic loads where the CPU guarantees them (x86-64 with AVX: a real
// snapshot), so a denial is decided by that load alone and writes nothing: a key hammered far
// over its limit costs its cores shared cache-line reads, not a line bouncing between them.
// Elsewhere reads are two relaxed 64-bit halves that may be torn, and a denial CASes the slot
// to itself to prove the state it was computed from was real.
// At most one CAS per decision when uncontended, none for a denial.
//
// New keys. Two threads can meet the same absent key at once and pick different free slots;
// two committed copies of a key would each grant a full burst. Installing therefore takes two
// steps, each one CAS:
//   1. claim a victim slot as PENDING(tag, nonce): nonce is unique per thread and install, so a
//      slot killed and re-claimed never looks unchanged to a late CAS (no ABA).
//   2. rescan the bucket. A committed copy of our key wins: clear our PENDING and use it.
//      Otherwise KILL (CAS to empty) every other PENDING of our key we see, then COMMIT the
//      lowest-indexed one left (ours or another thread's) with our admitted request. Any failed
//      CAS restarts from the scan.
// At most one committed copy can exist: a committer scans after its own PENDING is visible,
// and of two racing committers the later scan sees the other's PENDING (and kills it, failing
// that commit) or its commit (and uses it). Anyone of our key may commit any of our PENDINGs,
// so a preempted installer blocks nobody: the protocol is lock-free.
//
// Victims, in order: an empty slot; a committed slot whose TAT <= now (it carries no
// information: a key with TAT <= now behaves exactly like a fresh one, so reuse loses nothing);
// then, when all four hold live keys, `when_full` decides: kEvict takes another key's PENDING or
// the live slot with the smallest TAT (that key forgets its state), kDeny answers "denied" with
// the wait until the first slot of the bucket expires, kAllow admits without keeping state.
// Every such event is counted.
//
// Time across threads: a slot may be reused by a thread whose `now` has passed its TAT while
// another thread, with a slightly earlier `now`, still considers it live; that second thread
// then sees the key as fresh. The over-admission this allows is bounded by the clock skew
// between the two threads divided by T (zero when threads share one time source).
//
// Overflow bounds: see gcra.h. TATs are < 2^62 + 2^61, so bit 63 of `tat` is never needed.
//
// Memory orders: slots are read with relaxed loads (16-byte atomic, or two 8-byte halves); no
// other memory is published through a slot, so nothing needs acquire: a slot's value is the
// whole message. A torn read is only ever a hint for the CAS that follows it. The 128-bit CAS is a
// __sync builtin, a full barrier (on x86-64 a LOCK CMPXCHG16B). Counters are relaxed: they are
// statistics, read without ordering.
#ifndef SLUICE_STATE_TABLE_H_
#define SLUICE_STATE_TABLE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/cacheline.h"
#include "sluice/decision.h"
#include "sluice/gcra.h"

namespace sluice {

namespace internal {
struct StateTableTestPeer;
struct TablePath;
}  // namespace internal

enum class WhenFull : std::uint8_t { kEvict, kDeny, kAllow };

// Parses "evict" | "deny" | "allow".
absl::StatusOr<WhenFull> ParseWhenFull(std::string_view text);
std::string_view ToString(WhenFull w) noexcept;

struct TableStats {
  std::uint64_t capacity = 0;        // keys (slots)
  std::uint64_t memory_bytes = 0;    // the slot array, fixed at construction
  std::int64_t occupied = 0;         // slots holding a key, live or expired (approximate while
                                     // installs are in flight)
  std::uint64_t installs = 0;        // keys installed
  std::uint64_t reused_expired = 0;  // installs into a slot whose TAT had passed (lossless)
  std::uint64_t evictions = 0;       // live keys that lost their state (when_full: evict)
  std::uint64_t full_denied = 0;     // requests denied because the bucket was full
  std::uint64_t full_allowed = 0;    // requests admitted without state (when_full: allow)
};

class StateTable {
 public:
  static constexpr std::size_t kSlotsPerBucket = 4;
  static constexpr std::size_t kMinBuckets = 64;

  // `capacity` keys, rounded up (see above). Allocates the whole table now; never again.
  // Error when capacity is 0 or above 2^34 keys (256 GiB).
  static absl::StatusOr<std::unique_ptr<StateTable>> Create(std::size_t capacity,
                                                            WhenFull when_full);
  ~StateTable();
  StateTable(const StateTable&) = delete;
  StateTable& operator=(const StateTable&) = delete;

  // Decides a request of `cost` for the key whose hash is `hash` under `params`, at `now`
  // (clamped to [0, kMaxTime]). Thread-safe, lock-free, no allocation, no syscall.
  // Time going backwards never admits more (see gcra.h).
  [[nodiscard]] Decision Check(std::uint64_t hash, const GcraParams& params,
                               std::chrono::nanoseconds now, std::uint64_t cost) noexcept;

  // Gives back `cost` previously admitted for this key (multi-policy checks use it when a
  // later policy denies): TAT -= cost*T. Exact unless the key was evicted in between (then
  // there is nothing to give back). Thread-safe, lock-free.
  void Refund(std::uint64_t hash, const GcraParams& params, std::uint64_t cost) noexcept;

  // Starts loading the bucket of `hash` for writing. No effect on state.
  void Prefetch(std::uint64_t hash) const noexcept;

  // Counters, readable at any time without locks (relaxed loads).
  [[nodiscard]] TableStats Stats() const noexcept;

  // Committed keys whose TAT > now. Walks the whole table: for metrics, not for hot paths.
  [[nodiscard]] std::uint64_t CountLive(std::chrono::nanoseconds now) const noexcept;

  [[nodiscard]] std::size_t capacity() const noexcept { return bucket_count_ * kSlotsPerBucket; }
  [[nodiscard]] WhenFull when_full() const noexcept { return when_full_; }

  struct Bucket;  // defined in state_table.cc

 private:
  friend struct internal::StateTableTestPeer;
  friend struct internal::TablePath;  // the inline fast path (internal/table_path.h)

  struct alignas(kCacheLine) CounterStripe {
    std::atomic<std::uint64_t> installs{0};
    std::atomic<std::uint64_t> reused_expired{0};
    std::atomic<std::uint64_t> evictions{0};
    std::atomic<std::uint64_t> full_denied{0};
    std::atomic<std::uint64_t> full_allowed{0};
    std::atomic<std::int64_t> occupied{0};
  };
  static constexpr std::size_t kStripes = 16;

  StateTable(Bucket* buckets, std::size_t bucket_count, WhenFull when_full) noexcept;
  // Everything but the fast path of internal/table_path.h: the whole decision loop, installs
  // included. `now` is already clamped. Out of line on purpose.
  [[gnu::noinline]] Decision CheckSlow(std::uint64_t hash, const GcraParams& params,
                                       std::int64_t now, std::uint64_t cost) noexcept;
  CounterStripe& StripeFor(std::uint64_t hash) noexcept;
  // One pass of the install protocol; nullopt means "scan again".
  std::optional<Decision> TryInstall(Bucket& bucket, std::uint64_t tag, std::uint64_t hash,
                                     const GcraParams& params, std::int64_t now,
                                     std::uint64_t cost) noexcept;

  Bucket* buckets_;
  std::size_t bucket_count_;
  std::uint64_t bucket_mask_;
  WhenFull when_full_;
  bool atomic_loads_;  // internal::HasAtomic16ByteLoads(), asked once
  CounterStripe stripes_[kStripes];
};

}  // namespace sluice

#endif  // SLUICE_STATE_TABLE_H_
