// Conservation under contention for the lab's algorithms, as concurrency_test.cc does for the
// engine: threads advance through simulated time in lock step (a barrier per step, in the test
// only), so at each step every key admits exactly what a single-threaded run of the same
// requests at the same `now` admits, whatever the interleaving. Run under TSan in CI.
#include <gtest/gtest.h>

#include <barrier>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "algorithms/algorithm.h"
#include "algorithms/fixed_window.h"
#include "algorithms/leaky_bucket.h"
#include "algorithms/sliding_log.h"
#include "algorithms/sliding_window_counter.h"
#include "algorithms/token_bucket.h"

namespace sluice::algorithms {
namespace {

using std::chrono::nanoseconds;

constexpr std::size_t kThreads = 4;
constexpr std::size_t kSteps = 40;
constexpr std::size_t kKeys = 8;
constexpr std::size_t kRequests = 6;  // per thread, key and step
constexpr std::int64_t kStepNs = 70'000'000;

// `fresh_keys`: new keys at every step, so every step races installs of the same new key.
template <Algorithm A>
void ExpectConservation(bool fresh_keys = false) {
  AlgorithmConfig config;
  config.rate = Rate{10, nanoseconds{1'000'000'000}};
  config.burst = 5;
  config.capacity = 1 << 16;
  config.seed = HashSeed{{7, 8, 9, 10}};
  auto shared = A::Create(config);
  auto oracle = A::Create(config);
  ASSERT_TRUE(shared.ok() && oracle.ok());

  const auto key_name = [&](std::size_t step, std::size_t k) {
    return "key-" + std::to_string(fresh_keys ? step * kKeys + k : k);
  };
  // admitted[thread][step][key]
  std::vector<std::vector<std::vector<int>>> admitted(
      kThreads, std::vector<std::vector<int>>(kSteps, std::vector<int>(kKeys, 0)));
  std::vector<std::vector<std::string>> names(kSteps);
  for (std::size_t s = 0; s < kSteps; ++s) {
    for (std::size_t k = 0; k < kKeys; ++k) names[s].push_back(key_name(s, k));
  }
  std::barrier sync(static_cast<std::ptrdiff_t>(kThreads));
  std::vector<std::thread> threads;
  for (std::size_t th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (std::size_t s = 0; s < kSteps; ++s) {
        const nanoseconds now{1'000'000 + static_cast<std::int64_t>(s) * kStepNs};
        for (std::size_t r = 0; r < kRequests; ++r) {
          for (std::size_t k = 0; k < kKeys; ++k) {
            const std::size_t key = (k + th) % kKeys;  // threads start on different keys
            admitted[th][s][key] += (*shared)->Check(names[s][key], now, 1).allowed ? 1 : 0;
          }
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::int64_t total = 0;
  for (std::size_t s = 0; s < kSteps; ++s) {
    const nanoseconds now{1'000'000 + static_cast<std::int64_t>(s) * kStepNs};
    for (std::size_t k = 0; k < kKeys; ++k) {
      int want = 0;
      for (std::size_t r = 0; r < kThreads * kRequests; ++r) {
        want += (*oracle)->Check(names[s][k], now, 1).allowed ? 1 : 0;
      }
      int got = 0;
      for (std::size_t th = 0; th < kThreads; ++th) got += admitted[th][s][k];
      ASSERT_EQ(got, want) << A::kName << " step " << s << " key " << k;
      total += got;
    }
  }
  EXPECT_GT(total, 0);
  EXPECT_LT(total,
            static_cast<std::int64_t>(kThreads * kSteps * kKeys * kRequests));  // the limit bit
}

TEST(AlgorithmsConcurrencyTest, TokenBucketConserves) { ExpectConservation<TokenBucket>(); }
TEST(AlgorithmsConcurrencyTest, LeakyBucketConserves) { ExpectConservation<LeakyBucket>(); }
TEST(AlgorithmsConcurrencyTest, FixedWindowConserves) { ExpectConservation<FixedWindow>(); }
TEST(AlgorithmsConcurrencyTest, SlidingWindowCounterConserves) {
  ExpectConservation<SlidingWindowCounter>();
}
TEST(AlgorithmsConcurrencyTest, SlidingLogConserves) { ExpectConservation<SlidingLog>(); }
TEST(AlgorithmsConcurrencyTest, TokenBucketConservesRacingInstalls) {
  ExpectConservation<TokenBucket>(true);
}
TEST(AlgorithmsConcurrencyTest, LeakyBucketConservesRacingInstalls) {
  ExpectConservation<LeakyBucket>(true);
}
TEST(AlgorithmsConcurrencyTest, FixedWindowConservesRacingInstalls) {
  ExpectConservation<FixedWindow>(true);
}

}  // namespace
}  // namespace sluice::algorithms
