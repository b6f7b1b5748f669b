// Conservation under contention. Threads advance through simulated time in lock step (a
// barrier per step, in the test only: the engine has no locks), so at every step the rule
// itself says exactly how many requests each key admits, whatever the interleaving. The sum
// over threads must equal the single-threaded oracle at every step: no over-admission and no
// lost admission. Run under TSan in CI.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "algorithms/gcra_map.h"
#include "internal/state_table_test_peer.h"
#include "sluice/limiter.h"

namespace sluice {
namespace {

using std::chrono::nanoseconds;

struct Scenario {
  int threads;
  int steps;
  int keys;         // distinct keys per step
  bool fresh_keys;  // new keys at every step (every step races installs)
  int requests;     // per thread, per key, per step
  std::int64_t step_ns;
  std::uint64_t burst;
  std::size_t capacity;
  bool split_reads = false;  // force the portable read path
  bool batch = false;        // decide through CheckBatch (kBatchChunk requests a call)
};

// Not a multiple of CheckBatch's prefetch group, so partial groups are decided too.
constexpr std::size_t kBatchChunk = 37;

std::string KeyName(const Scenario& s, int step, int k) {
  return "key-" + std::to_string(s.fresh_keys ? step * s.keys + k : k);
}

void RunConservation(const Scenario& s) {
  LimiterOptions options;
  options.capacity = s.capacity;
  // A fixed seed makes bucket placement repeatable; the evictions check below proves no bucket
  // overflowed (an evicted key would rightly break the exact count).
  options.seed = HashSeed{{1, 2, 3, 4}};
  options.policies.push_back({"p", Rate{1'000'000, std::chrono::seconds(1)}, s.burst});  // T = 1 us
  auto limiter = Limiter::Create(options);
  ASSERT_TRUE(limiter.ok()) << limiter.status();
  const PolicyId policy = *(*limiter)->FindPolicy("p");
  if (s.split_reads) internal::StateTableTestPeer::ForceSplitReads((*limiter)->table());

  // admitted[thread][step * keys + key]
  std::vector<std::vector<int>> admitted(
      static_cast<std::size_t>(s.threads),
      std::vector<int>(static_cast<std::size_t>(s.steps * s.keys), 0));
  std::barrier sync(s.threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < s.threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1u);
      std::vector<int> order(static_cast<std::size_t>(s.keys * s.requests));
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i) % s.keys;
      std::vector<std::string> names(static_cast<std::size_t>(s.keys));
      for (int step = 0; step < s.steps; ++step) {
        for (int k = 0; k < s.keys; ++k) names[static_cast<std::size_t>(k)] = KeyName(s, step, k);
        std::shuffle(order.begin(), order.end(), rng);
        sync.arrive_and_wait();
        const nanoseconds now{1'000'000 + step * s.step_ns};
        std::vector<int>& mine = admitted[static_cast<std::size_t>(t)];
        if (s.batch) {
          for (std::size_t base = 0; base < order.size(); base += kBatchChunk) {
            const std::size_t n = std::min(kBatchChunk, order.size() - base);
            Request requests[kBatchChunk];
            Decision out[kBatchChunk];
            for (std::size_t i = 0; i < n; ++i) {
              requests[i] = {policy, names[static_cast<std::size_t>(order[base + i])], 1};
            }
            (*limiter)->CheckBatch(std::span<const Request>(requests, n), now, out);
            for (std::size_t i = 0; i < n; ++i) {
              if (out[i].allowed) ++mine[static_cast<std::size_t>(step * s.keys + order[base + i])];
            }
          }
          continue;
        }
        for (const int k : order) {
          if ((*limiter)->Check(policy, names[static_cast<std::size_t>(k)], now).allowed) {
            ++mine[static_cast<std::size_t>(step * s.keys + k)];
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();

  algorithms::GcraMap oracle((*limiter)->policy(policy).params());
  long long total = 0;
  long long expected_total = 0;
  for (int step = 0; step < s.steps; ++step) {
    const nanoseconds now{1'000'000 + step * s.step_ns};
    for (int k = 0; k < s.keys; ++k) {
      int expected = 0;
      for (int r = 0; r < s.threads * s.requests; ++r) {
        expected += oracle.Check(KeyName(s, step, k), now, 1).allowed ? 1 : 0;
      }
      int got = 0;
      for (int t = 0; t < s.threads; ++t) {
        got += admitted[static_cast<std::size_t>(t)][static_cast<std::size_t>(step * s.keys + k)];
      }
      ASSERT_EQ(got, expected) << "step " << step << " key " << k;
      total += got;
      expected_total += expected;
    }
  }
  EXPECT_EQ(total, expected_total);
  EXPECT_GT(total, 0);
  EXPECT_EQ((*limiter)->Stats().evictions, 0u);
}

// (threads, portable read path)
class ConservationTest : public testing::TestWithParam<std::tuple<int, bool>> {
 protected:
  int threads() const { return std::get<0>(GetParam()); }
  bool split() const { return std::get<1>(GetParam()); }
};

// One hot key: T = 1 us, burst 8, 3.5 us per step, 6 requests per thread per step.
TEST_P(ConservationTest, OneHotKey) {
  RunConservation({.threads = threads(),
                   .steps = 400,
                   .keys = 1,
                   .fresh_keys = false,
                   .requests = 6,
                   .step_ns = 3500,
                   .burst = 8,
                   .capacity = 1024,
                   .split_reads = split()});
}

// Many keys hit in a different order by every thread.
TEST_P(ConservationTest, ManyKeys) {
  RunConservation({.threads = threads(),
                   .steps = 60,
                   .keys = 256,
                   .fresh_keys = false,
                   .requests = 2,
                   .step_ns = 2500,
                   .burst = 3,
                   .capacity = 1 << 14,
                   .split_reads = split()});
}

// Brand-new keys at every step: all threads race to install the same absent keys, and old
// keys expire so their slots are reused under contention. Burst 1: exactly one admission per
// key, however many threads ask at once.
TEST_P(ConservationTest, RacingInstallsOfFreshKeys) {
  RunConservation({.threads = threads(),
                   .steps = 60,
                   .keys = 200,
                   .fresh_keys = true,
                   .requests = 1,
                   .step_ns = 5000,
                   .burst = 1,
                   .capacity = 4096,
                   .split_reads = split()});
}

// The same two through CheckBatch, whose bucket pick differs from Check's (no branch on the
// matched slot) and which hashes and prefetches a group before deciding it.
TEST_P(ConservationTest, ManyKeysBatched) {
  RunConservation({.threads = threads(),
                   .steps = 60,
                   .keys = 256,
                   .fresh_keys = false,
                   .requests = 2,
                   .step_ns = 2500,
                   .burst = 3,
                   .capacity = 1 << 14,
                   .split_reads = split(),
                   .batch = true});
}

TEST_P(ConservationTest, RacingInstallsOfFreshKeysBatched) {
  RunConservation({.threads = threads(),
                   .steps = 60,
                   .keys = 200,
                   .fresh_keys = true,
                   .requests = 1,
                   .step_ns = 5000,
                   .burst = 1,
                   .capacity = 4096,
                   .split_reads = split(),
                   .batch = true});
}

INSTANTIATE_TEST_SUITE_P(Threads, ConservationTest,
                         testing::Combine(testing::Values(2, 4, 8), testing::Bool()),
                         [](const testing::TestParamInfo<std::tuple<int, bool>>& param) {
                           return std::to_string(std::get<0>(param.param)) + "Threads" +
                                  (std::get<1>(param.param) ? "SplitReads" : "");
                         });

}  // namespace
}  // namespace sluice
