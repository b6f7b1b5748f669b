// A lock-free, fixed-memory table of one 64-bit state word per key, for the lab algorithms
// whose state fits in 64 bits (token-bucket, leaky-bucket, fixed-window). It is the engine's
// state table (state_table.h) with the GCRA rule replaced by the algorithm's own step: the same
// buckets, hash split, install protocol and eviction order. Include it only from translation
// units built with -mcx16 (engine/src/): it inlines the 128-bit CAS.
//
// IMPLEMENTATION DETAILS
//
// Slot, 16 bytes, 16-byte aligned, read and written as one 128-bit word by CAS:
//
//   struct Slot {
//     uint64 tag;    // 0: empty.  bit 63 set: PENDING install, `word` holds a nonce.
//                    // otherwise: a committed key whose identity is `tag`.
//     uint64 word;   // committed: the algorithm's state, opaque here.
//   };
//
// Bucket: 4 slots = 64 bytes, aligned to kCacheLine; a decision touches one bucket. 2^k
// buckets (k >= 6): capacity rounds up to a power of two >= 256 keys, 16 bytes per key.
// Hash split as in the state table: bucket = low k bits, tag = h >> 1 (or 1), so two keys share
// state only when their full 64-bit hashes are equal.
//
// A key present: run the algorithm's pure step on its word and CAS the slot from what was read
// when it writes; a failed CAS hands back the current value and the step runs again. Where
// 16-byte loads are atomic (x86-64 with AVX) a decision that writes nothing is decided by the
// load alone; elsewhere the halves may be torn and such a decision CASes the slot to itself.
// A key absent: a step that writes nothing (a denial) needs no slot; otherwise the state
// table's two-step install (PENDING with a per-thread nonce, rescan, kill rival PENDINGs of
// the key, commit the lowest), so at most one committed copy of a key ever exists.
// Victims, in order: an empty slot; a slot whose state has expired (the algorithm's
// `expires(word) <= now`: the state carries no information); another key's PENDING; the live
// slot that expires first, whose key then forgets its state (counted in displaced()).
//
// Memory orders: relaxed loads: no other memory is published through a slot, its value is the
// whole message. The CAS is a __sync builtin, a full barrier. Counters are relaxed statistics.
#ifndef SLUICE_ALGORITHMS_SLOT_TABLE_H_
#define SLUICE_ALGORITHMS_SLOT_TABLE_H_

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "internal/atomic_slot.h"
#include "sluice/cacheline.h"
#include "sluice/decision.h"

namespace sluice::algorithms {

class SlotTable {
 public:
  static constexpr std::size_t kSlotsPerBucket = 4;
  static constexpr std::size_t kMinBuckets = 64;
  static constexpr std::size_t kMaxSlots = std::size_t{1} << 34;

  static absl::StatusOr<std::unique_ptr<SlotTable>> Create(std::size_t capacity) {
    if (capacity == 0 || capacity > kMaxSlots) {
      return absl::InvalidArgumentError("table capacity must be between 1 and 2^34 keys");
    }
    const std::size_t buckets =
        std::max(kMinBuckets, std::bit_ceil((capacity + kSlotsPerBucket - 1) / kSlotsPerBucket));
    return std::unique_ptr<SlotTable>(new SlotTable(buckets));
  }

  // Decides for the key whose hash is `hash` at `now`: `step(found, word)` (pure, noexcept;
  // word is 0 when the key has no slot) and `expires(word)` (the time from which a committed
  // word carries no information). Thread-safe, lock-free, no allocation.
  template <class Step, class Expires>
  Decision Update(std::uint64_t hash, std::int64_t now, Step step, Expires expires) noexcept {
    const std::uint64_t tag = TagFor(hash);
    Bucket& bucket = buckets_[hash & mask_];
    for (;;) {
      std::size_t i = 0;
      internal::U128 seen = 0;
      for (; i < kSlotsPerBucket; ++i) {
        seen = Load(bucket.slots[i]);
        if (internal::TagOf(seen) == tag) break;
      }
      if (i < kSlotsPerBucket) {
        if (auto d = DecideOn(bucket.slots[i], seen, atomic_loads_, tag, step)) return *d;
        continue;
      }
      const SlotStep fresh = step(false, 0);
      if (!fresh.write) return fresh.decision;
      if (auto d = TryInstall(bucket, tag, now, step, expires)) return *d;
    }
  }

  // What Update would answer, storing nothing. May read torn halves where 16-byte loads are
  // not atomic (an approximation only the lab's accuracy report uses).
  template <class Step>
  Decision Peek(std::uint64_t hash, Step step) const noexcept {
    const std::uint64_t tag = TagFor(hash);
    const Bucket& bucket = buckets_[hash & mask_];
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      const internal::U128 seen = Load(bucket.slots[i]);
      if (internal::TagOf(seen) == tag) return step(true, Word(seen)).decision;
    }
    return step(false, 0).decision;
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return (mask_ + 1) * kSlotsPerBucket; }
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return (mask_ + 1) * sizeof(Bucket); }
  // Live keys that lost their state to a full bucket.
  [[nodiscard]] std::uint64_t displaced() const noexcept {
    return displaced_.load(std::memory_order_relaxed);  // relaxed: a statistic
  }

 private:
  struct alignas(kCacheLine) Bucket {
    internal::Slot slots[kSlotsPerBucket];
  };
  static_assert(sizeof(Bucket) == kCacheLine && alignof(Bucket) == kCacheLine);
  static_assert(sizeof(Bucket) / kSlotsPerBucket == 16, "16 bytes per key of capacity");
  static constexpr std::uint64_t kPending = std::uint64_t{1} << 63;

  explicit SlotTable(std::size_t buckets)
      : buckets_(new Bucket[buckets]()),
        mask_(buckets - 1),
        atomic_loads_(internal::HasAtomic16ByteLoads()) {}

  [[nodiscard]] static std::uint64_t TagFor(std::uint64_t hash) noexcept {
    const std::uint64_t tag = hash >> 1;
    return tag == 0 ? 1 : tag;
  }
  [[nodiscard]] static std::uint64_t Word(internal::U128 w) noexcept {
    return static_cast<std::uint64_t>(internal::TatOf(w));
  }
  [[nodiscard]] static bool IsPending(internal::U128 w) noexcept {
    return (internal::TagOf(w) & kPending) != 0;
  }
  [[nodiscard]] internal::U128 Load(const internal::Slot& s) const noexcept {
    return atomic_loads_ ? internal::LoadAtomic(s) : internal::LoadRelaxed(s);
  }
  // A value no other install can have written to the same slot recently: a thread number above
  // a per-thread counter (the state table's nonce).
  [[nodiscard]] static std::int64_t NextNonce() noexcept {
    static std::atomic<std::uint64_t> next_thread{1};
    // Relaxed: uniqueness needs only the atomicity of fetch_add.
    thread_local const std::uint64_t thread_number =
        next_thread.fetch_add(1, std::memory_order_relaxed);
    thread_local std::uint64_t counter = 0;
    ++counter;
    return static_cast<std::int64_t>(((thread_number & 0x3fffff) << 40) |
                                     (counter & ((std::uint64_t{1} << 40) - 1)));
  }

  // Decides on the committed slot of our key from `expected`; nullopt: the slot went to
  // another key. The loop has no side effect before its CAS succeeds.
  template <class Step>
  static std::optional<Decision> DecideOn(internal::Slot& slot, internal::U128 expected,
                                          bool snapshot, std::uint64_t tag, Step& step) noexcept {
    do {
      const SlotStep r = step(true, Word(expected));
      if (snapshot && !r.write) return r.decision;
      const internal::U128 desired =
          r.write ? internal::Pack(tag, static_cast<std::int64_t>(r.word)) : expected;
      if (internal::Cas(slot, expected, desired)) return r.decision;
      snapshot = true;  // a failed CAS read the slot atomically
    } while (internal::TagOf(expected) == tag);
    return std::nullopt;
  }

  // One pass of the install protocol (see above); nullopt means "scan again".
  template <class Step, class Expires>
  std::optional<Decision> TryInstall(Bucket& bucket, std::uint64_t tag, std::int64_t now,
                                     Step& step, Expires& expires) noexcept {
    const std::uint64_t pending_tag = tag | kPending;
    internal::U128 seen[kSlotsPerBucket];
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) seen[i] = Load(bucket.slots[i]);

    // A committed copy appeared meanwhile: sweep PENDINGs of our key, then decide on the copy.
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      if (internal::TagOf(seen[i]) != tag) continue;
      for (std::size_t j = 0; j < kSlotsPerBucket; ++j) {
        internal::U128 stale = seen[j];
        if (internal::TagOf(stale) == pending_tag) (void)internal::Cas(bucket.slots[j], stale, 0);
      }
      return DecideOn(bucket.slots[i], seen[i], atomic_loads_, tag, step);
    }

    // PENDINGs of our key (ours or another thread's): kill all but the lowest, commit that one.
    std::size_t target = kSlotsPerBucket;
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      if (internal::TagOf(seen[i]) != pending_tag) continue;
      if (target == kSlotsPerBucket) {
        target = i;
        continue;
      }
      internal::U128 expected = seen[i];
      if (!internal::Cas(bucket.slots[i], expected, 0)) return std::nullopt;
    }
    if (target != kSlotsPerBucket) {
      const SlotStep r = step(false, 0);  // fresh, and it writes (Update checked)
      internal::U128 expected = seen[target];
      if (!internal::Cas(bucket.slots[target], expected,
                         internal::Pack(tag, static_cast<std::int64_t>(r.word)))) {
        return std::nullopt;
      }
      return r.decision;
    }

    // No copy of our key at all: choose a victim and claim it as PENDING.
    std::size_t empty = kSlotsPerBucket;
    std::size_t expired = kSlotsPerBucket;
    std::int64_t expired_at = 0;
    std::size_t other_pending = kSlotsPerBucket;
    std::size_t first_to_expire = kSlotsPerBucket;
    std::int64_t first_expiry = 0;
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      const internal::U128 w = seen[i];
      if (internal::TagOf(w) == 0) {
        if (empty == kSlotsPerBucket) empty = i;
      } else if (IsPending(w)) {
        if (other_pending == kSlotsPerBucket) other_pending = i;
      } else if (const std::int64_t at = expires(Word(w)); at <= now) {
        if (expired == kSlotsPerBucket || at < expired_at) {
          expired = i;
          expired_at = at;
        }
      } else if (first_to_expire == kSlotsPerBucket || at < first_expiry) {
        first_to_expire = i;
        first_expiry = at;
      }
    }
    std::size_t victim = empty != kSlotsPerBucket ? empty : expired;
    if (victim == kSlotsPerBucket) {
      victim = other_pending != kSlotsPerBucket ? other_pending : first_to_expire;
    }
    internal::U128 expected = seen[victim];
    if (!internal::Cas(bucket.slots[victim], expected, internal::Pack(pending_tag, NextNonce()))) {
      return std::nullopt;
    }
    // Relaxed: a statistic.
    if (victim == first_to_expire) displaced_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;  // our PENDING is visible; the next pass kills rivals and commits
  }

  std::unique_ptr<Bucket[]> buckets_;
  std::size_t mask_;
  bool atomic_loads_;
  std::atomic<std::uint64_t> displaced_{0};
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_SLOT_TABLE_H_
