#include "sluice/state_table.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal/atomic_slot.h"
#include "internal/table_layout.h"
#include "internal/table_path.h"

namespace sluice {

using internal::Cas;
using internal::LoadRelaxed;
using internal::Pack;
using internal::Slot;
using internal::TablePath;
using internal::TagFor;
using internal::TagOf;
using internal::TatOf;
using internal::U128;

static_assert(StateTable::kSlotsPerBucket == internal::kSlotsPerBucket);
static_assert(StateTable::kHeaderBytes == internal::kHeaderBytes);

namespace {

constexpr std::uint64_t kPending = std::uint64_t{1} << 63;
// A nonce is (now >> kNonceCounterBits) << kNonceCounterBits | counter bits.
constexpr int kNonceCounterBits = 20;
constexpr std::uint64_t kNonceCounterMask = (std::uint64_t{1} << kNonceCounterBits) - 1;

[[nodiscard]] inline bool IsPending(U128 w) noexcept { return (TagOf(w) & kPending) != 0; }

// The 16-byte atomic load when the CPU has one (`atomic`), else two relaxed halves.
[[nodiscard]] inline U128 Load(const Slot& slot, bool atomic) noexcept {
  return atomic ? internal::LoadAtomic(slot) : LoadRelaxed(slot);
}

// A PENDING slot's nonce is stale when the install that wrote it is older than kStalePending
// by our clock. A nonce from the future (another process's clock ahead of ours, or time going
// backwards) is never stale.
[[nodiscard]] inline bool IsStalePending(U128 w, std::int64_t now) noexcept {
  const std::int64_t claimed = TatOf(w) & ~static_cast<std::int64_t>(kNonceCounterMask);
  return now - claimed > StateTable::kStalePending.count();
}

// Relaxed increments: statistics only, read without ordering.
inline void Bump(std::atomic<std::uint64_t>& c) noexcept {
  c.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

absl::StatusOr<WhenFull> ParseWhenFull(std::string_view text) {
  if (text == "evict") return WhenFull::kEvict;
  if (text == "deny") return WhenFull::kDeny;
  if (text == "allow") return WhenFull::kAllow;
  return absl::InvalidArgumentError(
      absl::StrCat("when_full: '", std::string(text), "' is not one of evict, deny, allow"));
}

std::string_view ToString(WhenFull w) noexcept {
  switch (w) {
    case WhenFull::kEvict:
      return "evict";
    case WhenFull::kDeny:
      return "deny";
    case WhenFull::kAllow:
      return "allow";
  }
  return "?";
}

StateTable::CounterStripe& StateTable::StripeFor(std::uint64_t hash) noexcept {
  return stripes_[(hash >> 8) % internal::kStripes];
}

// The install's time above 20 bits of the table's shared counter. Relaxed: uniqueness needs
// only the atomicity of fetch_add (every process increments the same word), not ordering.
std::int64_t StateTable::NextNonce(std::int64_t now) noexcept {
  const std::uint64_t n = header_->next_nonce.fetch_add(1, std::memory_order_relaxed);
  const auto time_bits = static_cast<std::uint64_t>(now) & ~kNonceCounterMask;  // now < 2^62
  return static_cast<std::int64_t>(time_bits | (n & kNonceCounterMask));
}

void StateTable::Prefetch(std::uint64_t hash) const noexcept {
  __builtin_prefetch(&TablePath::BucketFor(*this, hash), /*rw=*/1, /*locality=*/3);
}

namespace {

// The steady state: decide on the committed slot of our key from the value we read. An
// admission is committed by one CAS; a failed CAS hands back the slot's current value and we
// recompute (the loop has no side effect before its CAS succeeds). A denial changes nothing:
// when `expected` is an atomic snapshot (a 16-byte atomic load, or what a failed CAS returned)
// the denial is linearised at that read and needs no write at all; otherwise a CAS of the slot
// to itself proves the two halves we read belonged together. nullopt: the slot went to
// another key (evicted or reused).
[[nodiscard]] std::optional<Decision> DecideOn(Slot& slot, U128 expected, bool snapshot,
                                               std::uint64_t tag, const GcraParams& params,
                                               std::int64_t now, std::uint64_t cost) noexcept {
  do {
    const GcraResult r = GcraStep(params, TatOf(expected), now, cost);
    if (snapshot && (!r.decision.allowed || cost == 0)) return r.decision;
    if (Cas(slot, expected, Pack(tag, r.new_tat))) return r.decision;
    snapshot = true;  // a failed CAS read the slot atomically
  } while (TagOf(expected) == tag);
  return std::nullopt;
}

}  // namespace

Decision StateTable::Check(std::uint64_t hash, const GcraParams& params,
                           std::chrono::nanoseconds now, std::uint64_t cost) noexcept {
  return TablePath::Check(*this, hash, params, ClampTime(now.count()), cost);
}

Decision StateTable::CheckSlow(std::uint64_t hash, const GcraParams& params, std::int64_t now,
                               std::uint64_t cost) noexcept {
  const std::uint64_t tag = TagFor(hash);
  Bucket& bucket = TablePath::BucketFor(*this, hash);
  for (;;) {
    std::size_t i = 0;
    U128 seen = 0;
    for (; i < kSlotsPerBucket; ++i) {
      seen = Load(bucket.slots[i], atomic_loads_);
      if (TagOf(seen) == tag) break;
    }
    if (i == kSlotsPerBucket) return CheckAbsent(hash, params, now, cost);
    if (auto d = DecideOn(bucket.slots[i], seen, atomic_loads_, tag, params, now, cost)) return *d;
  }
}

Decision StateTable::CheckAbsent(std::uint64_t hash, const GcraParams& params, std::int64_t now,
                                 std::uint64_t cost) noexcept {
  // Absent (or only PENDING). A fresh key needs no state when it cannot or need not consume.
  const GcraResult fresh = GcraStep(params, now, now, cost);
  if (!fresh.decision.allowed || cost == 0) return fresh.decision;
  return Install(TablePath::BucketFor(*this, hash), TagFor(hash), hash, params, now, cost);
}

Decision StateTable::Install(Bucket& bucket, std::uint64_t tag, std::uint64_t hash,
                             const GcraParams& params, std::int64_t now,
                             std::uint64_t cost) noexcept {
  const std::uint64_t pending_tag = tag | kPending;
  CounterStripe& stripe = StripeFor(hash);
  // Each pass reads the bucket afresh: a failed CAS, a copy of our key gone, or our own claim
  // just made visible all come back here (the claim's rescan is this loop's next pass).
  for (;;) {
    U128 seen[kSlotsPerBucket];
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      seen[i] = Load(bucket.slots[i], atomic_loads_);
    }

    // A committed copy appeared meanwhile: sweep PENDINGs of our key, then decide on the copy.
    std::size_t committed = kSlotsPerBucket;
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      if (TagOf(seen[i]) == tag) {
        committed = i;
        break;
      }
    }
    if (committed != kSlotsPerBucket) {
      for (std::size_t j = 0; j < kSlotsPerBucket; ++j) {
        U128 stale = seen[j];
        if (TagOf(stale) == pending_tag && Cas(bucket.slots[j], stale, 0)) {
          stripe.occupied.fetch_sub(1, std::memory_order_relaxed);  // statistics
        }
      }
      if (auto d = DecideOn(bucket.slots[committed], seen[committed], atomic_loads_, tag, params,
                            now, cost)) {
        return *d;
      }
      continue;  // the copy went to another key: not ours any more
    }

    // PENDINGs of our key (ours or another thread's): kill all but the lowest, commit that one.
    std::size_t target = kSlotsPerBucket;
    bool lost = false;
    for (std::size_t i = 0; i < kSlotsPerBucket && !lost; ++i) {
      if (TagOf(seen[i]) != pending_tag) continue;
      if (target == kSlotsPerBucket) {
        target = i;
        continue;
      }
      U128 expected = seen[i];
      if (Cas(bucket.slots[i], expected, 0)) {
        stripe.occupied.fetch_sub(1, std::memory_order_relaxed);  // statistics
      } else {
        lost = true;
      }
    }
    if (lost) continue;
    if (target != kSlotsPerBucket) {
      const GcraResult r = GcraStep(params, now, now, cost);  // fresh, so admitted (cost <= b)
      U128 expected = seen[target];
      if (!Cas(bucket.slots[target], expected, Pack(tag, r.new_tat))) continue;
      Bump(stripe.installs);
      return r.decision;
    }

    // No copy of our key at all: choose a victim and claim it as PENDING.
    std::size_t empty = kSlotsPerBucket;
    std::size_t stale = kSlotsPerBucket;
    std::size_t expired = kSlotsPerBucket;
    std::size_t other_pending = kSlotsPerBucket;
    std::size_t oldest_live = kSlotsPerBucket;
    for (std::size_t i = 0; i < kSlotsPerBucket; ++i) {
      const U128 w = seen[i];
      if (TagOf(w) == 0) {
        if (empty == kSlotsPerBucket) empty = i;
      } else if (IsPending(w)) {
        if (IsStalePending(w, now)) {
          if (stale == kSlotsPerBucket) stale = i;
        } else if (other_pending == kSlotsPerBucket) {
          other_pending = i;
        }
      } else if (TatOf(w) <= now) {
        if (expired == kSlotsPerBucket || TatOf(w) < TatOf(seen[expired])) expired = i;
      } else if (oldest_live == kSlotsPerBucket || TatOf(w) < TatOf(seen[oldest_live])) {
        oldest_live = i;
      }
    }
    std::size_t victim = empty != kSlotsPerBucket   ? empty
                         : stale != kSlotsPerBucket ? stale
                                                    : expired;
    if (victim == kSlotsPerBucket) {
      switch (when_full_) {
        case WhenFull::kEvict:
          // Another key's PENDING holds no information yet; otherwise the live key that is
          // closest to expiring loses the least.
          victim = other_pending != kSlotsPerBucket ? other_pending : oldest_live;
          break;
        case WhenFull::kDeny: {
          Bump(stripe.full_denied);
          Decision d;
          d.allowed = false;
          d.remaining = 0;
          // The wait until the first live key of the bucket expires and frees its slot.
          d.retry_after = std::chrono::nanoseconds{oldest_live != kSlotsPerBucket
                                                       ? TatOf(seen[oldest_live]) - now
                                                       : params.emission_interval};
          return d;
        }
        case WhenFull::kAllow:
          Bump(stripe.full_allowed);
          return GcraStep(params, now, now, cost).decision;
      }
    }
    U128 expected = seen[victim];
    if (!Cas(bucket.slots[victim], expected, Pack(pending_tag, NextNonce(now)))) continue;
    if (victim == empty) {
      stripe.occupied.fetch_add(1, std::memory_order_relaxed);  // statistics
    } else if (victim == stale) {
      Bump(stripe.stale_pending);
    } else if (victim == expired) {
      Bump(stripe.reused_expired);
    } else if (victim == oldest_live) {
      Bump(stripe.evictions);
    }
    // Our PENDING is visible now; the next pass kills rivals and commits.
  }
}

void StateTable::Refund(std::uint64_t hash, const GcraParams& params, std::uint64_t cost) noexcept {
  if (cost == 0 || cost > params.burst) return;
  const std::uint64_t tag = TagFor(hash);
  Bucket& bucket = TablePath::BucketFor(*this, hash);
  const std::int64_t give_back = static_cast<std::int64_t>(cost) * params.emission_interval;
  for (Slot& slot : bucket.slots) {
    U128 expected = LoadRelaxed(slot);
    while (TagOf(expected) == tag) {
      if (Cas(slot, expected, Pack(tag, TatOf(expected) - give_back))) return;
    }
  }
}

TableStats StateTable::Stats() const noexcept {
  TableStats s;
  s.capacity = capacity();
  s.memory_bytes = bucket_count_ * sizeof(Bucket);
  // Relaxed loads: independent statistics, no ordering among them is promised.
  for (std::size_t i = 0; i < internal::kStripes; ++i) {
    const CounterStripe& stripe = stripes_[i];
    s.installs += stripe.installs.load(std::memory_order_relaxed);
    s.reused_expired += stripe.reused_expired.load(std::memory_order_relaxed);
    s.evictions += stripe.evictions.load(std::memory_order_relaxed);
    s.full_denied += stripe.full_denied.load(std::memory_order_relaxed);
    s.full_allowed += stripe.full_allowed.load(std::memory_order_relaxed);
    s.stale_pending += stripe.stale_pending.load(std::memory_order_relaxed);
    s.occupied += stripe.occupied.load(std::memory_order_relaxed);
  }
  return s;
}

std::uint64_t StateTable::CountLive(std::chrono::nanoseconds now_ns) const noexcept {
  const std::int64_t now = ClampTime(now_ns.count());
  std::uint64_t live = 0;
  for (std::size_t b = 0; b < bucket_count_; ++b) {
    for (const Slot& slot : buckets_[b].slots) {
      const U128 w = LoadRelaxed(slot);
      if (TagOf(w) != 0 && !IsPending(w) && TatOf(w) > now) ++live;
    }
  }
  return live;
}

}  // namespace sluice
