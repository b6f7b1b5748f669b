// The state table's decision fast path, inline: the committed slot of a key already present,
// decided from one 16-byte snapshot and, for an admission, one CAS. A key the snapshots did not
// find goes to the out-of-line StateTable::CheckAbsent() (the install protocol, whose first
// pass reads the bucket again); everything else (a lost CAS, a transient double match, CPUs
// without atomic 16-byte loads) to StateTable::CheckSlow(), which runs the whole protocol of
// state_table.h from the start.
//
// Private to the engine: state_table.cc and limiter.cc include it so that Limiter::Check,
// CheckBatch and CheckAll compile hash -> bucket -> decide into one function without a call,
// and the Decision is written once, field by field, into the caller's return slot (returning
// it through a std::optional on the stack cost a store-forwarding stall: two 8-byte stores
// read back by one 16-byte load).
#ifndef SLUICE_INTERNAL_TABLE_PATH_H_
#define SLUICE_INTERNAL_TABLE_PATH_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "internal/atomic_slot.h"
#include "internal/table_layout.h"
#include "internal/tag_match.h"
#include "sluice/cacheline.h"
#include "sluice/decision.h"
#include "sluice/gcra.h"
#include "sluice/state_table.h"

namespace sluice {

// StateTable::Bucket is internal::Bucket, laid out in internal/table_layout.h (the memory map a
// shared table's every process agrees on).
static_assert(sizeof(StateTable::Bucket) == kCacheLine);
static_assert(alignof(StateTable::Bucket) == kCacheLine);
static_assert(sizeof(StateTable::Bucket) / StateTable::kSlotsPerBucket == 16,
              "16 bytes per key of capacity");
static_assert(StateTable::kSlotsPerBucket == internal::kBucketSlots);

namespace internal {

// tag = hash >> 1, or 1 if that is 0 (state_table.h, "Hash split").
[[nodiscard]] inline std::uint64_t TagFor(std::uint64_t hash) noexcept {
  const std::uint64_t tag = hash >> 1;
  return tag == 0 ? 1 : tag;
}

struct TablePath {
  // A copy of `d` made field by field. `return r.decision` copies the Decision as a block
  // (two 16-byte moves, padding included) out of a GcraResult the compiler then keeps on the
  // stack, and those 16-byte loads wait for the 1- and 8-byte stores that built it: a
  // store-forwarding stall on every decision. Field by field, GcraResult stays in registers
  // and each field is stored once, straight into the caller's Decision.
  [[gnu::always_inline]] [[nodiscard]] static inline Decision Fields(const Decision& d) noexcept {
    Decision out;
    out.allowed = d.allowed;
    out.remaining = d.remaining;
    out.retry_after = d.retry_after;
    out.reset_after = d.reset_after;
    return out;
  }

  [[nodiscard]] static StateTable::Bucket& BucketFor(const StateTable& t,
                                                     std::uint64_t hash) noexcept {
    return t.buckets_[hash & t.bucket_mask_];
  }

  // How the matched slot's TAT is taken from the four snapshots. kBranch: a branch on the
  // match mask, which a caller deciding the same key again and again (a hot key) has
  // predicted, so the rule and the CAS start from the loaded TAT while the compare is still
  // being checked. kIndexed: the snapshots are indexed by the matched slot's number, with no
  // branch on it, for callers whose keys land in a different slot every time (CheckBatch over
  // random keys), where that branch would mispredict three times in four.
  enum class Select { kBranch, kIndexed };

  // StateTable::Check, with `now` already clamped. Inlined into every caller (a handful of
  // instructions plus GcraStep); the slow path stays one call away.
  template <Select kSelect = Select::kBranch>
  [[gnu::always_inline]] [[nodiscard]] static inline Decision Check(StateTable& t,
                                                                    std::uint64_t hash,
                                                                    const GcraParams& params,
                                                                    std::int64_t now,
                                                                    std::uint64_t cost) noexcept {
    const std::uint64_t tag = TagFor(hash);
    StateTable::Bucket& bucket = BucketFor(t, hash);
    if (t.atomic_loads_) [[likely]] {
      // Four 16-byte snapshots (each slot's own; the bucket as a whole is not one), and the
      // slot of our committed key among them. More than one match can only be a transient
      // race (a key moving between the reads): the slow path sorts it out.
#if defined(SLUICE_SIMD_TAG_MATCH)
      const __m128i s0 = LoadAtomicVector(bucket.slots[0]);
      const __m128i s1 = LoadAtomicVector(bucket.slots[1]);
      const __m128i s2 = LoadAtomicVector(bucket.slots[2]);
      const __m128i s3 = LoadAtomicVector(bucket.slots[3]);
      const unsigned mask = MatchTagMaskSse2(s0, s1, s2, s3, tag);
      std::size_t index;
      std::int64_t tat;
      if constexpr (kSelect == Select::kIndexed) {
        if (mask == 0) return t.CheckAbsent(hash, params, now, cost);
        if ((mask & (mask - 1)) != 0) return t.CheckSlow(hash, params, now, cost);
        index = static_cast<std::size_t>(__builtin_ctz(mask));
        // The snapshots through the stack: an 8-byte load inside one 16-byte store forwards.
        const SnapshotTats tats(s0, s1, s2, s3);
        tat = tats.Of(index);
      } else {
        // A blend would put the compare on the path from the load to the CAS of every
        // decision; the predicted branch does not.
        __m128i chosen;
        switch (mask) {
          case 1:
            index = 0, chosen = s0;
            break;
          case 2:
            index = 1, chosen = s1;
            break;
          case 4:
            index = 2, chosen = s2;
            break;
          case 8:
            index = 3, chosen = s3;
            break;
          default:  // absent, or a transient double match (no `case 0`: it made a jump table)
            if (mask == 0) return t.CheckAbsent(hash, params, now, cost);
            return t.CheckSlow(hash, params, now, cost);
        }
        tat = static_cast<std::int64_t>(HighHalf(chosen));
      }
#else
      U128 words[StateTable::kSlotsPerBucket];
      for (std::size_t i = 0; i < StateTable::kSlotsPerBucket; ++i) {
        words[i] = LoadAtomic(bucket.slots[i]);
      }
      const TagMatch m = MatchTagScalar(words, tag);
      if (m.mask == 0) return t.CheckAbsent(hash, params, now, cost);
      if ((m.mask & (m.mask - 1)) != 0) return t.CheckSlow(hash, params, now, cost);
      const std::size_t index = static_cast<std::size_t>(__builtin_ctz(m.mask));
      const std::int64_t tat = m.tat;
#endif
      {
        Slot& slot = bucket.slots[index];
        U128 seen = Pack(tag, tat);  // the snapshot: its tag matched, so it is ours
        // A snapshot decides a denial (or a cost-0 ask) alone. An admission's report is
        // computed after its CAS (GcraStep() in two halves), so that nothing but the verdict
        // is live across the locked instruction.
        const GcraVerdict v = GcraDecide(params, tat, now, cost);
        if (!v.allowed || cost == 0) return Fields(GcraReport(params, v, now));
        if (Cas(slot, seen, Pack(tag, v.new_tat))) return Fields(GcraReport(params, v, now));
        // Lost a race: the slow path starts over from a fresh read.
      }
    }
    return t.CheckSlow(hash, params, now, cost);
  }
};

}  // namespace internal
}  // namespace sluice

#endif  // SLUICE_INTERNAL_TABLE_PATH_H_
