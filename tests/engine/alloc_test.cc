// Proves the decision path never touches the heap: global operator new is replaced by a
// counting one, and steady-state checks must leave the count unchanged.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "sluice/limiter.h"
#include "support/alloc_counter.h"

namespace sluice {
namespace {

// The counter itself: without this a broken replacement would pass every zero-count test.
TEST(AllocationTest, TheCounterSeesAnAllocation) {
  const long before = sluice::testing::Allocations();
  void* p = ::operator new(16);  // a call, not a new-expression: cannot be elided
  const long after = sluice::testing::Allocations();
  ::operator delete(p);
  EXPECT_EQ(after - before, 1);
}

TEST(AllocationTest, DecisionsNeverAllocate) {
  LimiterOptions options;
  options.capacity = 4096;
  options.policies.push_back({"a", Rate{100, std::chrono::seconds(1)}, 10});
  options.policies.push_back({"b", Rate{5, std::chrono::seconds(1)}, 2});
  auto limiter = Limiter::Create(options);
  ASSERT_TRUE(limiter.ok());
  Limiter& l = **limiter;
  std::vector<std::string> keys;
  for (int i = 0; i < 50000; ++i) keys.push_back("client-" + std::to_string(i));  // > capacity
  std::vector<Request> batch;
  for (int i = 0; i < 64; ++i) batch.push_back({PolicyId{0}, keys[static_cast<std::size_t>(i)], 1});
  std::vector<Decision> out(batch.size());
  PolicyCheck checks[2] = {{PolicyId{0}, keys[0], 1, false}, {PolicyId{1}, keys[0], 1, true}};
  Decision multi_out[2];
  std::mt19937 rng(5);

  const long before = sluice::testing::Allocations();
  long admitted = 0;
  for (int i = 0; i < 300000; ++i) {
    const std::chrono::nanoseconds now{static_cast<long>(i) * 1000};
    const std::string& key = keys[rng() % keys.size()];
    admitted += l.Check(PolicyId{static_cast<std::uint32_t>(i & 1)}, key, now).allowed ? 1 : 0;
    if (i % 1000 == 0) {
      l.CheckBatch(batch, now, out);
      checks[0].key = checks[1].key = key;
      (void)l.CheckAll(checks, now, multi_out);
      (void)l.Stats();
    }
  }
  const long after = sluice::testing::Allocations();
  EXPECT_EQ(after - before, 0);
  EXPECT_GT(admitted, 0);
  EXPECT_GT(l.Stats().evictions, 0u);  // the table was full and kept working in place
}

}  // namespace
}  // namespace sluice
