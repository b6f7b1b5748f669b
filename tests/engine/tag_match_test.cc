// The bucket's tag match: the SSE2 compare and the scalar loop agree on every bucket shape
// (no match, one match in each slot, several matches, PENDING copies of the tag, tags equal in
// one 32-bit half only), and the scalar loop is right on its own terms.
#include "internal/tag_match.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace sluice::internal {
namespace {

constexpr std::uint64_t kPending = std::uint64_t{1} << 63;

// The four words as vectors, as the fast path loads them.
#if defined(__SSE2__)
__m128i Vector(U128 w) {
  return _mm_set_epi64x(static_cast<long long>(TatOf(w)), static_cast<long long>(TagOf(w)));
}
unsigned Sse2(const U128 (&w)[kBucketSlots], std::uint64_t tag) {
  return MatchTagMaskSse2(Vector(w[0]), Vector(w[1]), Vector(w[2]), Vector(w[3]), tag);
}
#endif

// The expected answer, written out directly.
TagMatch Expected(const U128 (&w)[kBucketSlots], std::uint64_t tag) {
  TagMatch m;
  bool found = false;
  for (std::size_t i = 0; i < kBucketSlots; ++i) {
    if (TagOf(w[i]) != tag) continue;
    m.mask |= 1u << i;
    if (!found) m.tat = TatOf(w[i]);
    found = true;
  }
  return m;
}

void ExpectAgree(const U128 (&w)[kBucketSlots], std::uint64_t tag) {
  const TagMatch want = Expected(w, tag);
  const TagMatch scalar = MatchTagScalar(w, tag);
  ASSERT_EQ(scalar.mask, want.mask);
  if (want.mask != 0) {
    ASSERT_EQ(scalar.tat, want.tat);
  }
#if defined(__SSE2__)
  ASSERT_EQ(Sse2(w, tag), want.mask);
  for (const U128 word : w)
    ASSERT_EQ(HighHalf(Vector(word)), static_cast<std::uint64_t>(TatOf(word)));
  // CheckBatch's branch-free pick: the TAT of whichever slot number the mask names.
  const SnapshotTats tats(Vector(w[0]), Vector(w[1]), Vector(w[2]), Vector(w[3]));
  for (std::size_t i = 0; i < kBucketSlots; ++i) ASSERT_EQ(tats.Of(i), TatOf(w[i]));
#endif
}

TEST(TagMatchTest, EveryPlacementOfOneTag) {
  const std::uint64_t tag = 0x1234'5678'9abc'def1;
  // Each slot one of: empty, our tag, our PENDING, another tag, tags sharing one 32-bit half.
  const std::uint64_t kinds[] = {0,
                                 tag,
                                 tag | kPending,
                                 0x0fed'cba9'8765'4321,
                                 (tag & 0xffff'ffff) | 0x7777'0000'0000'0000,
                                 (tag & 0xffff'ffff'0000'0000) | 0x1};
  constexpr std::size_t kKinds = sizeof kinds / sizeof kinds[0];
  std::size_t buckets = 0;
  for (std::size_t a = 0; a < kKinds; ++a) {
    for (std::size_t b = 0; b < kKinds; ++b) {
      for (std::size_t c = 0; c < kKinds; ++c) {
        for (std::size_t d = 0; d < kKinds; ++d) {
          const U128 w[kBucketSlots] = {Pack(kinds[a], 100 + static_cast<std::int64_t>(a)),
                                        Pack(kinds[b], 200 + static_cast<std::int64_t>(b)),
                                        Pack(kinds[c], 300 + static_cast<std::int64_t>(c)),
                                        Pack(kinds[d], (std::int64_t{1} << 62) + 7)};
          ExpectAgree(w, tag);
          ++buckets;
        }
      }
    }
  }
  EXPECT_EQ(buckets, kKinds * kKinds * kKinds * kKinds);
}

TEST(TagMatchTest, RandomBuckets) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 200'000; ++i) {
    const std::uint64_t tag = (rng() >> 1) | 1;
    U128 w[kBucketSlots];
    for (U128& word : w) {
      const std::uint64_t r = rng();
      const std::uint64_t slot_tag =
          r % 3 == 0 ? tag : (r % 3 == 1 ? rng() : tag ^ (1ull << (r % 64)));
      word = Pack(slot_tag, static_cast<std::int64_t>(rng() >> 2));
    }
    ExpectAgree(w, tag);
  }
}

TEST(TagMatchTest, TheTableUsesTheSimdCompareWhereItCan) {
#if defined(__SSE2__) && !defined(SLUICE_SCALAR_TAG_MATCH)
  EXPECT_TRUE(SLUICE_SIMD_TAG_MATCH);
#else
  GTEST_SKIP() << "scalar tag match in this build";
#endif
}

}  // namespace
}  // namespace sluice::internal
