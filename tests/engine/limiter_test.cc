#include "sluice/limiter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "sluice/sluice.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

std::unique_ptr<Limiter> Make(std::vector<PolicyConfig> policies, std::size_t capacity = 4096) {
  LimiterOptions o;
  o.capacity = capacity;
  o.policies = std::move(policies);
  auto l = Limiter::Create(std::move(o));
  EXPECT_TRUE(l.ok()) << l.status();
  return *std::move(l);
}

TEST(LimiterTest, ConfigErrorsSayWhatIsWrong) {
  LimiterOptions o;
  auto none = Limiter::Create(o);
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("at least one policy"), std::string_view::npos);

  o.policies = {{"a", Rate{1, seconds(1)}, 1}, {"a", Rate{2, seconds(1)}, 1}};
  auto twice = Limiter::Create(o);
  EXPECT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("'a' is defined twice"), std::string_view::npos);

  o.policies = {{"zero", Rate{1, seconds(1)}, 0}};
  auto zero = Limiter::Create(o);
  EXPECT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("policy 'zero': burst"), std::string_view::npos);

  o.policies = {{"ok", Rate{1, seconds(1)}, 1}};
  o.capacity = 0;
  EXPECT_FALSE(Limiter::Create(o).ok());
}

TEST(LimiterTest, KeysAndPoliciesAreIndependent) {
  auto l = Make({{"per-ip", Rate{4, seconds(1)}, 4}, {"other", Rate{4, seconds(1)}, 4}});
  const PolicyId ip = *l->FindPolicy("per-ip");
  const PolicyId other = *l->FindPolicy("other");
  EXPECT_FALSE(l->FindPolicy("missing").has_value());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(l->Check(ip, "10.0.0.1", nanoseconds(0)).allowed);
  const Decision d = l->Check(ip, "10.0.0.1", nanoseconds(0));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds(250));
  EXPECT_TRUE(l->Check(ip, "10.0.0.2", nanoseconds(0)).allowed);
  EXPECT_TRUE(l->Check(other, "10.0.0.1", nanoseconds(0)).allowed);
}

TEST(LimiterTest, BatchAnswersWhatSequentialChecksAnswer) {
  const std::vector<PolicyConfig> policies = {{"a", Rate{3, seconds(1)}, 2},
                                              {"b", Rate{10, seconds(1)}, 5}};
  LimiterOptions o;
  o.policies = policies;
  o.seed = HashSeed{{5, 6, 7, 8}};
  auto one = *Limiter::Create(o);
  auto batched = *Limiter::Create(o);
  std::mt19937 rng(9);
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) keys.push_back("k" + std::to_string(rng() % 40));
  std::vector<Request> requests;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    requests.push_back({PolicyId{static_cast<std::uint32_t>(i % 2)}, keys[i], 1 + i % 3});
  }
  for (int round = 0; round < 5; ++round) {
    const nanoseconds now{round * 200'000'000LL};
    std::vector<Decision> out(requests.size());
    batched->CheckBatch(requests, now, out);
    for (std::size_t i = 0; i < requests.size(); ++i) {
      EXPECT_EQ(out[i], one->Check(requests[i].policy, requests[i].key, now, requests[i].cost))
          << round << " " << i;
    }
  }
}

// The same on a table far smaller than the key set (installs, evictions and reuse of expired
// slots inside every batch), at every batch size from 0 to past four prefetch groups, with
// keys repeated within a batch.
TEST(LimiterTest, BatchOfEverySizeAnswersWhatSequentialChecksAnswerOnAFullTable) {
  LimiterOptions o;
  o.capacity = 256;
  o.policies = {{"a", Rate{5, seconds(1)}, 2}, {"b", Rate{50, seconds(1)}, 4}};
  o.seed = HashSeed{{9, 8, 7, 6}};
  auto one = *Limiter::Create(o);
  auto batched = *Limiter::Create(o);
  std::mt19937 rng(21);
  std::vector<std::string> keys;
  for (int i = 0; i < 4000; ++i) keys.push_back("key-" + std::to_string(rng() % 900));
  std::size_t next = 0;
  std::int64_t now_ns = 0;
  for (std::size_t size = 0; size <= 70; ++size) {
    for (int repeat = 0; repeat < 3; ++repeat) {
      std::vector<Request> requests;
      for (std::size_t i = 0; i < size; ++i, ++next) {
        requests.push_back({PolicyId{static_cast<std::uint32_t>(next % 2)},
                            keys[next % keys.size()], next % 5 == 0 ? 0 : 1 + next % 3});
      }
      now_ns += 7'000'000;
      const nanoseconds now{now_ns};
      std::vector<Decision> out(size);
      batched->CheckBatch(requests, now, out);
      for (std::size_t i = 0; i < size; ++i) {
        ASSERT_EQ(out[i], one->Check(requests[i].policy, requests[i].key, now, requests[i].cost))
            << "size " << size << " request " << i;
      }
    }
  }
  EXPECT_GT(batched->Stats().evictions, 0u);
  EXPECT_EQ(batched->Stats().installs, one->Stats().installs);
  EXPECT_EQ(batched->Stats().evictions, one->Stats().evictions);
}

TEST(LimiterTest, DenialByOnePolicyConsumesNothingInTheOthers) {
  auto l = Make({{"wide", Rate{10, seconds(1)}, 10}, {"narrow", Rate{1, seconds(1)}, 2}});
  const PolicyCheck checks[] = {{PolicyId{0}, "user", 1, false}, {PolicyId{1}, "user", 1, false}};
  Decision out[2];
  for (int i = 0; i < 2; ++i) {
    const MultiDecision m = l->CheckAll(checks, nanoseconds(0), out);
    ASSERT_TRUE(m.allowed);
    EXPECT_EQ(m.reported, 1u);  // narrow has fewer remaining
  }
  for (int i = 0; i < 5; ++i) {
    const MultiDecision m = l->CheckAll(checks, nanoseconds(0), out);
    EXPECT_FALSE(m.allowed);
    EXPECT_EQ(m.reported, 1u);
    EXPECT_EQ(m.decided, 2u);
  }
  // "wide" consumed only the two admitted requests.
  EXPECT_EQ(l->Check(PolicyId{0}, "user", nanoseconds(0), 0).remaining, 8);
}

TEST(LimiterTest, EarlierDenialSkipsLaterPolicies) {
  auto l = Make({{"first", Rate{1, seconds(1)}, 1}, {"second", Rate{1, seconds(1)}, 5}});
  const PolicyCheck checks[] = {{PolicyId{0}, "u", 1, false}, {PolicyId{1}, "u", 1, false}};
  Decision out[2];
  ASSERT_TRUE(l->CheckAll(checks, nanoseconds(0), out).allowed);
  const MultiDecision m = l->CheckAll(checks, nanoseconds(0), out);
  EXPECT_FALSE(m.allowed);
  EXPECT_EQ(m.reported, 0u);
  EXPECT_EQ(m.decided, 1u);
  EXPECT_EQ(l->Check(PolicyId{1}, "u", nanoseconds(0), 0).remaining, 4);
}

TEST(LimiterTest, ShadowDenialDoesNotDeny) {
  auto l = Make({{"shadow", Rate{1, seconds(1)}, 1}, {"enforce", Rate{10, seconds(1)}, 10}});
  const PolicyCheck checks[] = {{PolicyId{0}, "u", 1, true}, {PolicyId{1}, "u", 1, false}};
  Decision out[2];
  ASSERT_TRUE(l->CheckAll(checks, nanoseconds(0), out).allowed);
  const MultiDecision m = l->CheckAll(checks, nanoseconds(0), out);
  EXPECT_TRUE(m.allowed);
  EXPECT_FALSE(out[0].allowed);  // the shadow policy would have denied
  EXPECT_TRUE(out[1].allowed);
}

TEST(LimiterTest, ReloadKeepsStateOfUnchangedPoliciesOnly) {
  auto l = Make({{"keep", Rate{1, seconds(1)}, 2}, {"change", Rate{1, seconds(1)}, 2}});
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(l->Check(PolicyId{0}, "u", nanoseconds(0)).allowed);
    ASSERT_TRUE(l->Check(PolicyId{1}, "u", nanoseconds(0)).allowed);
  }
  auto reloaded =
      l->WithPolicies({{"change", Rate{1, seconds(1)}, 3}, {"keep", Rate{1, seconds(1)}, 2}});
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  Limiter& r = **reloaded;
  EXPECT_FALSE(r.Check(*r.FindPolicy("keep"), "u", nanoseconds(0)).allowed);
  EXPECT_EQ(r.Check(*r.FindPolicy("change"), "u", nanoseconds(0)).remaining, 2);
  EXPECT_FALSE(l->WithPolicies({}).ok());
}

}  // namespace
}  // namespace sluice
