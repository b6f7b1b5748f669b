// Server choice (balancer.h): round robin in turn, least_in_flight as the best of two random
// choices, passive ejection after consecutive failures and its end, retries avoiding the
// server that failed, 503 when every server is out.
#include "sluice/net/proxy/balancer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sluice::net {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(BalancerTest, RoundRobinTakesTheServersInTurn) {
  Balancer b;
  b.Reset(Balance::kRoundRobin, 3, 5, 30 * kSecond, 1);
  std::vector<int> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(b.Pick(0));
  EXPECT_EQ(picks, (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

TEST(BalancerTest, LeastInFlightPrefersTheLessBusyOfTwo) {
  Balancer b;
  b.Reset(Balance::kLeastInFlight, 2, 5, 30 * kSecond, 7);
  for (int i = 0; i < 10; ++i) b.Started(0);
  // With two servers both are always drawn: the idle one wins every time.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.Pick(0), 1);
}

TEST(BalancerTest, LeastInFlightSpreadsEqualLoadOverEveryServer) {
  Balancer b;
  b.Reset(Balance::kLeastInFlight, 4, 5, 30 * kSecond, 42);
  std::vector<int> counts(4, 0);
  for (int i = 0; i < 4000; ++i) {
    const int s = b.Pick(0);
    ASSERT_GE(s, 0);
    ++counts[static_cast<std::size_t>(s)];
    b.Started(static_cast<std::size_t>(s));
    if (i % 2 == 1) (void)b.Finished(static_cast<std::size_t>(s), false, 0);
  }
  for (const int c : counts) EXPECT_GT(c, 500);  // no server starved
}

TEST(BalancerTest, ConsecutiveFailuresEjectUntilTheTimePasses) {
  Balancer b;
  b.Reset(Balance::kRoundRobin, 2, 3, 30 * kSecond, 1);
  for (int i = 0; i < 2; ++i) {
    b.Started(0);
    EXPECT_FALSE(b.Finished(0, true, 0));
  }
  b.Started(0);
  (void)b.Finished(0, false, 0);  // a success clears the count
  for (int i = 0; i < 2; ++i) {
    b.Started(0);
    EXPECT_FALSE(b.Finished(0, true, 0));
  }
  b.Started(0);
  EXPECT_TRUE(b.Finished(0, true, kSecond));  // the third in a row ejects
  for (int i = 0; i < 4; ++i) EXPECT_EQ(b.Pick(2 * kSecond), 1);
  EXPECT_EQ(b.Pick(31 * kSecond - 1), 1);
  // Back at exactly the end of the ejection.
  std::vector<int> picks;
  for (int i = 0; i < 2; ++i) picks.push_back(b.Pick(31 * kSecond));
  EXPECT_NE(std::find(picks.begin(), picks.end(), 0), picks.end());
}

TEST(BalancerTest, EveryServerEjectedIsNoServer) {
  Balancer b;
  b.Reset(Balance::kLeastInFlight, 1, 1, 10 * kSecond, 1);
  b.Started(0);
  EXPECT_TRUE(b.Finished(0, true, 0));
  EXPECT_EQ(b.Pick(kSecond), -1);
  EXPECT_EQ(b.Pick(10 * kSecond), 0);
}

TEST(BalancerTest, ARetryAvoidsTheServerThatFailedWhenAnotherIsThere) {
  for (const Balance balance : {Balance::kRoundRobin, Balance::kLeastInFlight}) {
    Balancer b;
    b.Reset(balance, 3, 5, kSecond, 3);
    for (int i = 0; i < 50; ++i) EXPECT_NE(b.Pick(0, 1), 1);
    Balancer one;
    one.Reset(balance, 1, 5, kSecond, 3);
    EXPECT_EQ(one.Pick(0, 0), 0);  // the only server: tried again
  }
}

TEST(BalancerTest, EjectionOffNeverEjects) {
  Balancer b;
  b.Reset(Balance::kRoundRobin, 1, 0, kSecond, 1);
  for (int i = 0; i < 100; ++i) {
    b.Started(0);
    EXPECT_FALSE(b.Finished(0, true, 0));
  }
  EXPECT_EQ(b.Pick(0), 0);
  EXPECT_EQ(b.server(0).in_flight, 0u);
}

}  // namespace
}  // namespace sluice::net
