// Finding a key's slot in a bucket: which of the four slots carry a given tag. One SIMD compare
// of all four tags where the CPU has SSE2 (every x86-64), a scalar loop elsewhere; both always
// compile where they can, and tests/engine/tag_match_test.cc checks that they agree. Private
// to the engine.
//
// Defining SLUICE_SCALAR_TAG_MATCH makes the table use the scalar loop even with SSE2 (the
// engine_scalar_tag_tests binary runs the table's tests that way).
#ifndef SLUICE_INTERNAL_TAG_MATCH_H_
#define SLUICE_INTERNAL_TAG_MATCH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "internal/atomic_slot.h"

#if defined(__SSE2__) && !defined(SLUICE_SCALAR_TAG_MATCH)
#define SLUICE_SIMD_TAG_MATCH 1
#endif
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace sluice::internal {

inline constexpr std::size_t kBucketSlots = 4;

// The scalar answer for one bucket: bit i of `mask` is set when slot i's tag equals the one
// asked for; `tat` is the TAT of the lowest such slot (0 when none).
struct TagMatch {
  unsigned mask = 0;
  std::int64_t tat = 0;
};

[[nodiscard]] inline TagMatch MatchTagScalar(const U128 (&words)[kBucketSlots],
                                             std::uint64_t tag) noexcept {
  TagMatch m;
  for (std::size_t i = kBucketSlots; i-- > 0;) {  // downwards: `tat` ends on the lowest match
    if (TagOf(words[i]) != tag) continue;
    m.mask |= 1u << i;
    m.tat = TatOf(words[i]);
  }
  return m;
}

#if defined(__SSE2__)
namespace tag_match_detail {
// 64-bit lane equality of two vectors of two tags each, from SSE2's 32-bit compare: both
// halves must match, so each 32-bit result is ANDed with its neighbour's.
inline __m128i Equal64(__m128i tags, __m128i want) noexcept {
  const __m128i eq = _mm_cmpeq_epi32(tags, want);
  return _mm_and_si128(eq, _mm_shuffle_epi32(eq, _MM_SHUFFLE(2, 3, 0, 1)));
}
inline unsigned Mask(__m128i eq01, __m128i eq23) noexcept {
  return static_cast<unsigned>(_mm_movemask_pd(_mm_castsi128_pd(eq01))) |
         (static_cast<unsigned>(_mm_movemask_pd(_mm_castsi128_pd(eq23))) << 2);
}
}  // namespace tag_match_detail

// The four slots as they were loaded (each one 16-byte snapshot: low half tag, high half TAT);
// bit i of the result is set when slot i's tag equals `tag`. The TAT is then taken from the
// matched slot with HighHalf() after a branch on the mask (internal/table_path.h says why).
[[nodiscard]] inline unsigned MatchTagMaskSse2(__m128i s0, __m128i s1, __m128i s2, __m128i s3,
                                               std::uint64_t tag) noexcept {
  using namespace tag_match_detail;
  const __m128i want = _mm_set1_epi64x(static_cast<long long>(tag));
  return Mask(Equal64(_mm_unpacklo_epi64(s0, s1), want), Equal64(_mm_unpacklo_epi64(s2, s3), want));
}

// The high 64 bits of a slot (its TAT), straight to a general register (the intrinsics let the
// compiler go through the stack).
[[nodiscard]] inline std::uint64_t HighHalf(__m128i v) noexcept {
  std::uint64_t hi;
  asm("punpckhqdq %0, %0\n\tmovq %0, %1" : "+x"(v), "=r"(hi));
  return hi;
}

// The TATs (high halves) of four slot snapshots, read by a slot number known only at run time:
// the four vectors go to the stack and one 8-byte load inside one of them comes back (a load
// contained in an earlier store forwards from it), with no branch on which slot matched.
class SnapshotTats {
 public:
  SnapshotTats(__m128i s0, __m128i s1, __m128i s2, __m128i s3) noexcept {
    _mm_store_si128(&v_[0], s0);
    _mm_store_si128(&v_[1], s1);
    _mm_store_si128(&v_[2], s2);
    _mm_store_si128(&v_[3], s3);
  }
  [[nodiscard]] std::int64_t Of(std::size_t slot) const noexcept {
    std::int64_t tat;
    std::memcpy(&tat, reinterpret_cast<const unsigned char*>(&v_[slot]) + 8, sizeof tat);
    return tat;
  }

 private:
  __m128i v_[kBucketSlots];
};

#endif

}  // namespace sluice::internal

#endif  // SLUICE_INTERNAL_TAG_MATCH_H_
