// The idle pool's rules (idle_pool.h): LIFO reuse, the idle limit, max requests, the idle
// timeout at its exact boundary, removal of a connection its upstream closed.
#include "sluice/net/proxy/idle_pool.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace sluice::net {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(IdlePoolTest, TheNewestConnectionGoesOutFirst) {
  IdlePool pool;
  pool.Reset(4, 100, 50 * kSecond);
  ASSERT_TRUE(pool.Push(1, 0));
  ASSERT_TRUE(pool.Push(2, 1));
  ASSERT_TRUE(pool.Push(3, 2));
  std::uint32_t id = 0;
  ASSERT_TRUE(pool.Pop(id));
  EXPECT_EQ(id, 3u);
  ASSERT_TRUE(pool.Push(4, 3));
  ASSERT_TRUE(pool.Pop(id));
  EXPECT_EQ(id, 4u);
  ASSERT_TRUE(pool.Pop(id));
  EXPECT_EQ(id, 2u);
  ASSERT_TRUE(pool.Pop(id));
  EXPECT_EQ(id, 1u);
  EXPECT_FALSE(pool.Pop(id));
  EXPECT_EQ(pool.size(), 0u);
}

TEST(IdlePoolTest, KeepsAtMostItsCapacity) {
  IdlePool pool;
  pool.Reset(2, 100, kSecond);
  EXPECT_TRUE(pool.Push(1, 0));
  EXPECT_TRUE(pool.Push(2, 0));
  EXPECT_FALSE(pool.Push(3, 0));  // the caller closes it
  EXPECT_EQ(pool.size(), 2u);
  pool.Reset(0, 100, kSecond);  // idle_per_shard: 0 means no pooling at all
  EXPECT_FALSE(pool.Reusable(0));
  EXPECT_FALSE(pool.Push(1, 0));
}

TEST(IdlePoolTest, AConnectionThatServedMaxRequestsIsNotKept) {
  IdlePool pool;
  pool.Reset(4, 3, kSecond);
  EXPECT_TRUE(pool.Reusable(1));
  EXPECT_TRUE(pool.Reusable(2));
  EXPECT_FALSE(pool.Reusable(3));
  EXPECT_FALSE(pool.Reusable(4));
}

TEST(IdlePoolTest, TheIdleTimeoutExpiresTheOldestFirstAtItsBoundary) {
  IdlePool pool;
  pool.Reset(4, 100, 10 * kSecond);
  ASSERT_TRUE(pool.Push(7, 0));
  ASSERT_TRUE(pool.Push(8, 5 * kSecond));
  std::uint32_t id = 0;
  EXPECT_FALSE(pool.PopExpired(10 * kSecond, id));  // idle exactly the timeout: kept
  ASSERT_TRUE(pool.PopExpired(10 * kSecond + 1, id));
  EXPECT_EQ(id, 7u);
  EXPECT_FALSE(pool.PopExpired(15 * kSecond, id));
  ASSERT_TRUE(pool.PopExpired(15 * kSecond + 1, id));
  EXPECT_EQ(id, 8u);
  EXPECT_EQ(pool.size(), 0u);
}

TEST(IdlePoolTest, AClosedConnectionIsTakenOutWhereverItIs) {
  IdlePool pool;
  pool.Reset(4, 100, kSecond);
  ASSERT_TRUE(pool.Push(1, 0));
  ASSERT_TRUE(pool.Push(2, 1));
  ASSERT_TRUE(pool.Push(3, 2));
  EXPECT_TRUE(pool.Remove(2));
  EXPECT_FALSE(pool.Remove(2));
  std::uint32_t id = 0;
  ASSERT_TRUE(pool.Pop(id));
  EXPECT_EQ(id, 3u);
  ASSERT_TRUE(pool.Pop(id));
  EXPECT_EQ(id, 1u);  // the order of the rest is kept
}

}  // namespace
}  // namespace sluice::net
