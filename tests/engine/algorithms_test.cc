// The lab's algorithms against vectors derived by hand from the rules in their headers, and
// token-bucket against gcra decision by decision.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/fixed_window.h"
#include "algorithms/gcra_limiter.h"
#include "algorithms/gcra_map.h"
#include "algorithms/leaky_bucket.h"
#include "algorithms/sliding_log.h"
#include "algorithms/sliding_window_counter.h"
#include "algorithms/token_bucket.h"

namespace sluice::algorithms {
namespace {

using std::chrono::nanoseconds;

static_assert(Algorithm<GcraAlgorithm>);
static_assert(Algorithm<TokenBucket>);
static_assert(Algorithm<LeakyBucket>);
static_assert(Algorithm<FixedWindow>);
static_assert(Algorithm<SlidingWindowCounter>);
static_assert(Algorithm<SlidingLog>);
static_assert(Replayable<GcraAlgorithm>);
static_assert(Replayable<TokenBucket>);
static_assert(Replayable<LeakyBucket>);
static_assert(Replayable<FixedWindow>);
static_assert(Replayable<SlidingWindowCounter>);
static_assert(Replayable<SlidingLog>);

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kNo = -2;  // "do not check this field"

AlgorithmConfig Config(std::uint64_t count, std::int64_t period_ns, std::uint64_t burst) {
  AlgorithmConfig c;
  c.rate = Rate{count, nanoseconds{period_ns}};
  c.burst = burst;
  c.capacity = 1024;
  c.seed = HashSeed{{1, 2, 3, 4}};
  return c;
}

struct Step {
  std::int64_t t;
  std::uint64_t cost;
  bool allowed;
  std::int64_t remaining;
  std::int64_t retry_after;
  std::int64_t reset_after = kNo;
};

template <Algorithm A>
void Expect(const AlgorithmConfig& config, const std::vector<Step>& steps) {
  auto a = A::Create(config);
  ASSERT_TRUE(a.ok()) << a.status();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    const Decision peek = (*a)->Peek("k", nanoseconds{s.t}, s.cost);
    const Decision d = (*a)->Check("k", nanoseconds{s.t}, s.cost);
    SCOPED_TRACE(::testing::Message() << A::kName << " step " << i << " t=" << s.t);
    EXPECT_EQ(peek, d) << "Peek must answer what Check does";
    EXPECT_EQ(d.allowed, s.allowed);
    EXPECT_EQ(d.remaining, s.remaining);
    EXPECT_EQ(d.retry_after.count(), s.retry_after);
    if (s.reset_after != kNo) {
      EXPECT_EQ(d.reset_after.count(), s.reset_after);
    }
  }
}

// 1/s, burst 2: T = 1 s, a fresh key holds 2 s of credit.
const std::vector<Step> kBucketVector = {
    {0, 1, true, 1, 0, 1 * kS},
    {0, 1, true, 0, 0, 2 * kS},
    {0, 1, false, 0, 1 * kS, 2 * kS},
    {1 * kS - 1, 1, false, 0, 1, 1 * kS + 1},
    {1 * kS, 1, true, 0, 0, 2 * kS},
    {1 * kS, 3, false, 0, -1, 2 * kS},  // cost above the burst: never
    {4 * kS, 2, true, 0, 0, 2 * kS},    // idle long enough: the full burst at once
    {4 * kS, 0, true, 0, 0, 2 * kS},    // cost 0 asks
};

TEST(TokenBucketTest, HandVector) { Expect<TokenBucket>(Config(1, kS, 2), kBucketVector); }
TEST(GcraAlgorithmTest, HandVector) { Expect<GcraAlgorithm>(Config(1, kS, 2), kBucketVector); }

TEST(LeakyBucketTest, HandVector) {
  // 1/s: rate_m = 1000 milli-requests per second, one per ms. Burst 2: excess up to 2000.
  Expect<LeakyBucket>(Config(1, kS, 2), {
                                            {0, 1, true, 1, 0, 1 * kS},  // excess 1000
                                            {0, 1, true, 0, 0, 2 * kS},  // excess 2000
                                            {0, 1, false, 0, 1 * kS, 2 * kS},
                                            {999 * kMs, 1, false, 0, 1 * kMs},
                                            {1 * kS, 1, true, 0, 0, 2 * kS},  // 2000-1000+1000
                                            {1500 * kMs, 1, false, 0, 500 * kMs},
                                            {2 * kS + 999'999, 1, true, 0, 0},  // same ms as 2 s
                                            {1 * kS, 9, false, 0, -1},          // never
                                        });
}

TEST(LeakyBucketTest, DropsFractionsLikeNginx) {
  // 3/s: rate_m = 3000. After 333 ms only 999 milli-requests have leaked.
  Expect<LeakyBucket>(Config(3, kS, 1), {
                                            {0, 1, true, 0, 0},
                                            {333 * kMs, 1, false, 0, 1 * kMs},  // 334 ms
                                            {334 * kMs, 1, true, 0, 0},         // leaked 1002
                                        });
}

TEST(FixedWindowTest, HandVector) {
  // 3 per second; the burst is ignored.
  Expect<FixedWindow>(Config(3, kS, 50), {
                                             {900 * kMs, 1, true, 2, 0, 100 * kMs},
                                             {900 * kMs, 2, true, 0, 0, 100 * kMs},
                                             {999 * kMs, 1, false, 0, 1 * kMs, 1 * kMs},
                                             {1 * kS, 3, true, 0, 0, 1 * kS},  // new window
                                             {1 * kS, 4, false, 0, -1},        // never
                                             {3 * kS, 0, true, 3, 0, 0},
                                         });
}

TEST(SlidingWindowCounterTest, HandVector) {
  // 4 per second. Four at 0.5 s fill window 0. In window 1 the estimate is
  // 4 * (1 s - e) / 1 s + current: a fifth fits when 4 * (1 - e) + 1 <= 4, e >= 0.25 s.
  Expect<SlidingWindowCounter>(Config(4, kS, 1), {
                                                     {500 * kMs, 4, true, 0, 0, 2 * kS - 500 * kMs},
                                                     {500 * kMs, 1, false, 0, 750 * kMs},
                                                     {1250 * kMs - 1, 1, false, 0, 1},
                                                     {1250 * kMs, 1, true, 0, 0},
                                                     // estimate 4 * 0.5 + 1 = 3: one more fits
                                                     {1500 * kMs, 1, true, 0, 0},
                                                     {1500 * kMs, 5, false, 0, -1},
                                                 });
}

TEST(SlidingLogTest, HandVector) {
  // 2 per second over (now - 1 s, now].
  Expect<SlidingLog>(Config(2, kS, 9), {
                                           {0, 1, true, 1, 0, 1 * kS},
                                           {400 * kMs, 1, true, 0, 0, 1 * kS},
                                           {500 * kMs, 1, false, 0, 500 * kMs},
                                           {1 * kS - 1, 1, false, 0, 1},
                                           {1 * kS, 1, true, 0, 0, 1 * kS},  // the entry at 0 left
                                           {1 * kS, 2, false, 0, 1 * kS},    // both must leave
                                           {1 * kS, 3, false, 0, -1},
                                       });
}

TEST(AlgorithmsTest, ImpossibleParametersAreErrors) {
  EXPECT_FALSE(TokenBucket::Create(Config(1, kS, 0)).ok());
  EXPECT_FALSE(LeakyBucket::Create(Config(1, kS, 0)).ok());
  EXPECT_FALSE(LeakyBucket::Create(Config(1, kS, LeakyBucket::kMaxBurst + 1)).ok());
  EXPECT_FALSE(LeakyBucket::Create(Config(1, 10000 * kS, 1)).ok());  // below 0.001/s
  EXPECT_FALSE(FixedWindow::Create(Config(0, kS, 1)).ok());
  EXPECT_FALSE(FixedWindow::Create(Config(FixedWindow::kMaxCount + 1, kS, 1)).ok());
  EXPECT_FALSE(SlidingWindowCounter::Create(Config(1, 0, 1)).ok());
  EXPECT_FALSE(SlidingLog::Create(Config(0, kS, 1)).ok());
  EXPECT_FALSE(GcraAlgorithm::Create(Config(1, kS, 0)).ok());
}

// Token bucket and GCRA are one algorithm: for equal rate and burst they give the same
// Decision (every field) for every request, including costs 0 and above the burst. Checked
// against the exact GCRA map (the oracle) and the engine (Limiter), with time going forwards
// and, in the second run, also backwards. A cost-0 ask stores nothing in any of the three.
void ExpectTokenBucketIsGcra(bool backwards) {
  std::mt19937_64 rng(42);
  const std::vector<std::pair<Rate, std::uint64_t>> policies = {
      {Rate{1, nanoseconds{kS}}, 1},   {Rate{10, nanoseconds{kS}}, 20},
      {Rate{3, nanoseconds{kS}}, 7},   {Rate{1000, nanoseconds{60 * kS}}, 100},
      {Rate{7, nanoseconds{1000}}, 3}, {Rate{1'000'000'000, nanoseconds{kS}}, 5},
  };
  for (const auto& [rate, burst] : policies) {
    AlgorithmConfig config = Config(rate.count, rate.period.count(), burst);
    config.capacity = 1 << 16;
    auto tb = TokenBucket::Create(config);
    auto gcra = GcraAlgorithm::Create(config);
    ASSERT_TRUE(tb.ok() && gcra.ok());
    GcraMap oracle((*gcra)->params());
    const std::int64_t t_unit = (*gcra)->params().emission_interval;
    std::int64_t now = 1000;
    std::uniform_int_distribution<int> key(0, 9);
    std::uniform_int_distribution<std::uint64_t> cost(0, burst + 1);
    std::uniform_int_distribution<std::int64_t> step(backwards ? -t_unit / 4 : 0, 2 * t_unit);
    for (int i = 0; i < 20000; ++i) {
      now = std::max<std::int64_t>(0, now + step(rng));
      const std::string k = "key-" + std::to_string(key(rng));
      const std::uint64_t c = cost(rng);
      const Decision want = oracle.Check(k, nanoseconds{now}, c);
      ASSERT_EQ((*tb)->Check(k, nanoseconds{now}, c), want)
          << rate.ToString() << " burst " << burst << " request " << i;
      ASSERT_EQ((*gcra)->Check(k, nanoseconds{now}, c), want)
          << rate.ToString() << " burst " << burst << " request " << i;
    }
    EXPECT_EQ((*tb)->displaced(), 0u);
  }
}

TEST(TokenBucketTest, AgreesWithGcraOnEveryDecision) { ExpectTokenBucketIsGcra(false); }

// Same seed, same key space, same table: even when a small table evicts, token-bucket and the
// engine evict the same keys and decide alike.
TEST(TokenBucketTest, AgreesWithTheEngineWhenTheTableEvicts) {
  AlgorithmConfig config = Config(5, kS, 3);
  config.capacity = 1;  // 64 buckets of 4 slots
  auto tb = TokenBucket::Create(config);
  auto gcra = GcraAlgorithm::Create(config);
  ASSERT_TRUE(tb.ok() && gcra.ok());
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> key(0, 999);
  std::int64_t now = 0;
  for (int i = 0; i < 50000; ++i) {
    now += 1000;
    const std::string k = "key-" + std::to_string(key(rng));
    ASSERT_EQ((*tb)->Check(k, nanoseconds{now}, 1), (*gcra)->Check(k, nanoseconds{now}, 1))
        << "request " << i;
  }
  EXPECT_GT((*tb)->displaced(), 0u);
  EXPECT_EQ((*tb)->displaced(), (*gcra)->displaced());
}
TEST(TokenBucketTest, AgreesWithGcraOracleWhenTimeGoesBackwards) { ExpectTokenBucketIsGcra(true); }

// Decide on states the caller holds answers as Check does through the algorithm's own table
// (large enough that nothing is evicted), decision by decision, time going backwards included.
template <Replayable A>
void ExpectDecideIsCheck(const AlgorithmConfig& config) {
  auto checked = A::Create(config);
  ASSERT_TRUE(checked.ok()) << checked.status();
  std::vector<typename A::KeyState> states(16);
  std::mt19937_64 rng(7);
  std::int64_t t = 5 * kS;
  for (int i = 0; i < 20'000; ++i) {
    t += static_cast<std::int64_t>(rng() %
                                   static_cast<std::uint64_t>(config.rate.period.count() / 4 + 1));
    const std::int64_t now = rng() % 50 == 0 ? t - static_cast<std::int64_t>(rng() % kS) : t;
    const std::size_t key = rng() % states.size();
    const std::uint64_t cost = rng() % 8 == 0 ? 2 : 1;
    const Decision want = (*checked)->Check("k" + std::to_string(key), nanoseconds{now}, cost);
    const Decision got = (*checked)->Decide(states[key], nanoseconds{now}, cost);
    ASSERT_EQ(got, want) << A::kName << " decision " << i;
  }
}

TEST(ReplayableTest, DecideIsCheckForEveryAlgorithm) {
  const AlgorithmConfig c = Config(10, kS, 5);
  ExpectDecideIsCheck<GcraAlgorithm>(c);
  ExpectDecideIsCheck<TokenBucket>(c);
  ExpectDecideIsCheck<LeakyBucket>(c);
  ExpectDecideIsCheck<FixedWindow>(c);
  ExpectDecideIsCheck<SlidingWindowCounter>(c);
  ExpectDecideIsCheck<SlidingLog>(c);
}

}  // namespace
}  // namespace sluice::algorithms
