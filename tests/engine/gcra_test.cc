#include "sluice/gcra.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "sluice/rate.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr std::int64_t kSec = 1'000'000'000;

GcraParams Params(std::string_view rate, std::uint64_t burst) {
  auto r = Rate::Parse(rate);
  EXPECT_TRUE(r.ok()) << r.status();
  auto p = GcraParams::Make(*r, burst);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

// Drives one key through the pure rule, as a table would.
struct Key {
  GcraParams params;
  std::int64_t tat = 0;
  Decision Check(std::int64_t now, std::uint64_t cost = 1) {
    const GcraResult r = GcraStep(params, tat, now, cost);
    tat = r.new_tat;
    return r.decision;
  }
};

TEST(RateTest, ParsesTheFourUnits) {
  EXPECT_EQ(Rate::Parse("100/s")->period, seconds(1));
  EXPECT_EQ(Rate::Parse("100/s")->count, 100u);
  EXPECT_EQ(Rate::Parse("7/m")->period, seconds(60));
  EXPECT_EQ(Rate::Parse("7/h")->period, seconds(3600));
  EXPECT_EQ(Rate::Parse("7/d")->period, seconds(86400));
  EXPECT_EQ(Rate::Parse("1000/m")->ToString(), "1000/m");
}

TEST(RateTest, RejectsMalformedText) {
  for (const char* bad : {"", "10", "/s", "10/", "10/x", "0/s", "-1/s", "1.5/s", "10 /s",
                          "99999999999999999999999/s", "10/ss"}) {
    auto r = Rate::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("expected N/s"), std::string_view::npos) << bad;
  }
}

TEST(GcraParamsTest, EmissionIntervalRoundsDown) {
  EXPECT_EQ(Params("3/s", 1).emission_interval, 333'333'333);
  EXPECT_EQ(Params("4/s", 4).emission_interval, 250'000'000);
  EXPECT_EQ(Params("4/s", 4).window, kSec);
  EXPECT_EQ(Params("4/s", 4).tolerance(), 750'000'000);
  EXPECT_EQ(Params("1000000000/s", 1).emission_interval, 1);
}

TEST(GcraParamsTest, RejectsBadPolicies) {
  EXPECT_FALSE(GcraParams::Make(Rate{1, seconds(1)}, 0).ok());
  EXPECT_FALSE(GcraParams::Make(Rate{1'000'000'001, seconds(1)}, 1).ok());
  EXPECT_FALSE(GcraParams::Make(Rate{0, seconds(1)}, 1).ok());
  EXPECT_FALSE(GcraParams::Make(Rate{1, nanoseconds(0)}, 1).ok());
  // A year per request with a burst of 100 spans a century: above the 73-year window bound.
  EXPECT_FALSE(GcraParams::Make(Rate{1, seconds(365LL * 86400)}, 100).ok());
  EXPECT_TRUE(GcraParams::Make(Rate{1, seconds(365LL * 86400)}, 73).ok());
}

TEST(GcraTest, FourPerSecondBurstFourFromAFreshKey) {
  Key k{Params("4/s", 4)};
  const std::int64_t t0 = 5 * kSec;
  k.tat = t0;  // fresh
  for (std::int64_t expected_remaining : {3, 2, 1, 0}) {
    const Decision d = k.Check(t0);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, expected_remaining);
    EXPECT_EQ(d.retry_after, nanoseconds(0));
    EXPECT_EQ(d.reset_after, milliseconds(250) * (4 - expected_remaining));
  }
  const Decision denied = k.Check(t0);
  EXPECT_FALSE(denied.allowed);
  EXPECT_FALSE(denied.never());
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_EQ(denied.retry_after, milliseconds(250));
  EXPECT_EQ(denied.reset_after, seconds(1));
}

// redis-cell's README: CL.THROTTLE user123 15 30 60 -> max_burst 15, 30 per 60 s, so b = 16,
// T = 2 s. The first call answers limit 16, remaining 15, retry -1 (allowed), reset 2 s.
TEST(GcraTest, MatchesRedisCellThrottleExample) {
  Key k{Params("30/m", 16)};
  const std::int64_t t0 = 100 * kSec;
  k.tat = 0;
  Decision d = k.Check(t0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 15);
  EXPECT_EQ(d.reset_after, seconds(2));
  for (int i = 14; i >= 0; --i) {
    d = k.Check(t0);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, i);
  }
  EXPECT_EQ(d.reset_after, seconds(32));
  d = k.Check(t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, seconds(2));
  EXPECT_EQ(d.reset_after, seconds(32));
  // Two seconds later exactly one more request fits.
  d = k.Check(t0 + 2 * kSec);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_FALSE(k.Check(t0 + 2 * kSec).allowed);
  // The same call with a cost of 5 after 10 s (redis-cell's quantity argument).
  d = k.Check(t0 + 12 * kSec, 5);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
}

TEST(GcraTest, OneNanosecondBeforeTheEmissionIntervalIsDenied) {
  Key k{Params("1/s", 1)};
  k.tat = 0;
  ASSERT_TRUE(k.Check(0).allowed);
  const Decision early = k.Check(kSec - 1);
  EXPECT_FALSE(early.allowed);
  EXPECT_EQ(early.retry_after, nanoseconds(1));
  EXPECT_TRUE(k.Check(kSec).allowed);
}

TEST(GcraTest, BurstIsExactlyB) {
  for (std::uint64_t b : {1u, 2u, 3u, 10u, 50u}) {
    Key k{Params("10/s", b)};
    k.tat = 0;
    for (std::uint64_t i = 0; i < b; ++i) ASSERT_TRUE(k.Check(0).allowed) << b << " " << i;
    const Decision d = k.Check(0);
    EXPECT_FALSE(d.allowed) << b;
    EXPECT_EQ(d.retry_after, milliseconds(100)) << b;
  }
}

TEST(GcraTest, CostAboveBurstIsNeverAdmittedAndChangesNothing) {
  Key k{Params("10/s", 5)};
  k.tat = 0;
  const Decision never = k.Check(0, 6);
  EXPECT_FALSE(never.allowed);
  EXPECT_TRUE(never.never());
  EXPECT_EQ(never.retry_after, Decision::kNever);
  EXPECT_EQ(never.remaining, 5);
  EXPECT_EQ(k.tat, 0);
  // A cost equal to the burst fits a fresh key, once.
  EXPECT_TRUE(k.Check(0, 5).allowed);
  const Decision d = k.Check(0, 5);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(500));
}

TEST(GcraTest, CostZeroAsksWithoutConsuming) {
  Key k{Params("10/s", 5)};
  k.tat = 0;
  ASSERT_TRUE(k.Check(0, 2).allowed);
  const Decision d = k.Check(0, 0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 3);
  EXPECT_EQ(k.tat, 200'000'000);
}

TEST(GcraTest, TimeGoingBackwardsNeverAdmitsMore) {
  std::mt19937_64 rng(42);
  const GcraParams p = Params("7/s", 5);
  for (int trial = 0; trial < 20000; ++trial) {
    const std::int64_t tat = static_cast<std::int64_t>(rng() % (4 * kSec));
    const std::int64_t later = 1 + static_cast<std::int64_t>(rng() % (4 * kSec));
    const std::int64_t earlier =
        static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(later));
    const std::uint64_t cost = 1 + rng() % 5;
    const GcraResult at_later = GcraStep(p, tat, later, cost);
    const GcraResult at_earlier = GcraStep(p, tat, earlier, cost);
    if (at_earlier.decision.allowed) {
      EXPECT_TRUE(at_later.decision.allowed) << tat << " " << earlier << " " << later;
    }
    // What is available (a cost-0 query) never grows as time goes back.
    EXPECT_LE(GcraStep(p, tat, earlier, 0).decision.remaining,
              GcraStep(p, tat, later, 0).decision.remaining);
  }
  // And over a sequence: a key hammered at t, then at earlier times, gets nothing extra.
  Key k{p};
  k.tat = 0;
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += k.Check(2 * kSec).allowed ? 1 : 0;
  for (std::int64_t t = 2 * kSec; t >= 0; t -= kSec / 10) {
    admitted += k.Check(t).allowed ? 1 : 0;
  }
  EXPECT_EQ(admitted, 5);
}

TEST(GcraTest, RemainingAndResetFollowTheirFormulas) {
  std::mt19937_64 rng(7);
  const GcraParams p = Params("13/s", 9);
  std::int64_t tat = 0;
  std::int64_t now = 0;
  for (int i = 0; i < 50000; ++i) {
    now += static_cast<std::int64_t>(rng() % (kSec / 20));
    const std::uint64_t cost = rng() % 11;
    const GcraResult r = GcraStep(p, tat, now, cost);
    const std::int64_t base = std::max(tat, now);
    const std::int64_t tat_after = r.decision.allowed ? std::max(r.new_tat, now) : base;
    const std::int64_t T = p.emission_interval;
    EXPECT_EQ(r.decision.reset_after.count(), tat_after - now);
    EXPECT_EQ(r.decision.remaining,
              std::clamp<std::int64_t>((now + p.window - tat_after) / T, 0, 9));
    if (cost > 9) {
      EXPECT_TRUE(r.decision.never());
    } else if (!r.decision.allowed) {
      // Waiting exactly retry_after admits; one ns less does not.
      const std::int64_t wait = r.decision.retry_after.count();
      EXPECT_GT(wait, 0);
      EXPECT_TRUE(GcraStep(p, tat, now + wait, cost).decision.allowed);
      EXPECT_FALSE(GcraStep(p, tat, now + wait - 1, cost).decision.allowed);
    } else {
      EXPECT_EQ(r.decision.retry_after.count(), 0);
    }
    tat = r.new_tat;
  }
}

TEST(GcraTest, NoOverflowAtTheExtremes) {
  // 10^9 per second with the largest burst, at the largest time.
  const GcraParams fast = *GcraParams::Make(Rate{1'000'000'000, seconds(1)}, kMaxWindow);
  EXPECT_EQ(fast.emission_interval, 1);
  GcraResult r = GcraStep(fast, 0, kMaxTime, kMaxWindow);
  EXPECT_TRUE(r.decision.allowed);
  EXPECT_EQ(r.new_tat, kMaxTime + kMaxWindow);
  r = GcraStep(fast, r.new_tat, kMaxTime, 1);
  EXPECT_FALSE(r.decision.allowed);
  EXPECT_EQ(r.decision.retry_after.count(), 1);
  // One request per year, burst 73, at the largest time and beyond.
  const std::int64_t year = 365LL * 86400 * kSec;
  const GcraParams slow = *GcraParams::Make(Rate{1, nanoseconds(year)}, 73);
  std::int64_t tat = 0;
  for (int i = 0; i < 73; ++i) {
    r = GcraStep(slow, tat, kMaxTime, 1);
    ASSERT_TRUE(r.decision.allowed);
    tat = r.new_tat;
  }
  r = GcraStep(slow, tat, kMaxTime, 1);
  EXPECT_FALSE(r.decision.allowed);
  EXPECT_EQ(r.decision.retry_after.count(), year);
  EXPECT_EQ(r.decision.reset_after.count(), 73 * year);
  // Clock readings outside [0, kMaxTime] are clamped before use.
  EXPECT_EQ(ClampTime(-5), 0);
  EXPECT_EQ(ClampTime(INT64_MAX), kMaxTime);
}

}  // namespace
}  // namespace sluice
