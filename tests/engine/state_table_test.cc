#include "sluice/state_table.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "algorithms/gcra_map.h"
#include "sluice/gcra.h"
#include "sluice/rate.h"

namespace sluice {
namespace {

using std::chrono::nanoseconds;
constexpr std::int64_t kSec = 1'000'000'000;

std::unique_ptr<StateTable> Table(std::size_t capacity, WhenFull when_full = WhenFull::kEvict) {
  auto t = StateTable::Create(capacity, when_full);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

GcraParams Params(std::uint64_t count, std::int64_t period_ns, std::uint64_t burst) {
  return *GcraParams::Make(Rate{count, nanoseconds(period_ns)}, burst);
}

// Hashes that land in bucket `bucket` of any table with at least bucket+1 buckets, with
// distinct tags.
std::uint64_t HashInBucket(std::uint64_t bucket, std::uint64_t n) {
  return ((n + 1) << 32) | bucket;
}

TEST(StateTableTest, CapacityRoundsUpAndMemoryIsSixteenBytesPerKey) {
  auto t = Table(1000);
  EXPECT_EQ(t->capacity(), 1024u);
  EXPECT_EQ(t->Stats().memory_bytes, 1024u * 16);
  EXPECT_EQ(Table(1)->capacity(), StateTable::kMinBuckets * 4);
  EXPECT_EQ(Table(1 << 20)->Stats().memory_bytes, (1u << 20) * 16);
  EXPECT_FALSE(StateTable::Create(0, WhenFull::kEvict).ok());
  EXPECT_FALSE(StateTable::Create(std::size_t{1} << 40, WhenFull::kEvict).ok());
}

TEST(StateTableTest, ParsesWhenFull) {
  EXPECT_EQ(*ParseWhenFull("evict"), WhenFull::kEvict);
  EXPECT_EQ(*ParseWhenFull("deny"), WhenFull::kDeny);
  EXPECT_EQ(*ParseWhenFull("allow"), WhenFull::kAllow);
  EXPECT_FALSE(ParseWhenFull("drop").ok());
  EXPECT_EQ(ToString(WhenFull::kDeny), "deny");
}

// With room for every key, the table answers exactly what the rule on an exact map answers.
TEST(StateTableTest, AgreesWithTheExactMapOracle) {
  auto table = Table(1 << 16);
  const GcraParams p = Params(5, kSec, 3);
  algorithms::GcraMap oracle(p);
  std::mt19937_64 rng(1);
  std::int64_t now = 0;
  for (int i = 0; i < 200000; ++i) {
    now += static_cast<std::int64_t>(rng() % 40'000'000);
    const std::uint64_t key = rng() % 500;
    const std::uint64_t cost = rng() % 5;
    const Decision expected = oracle.Check(std::to_string(key), nanoseconds(now), cost);
    const Decision got = table->Check(key * 0x9E3779B97F4A7C15ULL, p, nanoseconds(now), cost);
    ASSERT_EQ(got, expected) << "step " << i;
  }
  EXPECT_EQ(table->Stats().evictions, 0u);
}

TEST(StateTableTest, ExpiredSlotsAreReusedWithoutLoss) {
  auto table = Table(256);
  const GcraParams p = Params(1, kSec, 1);
  for (std::uint64_t k = 0; k < 4; ++k) {
    ASSERT_TRUE(table->Check(HashInBucket(3, k), p, nanoseconds(0), 1).allowed);
  }
  EXPECT_EQ(table->Stats().occupied, 4);
  // One ns before the four TATs pass, a fifth key must evict.
  // At their TAT they carry no information: a fifth key takes a slot losslessly.
  ASSERT_TRUE(table->Check(HashInBucket(3, 4), p, nanoseconds(kSec), 1).allowed);
  TableStats s = table->Stats();
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_EQ(s.reused_expired, 1u);
  EXPECT_EQ(s.occupied, 4);
  // The key that lost its slot is indistinguishable from one that kept it.
  const Decision d = table->Check(HashInBucket(3, 0), p, nanoseconds(kSec), 1);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
}

TEST(StateTableTest, FullBucketEvictsTheKeyClosestToExpiry) {
  auto table = Table(256, WhenFull::kEvict);
  const GcraParams p = Params(1, kSec, 10);
  // Key k makes k+1 requests: key 0 has the smallest TAT.
  for (std::uint64_t k = 0; k < 4; ++k) {
    for (std::uint64_t i = 0; i <= k; ++i) {
      ASSERT_TRUE(table->Check(HashInBucket(9, k), p, nanoseconds(0), 1).allowed);
    }
  }
  EXPECT_TRUE(table->Check(HashInBucket(9, 4), p, nanoseconds(0), 1).allowed);
  EXPECT_EQ(table->Stats().evictions, 1u);
  // Key 3 kept its state (4 used, 6 left after this one)...
  EXPECT_EQ(table->Check(HashInBucket(9, 3), p, nanoseconds(0), 1).remaining, 5);
  // ...key 0 forgot it (as if fresh: 9 left), and its return evicts another key.
  EXPECT_EQ(table->Check(HashInBucket(9, 0), p, nanoseconds(0), 1).remaining, 9);
  EXPECT_EQ(table->Stats().evictions, 2u);
  // Other buckets were never touched.
  EXPECT_EQ(table->Check(HashInBucket(10, 0), p, nanoseconds(0), 1).remaining, 9);
}

TEST(StateTableTest, FullBucketDeniesWithTheWaitForAFreeSlot) {
  auto table = Table(256, WhenFull::kDeny);
  const GcraParams p = Params(1, kSec, 10);
  for (std::uint64_t k = 0; k < 4; ++k) {
    for (std::uint64_t i = 0; i <= k; ++i) {
      ASSERT_TRUE(table->Check(HashInBucket(9, k), p, nanoseconds(0), 1).allowed);
    }
  }
  const Decision d = table->Check(HashInBucket(9, 4), p, nanoseconds(0), 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, nanoseconds(kSec));  // key 0's TAT
  EXPECT_EQ(table->Stats().full_denied, 1u);
  EXPECT_EQ(table->Stats().evictions, 0u);
  // Residents are unaffected; after the wait the newcomer gets key 0's expired slot.
  EXPECT_EQ(table->Check(HashInBucket(9, 0), p, nanoseconds(0), 1).remaining, 8);
  EXPECT_FALSE(table->Check(HashInBucket(9, 4), p, nanoseconds(kSec), 1).allowed);
  EXPECT_TRUE(table->Check(HashInBucket(9, 4), p, nanoseconds(2 * kSec), 1).allowed);
}

TEST(StateTableTest, FullBucketAllowsWithoutState) {
  auto table = Table(256, WhenFull::kAllow);
  const GcraParams p = Params(1, kSec, 1);
  for (std::uint64_t k = 0; k < 4; ++k) {
    ASSERT_TRUE(table->Check(HashInBucket(2, k), p, nanoseconds(0), 1).allowed);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(table->Check(HashInBucket(2, 4), p, nanoseconds(0), 1).allowed);
  }
  EXPECT_EQ(table->Stats().full_allowed, 3u);
  EXPECT_FALSE(table->Check(HashInBucket(2, 0), p, nanoseconds(0), 1).allowed);
}

TEST(StateTableTest, NeverAdmissibleCostLeavesNoState) {
  auto table = Table(256);
  const GcraParams p = Params(1, kSec, 2);
  const Decision d = table->Check(HashInBucket(0, 0), p, nanoseconds(0), 3);
  EXPECT_TRUE(d.never());
  EXPECT_EQ(d.remaining, 2);
  EXPECT_EQ(table->Stats().occupied, 0);
  EXPECT_EQ(table->Stats().installs, 0u);
}

TEST(StateTableTest, RefundGivesBackExactly) {
  auto table = Table(256);
  const GcraParams p = Params(1, kSec, 5);
  const std::uint64_t h = HashInBucket(1, 0);
  ASSERT_EQ(table->Check(h, p, nanoseconds(0), 3).remaining, 2);
  table->Refund(h, p, 3);
  EXPECT_EQ(table->Check(h, p, nanoseconds(0), 0).remaining, 5);
  table->Refund(HashInBucket(1, 7), p, 1);  // absent key: nothing to do
  EXPECT_EQ(table->Stats().occupied, 1);
}

TEST(StateTableTest, CountsLiveKeys) {
  auto table = Table(1024);
  const GcraParams p = Params(1, kSec, 1);
  for (std::uint64_t k = 0; k < 100; ++k) {
    ASSERT_TRUE(table->Check(k * 0x9E3779B97F4A7C15ULL, p, nanoseconds(k), 1).allowed);
  }
  EXPECT_EQ(table->CountLive(nanoseconds(0)), 100u);
  EXPECT_EQ(table->CountLive(nanoseconds(kSec + 50)), 49u);  // TATs kSec+k for k in 51..99
  EXPECT_EQ(table->Stats().installs, 100u);
}

TEST(StateTableTest, ManyMoreKeysThanCapacityNeverGrowMemory) {
  auto table = Table(1024);
  const TableStats before = table->Stats();
  const GcraParams p = Params(1, kSec, 1);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200000; ++i) {
    (void)table->Check(rng(), p, nanoseconds(i), 1);
  }
  const TableStats after = table->Stats();
  EXPECT_EQ(after.memory_bytes, before.memory_bytes);
  EXPECT_EQ(after.capacity, before.capacity);
  EXPECT_LE(after.occupied, static_cast<std::int64_t>(after.capacity));
  EXPECT_GT(after.evictions, 0u);
}

}  // namespace
}  // namespace sluice
