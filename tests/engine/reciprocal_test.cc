// The reciprocal that replaces the division in GCRA's `remaining`: exact against the divide
// instruction at every boundary the proof in gcra.h names, on random inputs, and through
// GcraStep itself against the formula written with a division.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "sluice/gcra.h"
#include "sluice/rate.h"

namespace sluice {
namespace {

__extension__ typedef unsigned __int128 U128;
constexpr std::uint64_t kLimit = Reciprocal::kLimit;

// Divisors around every power of two the rule can use (T <= kMaxWindow = 2^61), and the
// emission intervals of common rates.
std::vector<std::uint64_t> BoundaryDivisors() {
  std::vector<std::uint64_t> d;
  for (int l = 0; l <= 62; ++l) {
    const std::uint64_t p = std::uint64_t{1} << l;
    for (const std::uint64_t v : {p - 1, p, p + 1, p + p / 2, p + p / 2 + 1}) {
      if (v >= 1) d.push_back(v);
    }
  }
  for (const std::uint64_t v :
       {3ull, 5ull, 7ull, 10ull, 20ull, 333'333'333ull, 1'000'000ull, 1'000'000'000ull,
        60'000'000'000ull, 86'400'000'000'000ull, (1ull << 61) / 3, (1ull << 62) - 1}) {
    d.push_back(v);
  }
  return d;
}

// Dividends at the edges of each quotient near 0, near the top of the range, and at the
// largest remainder, where a too-small magic number would first round wrong.
std::vector<std::uint64_t> BoundaryDividends(std::uint64_t d) {
  std::vector<std::uint64_t> n = {0, 1, 2, kLimit - 1, kLimit - 2};
  const std::uint64_t top = (kLimit - 1) / d;  // largest quotient in range
  for (const std::uint64_t q :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}, top / 2, top - 1, top}) {
    const U128 base = static_cast<U128>(q) * d;
    for (const U128 v : {base - 1, base, base + 1, base + d - 1}) {
      if (v < kLimit) n.push_back(static_cast<std::uint64_t>(v));  // base - 1 wraps when 0
    }
  }
  return n;
}

TEST(ReciprocalTest, MagicFitsAndShiftIsInRange) {
  for (const std::uint64_t d : BoundaryDivisors()) {
    const Reciprocal r = Reciprocal::For(d);
    if (d > kLimit) {  // beyond the proof: not prepared, Divide() divides
      EXPECT_EQ(r.divisor, 0u) << d;
      continue;
    }
    ASSERT_EQ(r.divisor, d);
    EXPECT_LT(r.magic, std::uint64_t{1} << 63) << d;  // the proof's m < 2^63
    EXPECT_GE(r.shift, 62u) << d;
    EXPECT_LE(r.shift, 124u) << d;
  }
}

TEST(ReciprocalTest, ExactAtEveryBoundary) {
  std::size_t checked = 0;
  for (const std::uint64_t d : BoundaryDivisors()) {
    const Reciprocal r = Reciprocal::For(d);
    for (const std::uint64_t n : BoundaryDividends(d)) {
      ASSERT_EQ(r.Divide(n, d), n / d) << n << " / " << d;
      ++checked;
    }
  }
  EXPECT_GT(checked, 3000u);
}

TEST(ReciprocalTest, ExactOnRandomInputs) {
  std::mt19937_64 rng(15);
  for (int i = 0; i < 2'000'000; ++i) {
    // Divisors log-uniform over [1, 2^62), dividends uniform below a random power of two, so
    // small and large quotients are both common.
    const std::uint64_t d = std::max<std::uint64_t>(1, rng() >> (2 + rng() % 62));
    const std::uint64_t n = (rng() >> 2) >> (rng() % 62);
    ASSERT_EQ(Reciprocal::For(d).Divide(n, d), n / d) << n << " / " << d;
  }
}

TEST(ReciprocalTest, DividesOutsideTheProvenRange) {
  const Reciprocal r = Reciprocal::For(7);
  for (const std::uint64_t n : {kLimit, kLimit + 1, ~std::uint64_t{0}}) {
    EXPECT_EQ(r.Divide(n, 7), n / 7);
  }
  // Prepared for another divisor, or not at all: still the quotient.
  EXPECT_EQ(r.Divide(100, 9), 11u);
  EXPECT_EQ(Reciprocal{}.Divide(100, 9), 11u);
  EXPECT_EQ(Reciprocal::For(0).divisor, 0u);
  static_assert(Reciprocal::For(3).Divide(10, 3) == 3);  // usable at compile time
}

// GcraStep's `remaining` against the formula of gcra.h written with the division, over random
// policies (from Make, so with the reciprocal) and states, including time gone backwards.
TEST(ReciprocalTest, GcraRemainingEqualsTheDivisionFormula) {
  std::mt19937_64 rng(1515);
  int policies = 0;
  while (policies < 2000) {
    const std::uint64_t count = 1 + rng() % 1'000'000;
    const std::int64_t period = static_cast<std::int64_t>(1 + (rng() >> (rng() % 64)));
    const std::uint64_t burst = 1 + (rng() >> (rng() % 64)) % 100'000;
    auto params = GcraParams::Make(Rate{count, std::chrono::nanoseconds{period}}, burst);
    if (!params.ok()) continue;
    ++policies;
    const GcraParams p = *params;
    ASSERT_EQ(p.per_interval.divisor, static_cast<std::uint64_t>(p.emission_interval));
    for (int i = 0; i < 200; ++i) {
      const std::int64_t now = static_cast<std::int64_t>(rng() % kMaxTime);
      const std::int64_t spread = std::max<std::int64_t>(1, 2 * p.window);
      const std::int64_t tat =
          now - p.window + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(spread));
      const std::uint64_t cost = rng() % (p.burst + 2);
      const GcraResult r = GcraStep(p, tat, now, cost);
      std::int64_t tat_after = std::max(tat, now);
      if (r.decision.allowed) tat_after += static_cast<std::int64_t>(cost) * p.emission_interval;
      const std::int64_t headroom = now + p.window - tat_after;
      const std::int64_t expected = std::clamp<std::int64_t>(
          headroom < 0 ? 0 : headroom / p.emission_interval, 0, static_cast<std::int64_t>(p.burst));
      ASSERT_EQ(r.decision.remaining, expected)
          << "T=" << p.emission_interval << " b=" << p.burst << " now=" << now << " tat=" << tat;
    }
  }
}

// GcraReport answers 0 without dividing when the head room is under one T: the head room at
// T - 1, T and T + 1 (and 0, 1) against the division, for T of 1, 2, 3 and a large one.
TEST(ReciprocalTest, RemainingAtTheOneIntervalBoundary) {
  for (const std::uint64_t per_second : {1'000'000'000ULL, 500'000'000ULL, 333'333'333ULL, 7ULL}) {
    const GcraParams p = *GcraParams::Make(Rate{per_second, std::chrono::seconds{1}}, 5);
    const std::int64_t t = p.emission_interval;
    const std::int64_t now = std::int64_t{1} << 40;
    for (const std::int64_t headroom : {std::int64_t{0}, std::int64_t{1}, t - 1, t, t + 1}) {
      if (headroom < 0 || headroom > p.window) continue;
      GcraVerdict v;
      v.tat_after = now + p.window - headroom;
      const Decision d = GcraReport(p, v, now);
      EXPECT_EQ(d.remaining, headroom / t) << "T=" << t << " headroom=" << headroom;
    }
  }
}

}  // namespace
}  // namespace sluice
