// The lab end to end: scenarios, the overshoot measure and the boundary attack.
#include "sim/lab.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace sluice::sim {
namespace {

using std::chrono::nanoseconds;

algorithms::AlgorithmConfig Config(const Rate& rate, std::uint64_t burst) {
  algorithms::AlgorithmConfig c;
  c.rate = rate;
  c.burst = burst;
  c.capacity = 1 << 16;
  c.seed = HashSeed{{1, 2, 3, 4}};
  return c;
}

LabResult Replay(std::string_view algorithm, const Rate& rate, std::uint64_t burst,
                 const std::vector<TraceRecord>& trace) {
  auto r = RunAlgorithm(algorithm, Config(rate, burst), trace, LabOptions{});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : LabResult{};
}

TEST(LabTest, BoundaryAttackDoublesTheFixedWindowButNotTheSlidingLog) {
  const Rate rate{100, nanoseconds{1'000'000'000}};
  ScenarioOptions o;
  o.name = "boundary-attack";
  o.rate = rate;
  o.duration = nanoseconds{10'000'000'000};
  auto trace = MakeScenario(o);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_EQ(trace->size(), 5u * 2 * 100);  // 5 attacked edges, 100 before and 100 after each

  const LabResult fixed = Replay("fixed-window", rate, 1, *trace);
  EXPECT_EQ(fixed.admitted, trace->size());  // every request: the count restarts at the edge
  EXPECT_EQ(fixed.worst_overshoot, 100);     // 200 admitted within microseconds: twice the limit

  const LabResult log = Replay("sliding-log", rate, 1, *trace);
  EXPECT_EQ(log.worst_overshoot, 0);  // the limit exactly, never more
  EXPECT_EQ(log.admitted, 5u * 100);

  const LabResult swc = Replay("sliding-window-counter", rate, 1, *trace);
  EXPECT_LE(swc.worst_overshoot, 0);
}

TEST(LabTest, SlidingLogNeverExceedsTheLimitInAnyWindow) {
  const Rate rate{20, nanoseconds{1'000'000'000}};
  for (const char* scenario : {"poisson", "on-off", "zipf-keys", "boundary-attack"}) {
    ScenarioOptions o;
    o.name = scenario;
    o.rate = rate;
    o.rps = 200;
    o.keys = 5;
    o.duration = nanoseconds{20'000'000'000};
    auto trace = MakeScenario(o);
    ASSERT_TRUE(trace.ok()) << trace.status();
    const LabResult log = Replay("sliding-log", rate, 1, *trace);
    EXPECT_EQ(log.worst_overshoot, 0) << scenario;     // reaches the limit, never above it
    EXPECT_EQ(log.retry_error_max_ns, 0) << scenario;  // exact retry_after
  }
}

TEST(LabTest, ExactRetryAfterForGcraTokenBucketAndFixedWindow) {
  const Rate rate{10, nanoseconds{1'000'000'000}};
  ScenarioOptions o;
  o.name = "poisson";
  o.rate = rate;
  o.keys = 3;
  o.rps = 100;
  auto trace = MakeScenario(o);
  ASSERT_TRUE(trace.ok());
  for (const char* name : {"gcra", "token-bucket", "fixed-window", "sliding-window-counter"}) {
    const LabResult r = Replay(name, rate, 5, *trace);
    EXPECT_GT(r.retry_samples, 0u) << name;
    EXPECT_EQ(r.retry_error_max_ns, 0) << name;
  }
  EXPECT_EQ(Replay("gcra", rate, 5, *trace).decisions,
            Replay("token-bucket", rate, 5, *trace).decisions);
}

TEST(LabTest, WorstOvershootCountsPerKeyWithinOnePeriod) {
  const std::vector<TraceRecord> trace = {
      {0, "a", 1}, {999, "a", 2}, {1000, "a", 1}, {500, "b", 5}};
  std::vector<Decision> d(trace.size());
  for (Decision& x : d) x.allowed = true;
  // Period 1000: a's window (t - 1000, t] holds at most 3 (999 and 1000), b's holds 5.
  EXPECT_EQ(WorstOvershoot(trace, d, 1000, 4), 1);
  d[3].allowed = false;
  EXPECT_EQ(WorstOvershoot(trace, d, 1000, 4), -1);  // a alone: 3, one under the limit
}

TEST(LabTest, ErrorsNameTheProblem) {
  EXPECT_FALSE(ResolveAlgorithms("nope").ok());
  EXPECT_EQ(ResolveAlgorithms("all")->size(), 6u);
  ScenarioOptions o;
  o.rate = Rate{1, nanoseconds{1'000'000'000}};
  o.name = "nope";
  EXPECT_FALSE(MakeScenario(o).ok());
  o.name = "poisson";
  o.duration = nanoseconds{0};
  EXPECT_FALSE(MakeScenario(o).ok());
  o.duration = nanoseconds{1'000'000'000'000'000};
  o.rps = 1e6;
  EXPECT_FALSE(MakeScenario(o).ok());  // too many requests
}

}  // namespace
}  // namespace sluice::sim
