// sluice-load's histogram: bucket bounds, relative error, quantiles, merge.
#include <gtest/gtest.h>

#include <cstdint>

#include "load/histogram.h"

namespace sluice::load {
namespace {

TEST(LoadHistogramTest, SmallValuesAreExact) {
  for (std::uint64_t v = 0; v < 2 * Histogram::kSubCount; ++v) {
    EXPECT_EQ(Histogram::IndexOf(v), v);
    EXPECT_EQ(Histogram::LowestOf(Histogram::IndexOf(v)), v);
    EXPECT_EQ(Histogram::HighestOf(Histogram::IndexOf(v)), v);
  }
}

TEST(LoadHistogramTest, EveryValueLiesInItsBucketWithinRelativeError) {
  std::uint64_t v = 1;
  while (v <= Histogram::kMaxValue) {
    for (const std::uint64_t x : {v - 1, v, v + 1, v + v / 3}) {
      if (x > Histogram::kMaxValue) continue;
      const std::size_t i = Histogram::IndexOf(x);
      ASSERT_LT(i, Histogram::kBuckets) << x;
      ASSERT_LE(Histogram::LowestOf(i), x) << x;
      ASSERT_GE(Histogram::HighestOf(i), x) << x;
      const double width = static_cast<double>(Histogram::HighestOf(i) - Histogram::LowestOf(i));
      ASSERT_LE(width, static_cast<double>(x) / Histogram::kSubCount) << x;
    }
    v *= 2;
  }
}

TEST(LoadHistogramTest, BucketsAreContiguous) {
  for (std::size_t i = 0; i + 1 < Histogram::kBuckets; ++i) {
    ASSERT_EQ(Histogram::HighestOf(i) + 1, Histogram::LowestOf(i + 1)) << i;
  }
  EXPECT_EQ(Histogram::IndexOf(Histogram::kMaxValue), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::IndexOf(UINT64_MAX), Histogram::kBuckets - 1);  // clamped
}

TEST(LoadHistogramTest, QuantilesOfAKnownSet) {
  Histogram h;
  EXPECT_EQ(h.ValueAt(0.5), 0u);
  for (std::uint64_t v = 1; v <= 100; ++v) h.Record(v * 1000);  // 1..100 us
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100'000u);
  EXPECT_DOUBLE_EQ(h.mean(), 50'500.0);
  // The 50th smallest is 50 us: reported as the top of its bucket, within 1/128.
  EXPECT_GE(h.ValueAt(0.5), 50'000u);
  EXPECT_LE(h.ValueAt(0.5), 50'000u + 50'000u / Histogram::kSubCount);
  EXPECT_GE(h.ValueAt(0.99), 99'000u);
  EXPECT_LE(h.ValueAt(0.99), 99'000u + 99'000u / Histogram::kSubCount);
  EXPECT_EQ(h.ValueAt(1.0), 100'000u);  // capped at the exact max
  EXPECT_EQ(h.ValueAt(0.0), h.ValueAt(0.001));
}

TEST(LoadHistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  for (std::uint64_t v = 0; v < 5000; ++v) {
    const std::uint64_t x = v * v * 37 + 11;
    (v % 3 == 0 ? a : b).Record(x);
    all.Record(x);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  for (const double q : {0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) EXPECT_EQ(a.ValueAt(q), all.ValueAt(q));
}

}  // namespace
}  // namespace sluice::load
