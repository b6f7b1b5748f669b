// Refunds and cross-limiter multi-checks through the C ABI (sluice_refund, sluice_check_multi),
// and policies sharing a key space across bursts (sluice_policy.key_space). The refund is
// checked against the GCRA oracle (sluice/gcra.h): replaying the same history without the
// refunded admission gives the TAT the refund must reach exactly, or never go below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sluice/c.h"
#include "sluice/gcra.h"

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

struct TableDeleter {
  void operator()(sluice_table* t) const { sluice_table_close(t); }
};
struct LimiterDeleter {
  void operator()(sluice_limiter* l) const { sluice_limiter_destroy(l); }
};
using TablePtr = std::unique_ptr<sluice_table, TableDeleter>;
using LimiterPtr = std::unique_ptr<sluice_limiter, LimiterDeleter>;

sluice_policy Policy(const char* name, std::uint64_t count, std::int64_t period_ns,
                     std::uint64_t burst, const char* key_space = nullptr) {
  sluice_policy p;
  sluice_policy_init(&p, sizeof p);
  p.name = name;
  p.count = count;
  p.period_ns = period_ns;
  p.burst = burst;
  p.key_space = key_space;
  return p;
}

// A table with the default options, or with `capacity` keys (the random histories below make
// one table per round for one key: the default's 2^20 slots, 16 MiB zeroed 3000 times, made
// that test take over a minute).
TablePtr Table(std::uint64_t capacity = 0) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  if (capacity != 0) o.capacity = capacity;
  sluice_table* t = nullptr;
  char err[128] = "";
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_OK) << err;
  return TablePtr(t);
}

LimiterPtr Limiter(sluice_table* t, std::vector<sluice_policy> policies) {
  sluice_limiter* l = nullptr;
  char err[160] = "";
  EXPECT_EQ(sluice_limiter_create(t, policies.data(), policies.size(), &l, err, sizeof err),
            SLUICE_OK)
      << err;
  return LimiterPtr(l);
}

int Check(sluice_limiter* l, const std::string& key, std::int64_t now, sluice_decision* d,
          std::uint64_t cost = 1) {
  return sluice_check(l, 0, key.data(), key.size(), now, cost, d);
}

// The key's stored TAT: a cost-0 ask at time 0 stores nothing and reports
// reset_after = max(TAT, 0) - 0 (0 for a key without state).
std::int64_t Tat(sluice_limiter* l, const std::string& key) {
  sluice_decision d;
  Check(l, key, 0, &d, 0);
  return d.reset_after_ns;
}

sluice::GcraParams Params(std::uint64_t count, std::int64_t period_ns, std::uint64_t burst) {
  return *sluice::GcraParams::Make(sluice::Rate{count, std::chrono::nanoseconds{period_ns}}, burst);
}

TEST(CApiRefundTest, RightAwayGivesBackExactly) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(t.get(), {Policy("p", 10, kSecond, 5)});  // T = 100 ms
  const std::int64_t now = 7 * kSecond;
  sluice_decision first;
  sluice_decision second;
  ASSERT_EQ(Check(l.get(), "k", now, &first, 2), 1);
  ASSERT_EQ(Check(l.get(), "k", now, &second, 1), 1);
  EXPECT_EQ(Tat(l.get(), "k"), now + 3 * kSecond / 10);
  // The second admission given back: the TAT is where the first one left it.
  EXPECT_EQ(sluice_refund(l.get(), 0, "k", 1, 1, &second, now, now), SLUICE_OK);
  EXPECT_EQ(Tat(l.get(), "k"), now + 2 * kSecond / 10);
  // Then the first (refunds commute with what was refunded before).
  EXPECT_EQ(sluice_refund(l.get(), 0, "k", 1, 2, &first, now, now), SLUICE_OK);
  EXPECT_LE(Tat(l.get(), "k"), now);  // no state: a fresh key's full burst again
  sluice_decision d;
  EXPECT_EQ(Check(l.get(), "k", now, &d, 5), 1);
}

TEST(CApiRefundTest, WhatExpiredIsNotGivenBack) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(t.get(), {Policy("p", 10, kSecond, 5)});  // T = 100 ms
  const std::int64_t t0 = 10 * kSecond;
  const std::int64_t tenth = kSecond / 10;
  sluice_decision a;
  ASSERT_EQ(Check(l.get(), "k", t0, &a, 2), 1);  // TAT: t0 + 200 ms
  sluice_decision b;
  ASSERT_EQ(Check(l.get(), "k", t0 + 150 * kSecond / 1000, &b, 1), 1);  // TAT: t0 + 300 ms
  // Refunding `a` 150 ms later: only 50 ms of its 200 were still unexpired, and without `a`
  // the key would have gone idle at 150 ms and b would have left t0 + 250 ms.
  ASSERT_EQ(sluice_refund(l.get(), 0, "k", 1, 2, &a, t0, t0 + 150 * kSecond / 1000), SLUICE_OK);
  EXPECT_EQ(Tat(l.get(), "k"), t0 + 250 * kSecond / 1000);
  // Long after, nothing is left to give back.
  ASSERT_EQ(sluice_refund(l.get(), 0, "k", 1, 1, &b, t0 + 150 * kSecond / 1000, t0 + 10 * tenth),
            SLUICE_OK);
  EXPECT_EQ(Tat(l.get(), "k"), t0 + 250 * kSecond / 1000);
}

TEST(CApiRefundTest, DenialsCostZeroAndAbsentKeysAreNoOps) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(t.get(), {Policy("p", 1, kSecond, 1)});
  sluice_decision ok;
  sluice_decision no;
  ASSERT_EQ(Check(l.get(), "k", kSecond, &ok), 1);
  ASSERT_EQ(Check(l.get(), "k", kSecond, &no), 0);
  const std::int64_t tat = Tat(l.get(), "k");
  EXPECT_EQ(sluice_refund(l.get(), 0, "k", 1, 1, &no, kSecond, kSecond), SLUICE_OK);
  EXPECT_EQ(sluice_refund(l.get(), 0, "k", 1, 0, &ok, kSecond, kSecond), SLUICE_OK);
  EXPECT_EQ(sluice_refund(l.get(), 0, "other", 5, 1, &ok, kSecond, kSecond), SLUICE_OK);
  EXPECT_EQ(Tat(l.get(), "k"), tat);
  EXPECT_EQ(Tat(l.get(), "other"), 0);
  EXPECT_EQ(sluice_refund(nullptr, 0, "k", 1, 1, &ok, 0, 0), SLUICE_EINVAL);
  EXPECT_EQ(sluice_refund(l.get(), 0, "k", 1, 1, nullptr, 0, 0), SLUICE_EINVAL);
  EXPECT_EQ(sluice_refund(l.get(), 0, nullptr, 1, 1, &ok, 0, 0), SLUICE_EINVAL);
  EXPECT_EQ(sluice_refund(l.get(), 1, "k", 1, 1, &ok, 0, 0), SLUICE_ENOPOLICY);
  EXPECT_EQ(Tat(l.get(), "k"), tat);
}

// Random histories against the oracle. A key gets some requests, then ours (cost n at t0),
// then requests at times spread before and after t0's TAT, then our refund at `now`, no
// earlier than any of them. With B the oracle's TAT of the same admitted history without
// ours: the refund never ends below B; it reaches B exactly when every later request came
// no later than the key's TAT without us and the refund is no later than `before`; and it
// never gives back more than it took.
TEST(CApiRefundTest, RandomHistoriesAgainstTheOracle) {
  std::mt19937_64 rng(20261202);
  std::size_t exact_cases = 0;
  std::size_t partial_cases = 0;
  for (int round = 0; round < 3000; ++round) {
    const std::uint64_t count = 1 + rng() % 20;
    const std::int64_t period = kSecond;
    const std::uint64_t burst = 1 + rng() % 8;
    const sluice::GcraParams p = Params(count, period, burst);
    const std::int64_t T = p.emission_interval;
    TablePtr t = Table(256);
    LimiterPtr l = Limiter(t.get(), {Policy("p", count, period, burst)});
    const std::string key = "key-" + std::to_string(round);

    std::int64_t now = kSecond + static_cast<std::int64_t>(rng() % 1000) * T / 100;
    std::int64_t with = 0;     // the oracle's TAT with our admission (must equal the table's)
    std::int64_t without = 0;  // and without it
    bool exact = true;
    // Requests before ours: identical on both sides.
    for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
      now += static_cast<std::int64_t>(rng() % 3) * T / 2;
      const std::uint64_t cost = 1 + rng() % burst;
      sluice_decision d;
      if (Check(l.get(), key, now, &d, cost) == 1) {
        with = sluice::GcraStep(p, with, now, cost).new_tat;
        without = with;
      }
    }
    // Ours.
    const std::int64_t t0 = now;
    const std::uint64_t n = 1 + rng() % burst;
    sluice_decision ours;
    if (Check(l.get(), key, t0, &ours, n) != 1) continue;  // nothing to refund
    const std::int64_t before = std::max(with, t0);
    with = sluice::GcraStep(p, with, t0, n).new_tat;
    ASSERT_EQ(with, t0 + ours.reset_after_ns);
    // Requests in between, at times from t0 to a few T later.
    for (int i = static_cast<int>(rng() % 5); i > 0; --i) {
      now += static_cast<std::int64_t>(rng() % 4) * T / 3;
      const std::uint64_t cost = 1 + rng() % burst;
      sluice_decision d;
      if (Check(l.get(), key, now, &d, cost) != 1) continue;
      with = sluice::GcraStep(p, with, now, cost).new_tat;
      if (now > without) exact = false;  // without us the key had gone idle by then
      const sluice::GcraResult w = sluice::GcraStep(p, without, now, cost);
      ASSERT_TRUE(w.decision.allowed) << "admitted with ours, so admitted without it";
      without = w.new_tat;
    }
    ASSERT_EQ(Tat(l.get(), key), std::max<std::int64_t>(with, 0));
    const std::int64_t refund_at = now + static_cast<std::int64_t>(rng() % 3) * T / 4;
    if (refund_at > before) exact = false;
    ASSERT_EQ(sluice_refund(l.get(), 0, key.data(), key.size(), n, &ours, t0, refund_at),
              SLUICE_OK);
    const std::int64_t after = Tat(l.get(), key);
    // Compared as "the same at every time from refund_at on": a TAT at or before refund_at
    // is no state at all.
    const std::int64_t got = std::max(after, refund_at);
    const std::int64_t want = std::max(without, refund_at);
    EXPECT_GE(got, want) << "round " << round << ": a refund below the state without us";
    EXPECT_LE(after, with) << "round " << round << ": a refund that added";
    EXPECT_GE(after, with - static_cast<std::int64_t>(n) * T) << "round " << round;
    if (exact) {
      EXPECT_EQ(got, want) << "round " << round << ": an exact case refunded inexactly";
      ++exact_cases;
    } else {
      ++partial_cases;
    }
  }
  // Both kinds of history were exercised.
  EXPECT_GT(exact_cases, 300u);
  EXPECT_GT(partial_cases, 300u);
}

// Two tables (two nginx zones): a denial in the second gives back the first's admission.
TEST(CApiMultiTest, ADenialAnywhereConsumesNothingAnywhere) {
  TablePtr ta = Table();
  TablePtr tb = Table();
  LimiterPtr a = Limiter(ta.get(), {Policy("a", 1, 60 * kSecond, 5)});
  LimiterPtr b = Limiter(tb.get(), {Policy("b", 1, 60 * kSecond, 2)});
  const std::string key = "10.0.0.1";
  sluice_limit_check checks[2];
  std::memset(checks, 0, sizeof checks);
  checks[0] = {a.get(), 0, 0, key.data(), key.size(), 1};
  checks[1] = {b.get(), 0, 0, key.data(), key.size(), 1};
  sluice_decision out[2];
  sluice_multi_decision r;
  const std::int64_t now = 100 * kSecond;
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += sluice_check_multi(checks, 2, now, out, &r);
  EXPECT_EQ(admitted, 2);  // the tighter rule's
  EXPECT_EQ(r.allowed, 0);
  EXPECT_EQ(r.reported, 1u);
  EXPECT_EQ(r.decided, 2u);
  EXPECT_GT(out[1].retry_after_ns, 0);
  // Zone a was charged for the two admitted requests only: three of its five are left.
  sluice_decision d;
  EXPECT_EQ(Check(a.get(), key, now, &d, 0), 1);
  EXPECT_EQ(d.remaining, 3);
  // The other order: the tight check first denies before the loose one is decided.
  std::swap(checks[0], checks[1]);
  EXPECT_EQ(sluice_check_multi(checks, 2, now, out, &r), 0);
  EXPECT_EQ(r.decided, 1u);
  EXPECT_EQ(Check(a.get(), key, now, &d, 0), 1);
  EXPECT_EQ(d.remaining, 3);
}

TEST(CApiMultiTest, ShadowChecksConsumeButDoNotDeny) {
  TablePtr ta = Table();
  TablePtr tb = Table();
  LimiterPtr a = Limiter(ta.get(), {Policy("a", 1, 60 * kSecond, 1)});
  LimiterPtr b = Limiter(tb.get(), {Policy("b", 1, 60 * kSecond, 3)});
  sluice_limit_check checks[2] = {{a.get(), 0, SLUICE_REQUEST_SHADOW, "k", 1, 1},
                                  {b.get(), 0, 0, "k", 1, 1}};
  sluice_decision out[2];
  sluice_multi_decision r;
  EXPECT_EQ(sluice_check_multi(checks, 2, kSecond, out, &r), 1);
  EXPECT_EQ(sluice_check_multi(checks, 2, kSecond, out, &r), 1);  // shadow denies, b admits
  EXPECT_EQ(out[0].allowed, 0);
  EXPECT_EQ(r.reported, 0u);  // the shadow check has the fewest remaining
  EXPECT_EQ(sluice_check_multi(checks, 2, kSecond, out, &r), 1);
  EXPECT_EQ(sluice_check_multi(checks, 2, kSecond, out, &r), 0);  // b's three used up
  sluice_decision d;
  Check(a.get(), "k", kSecond, &d, 0);
  EXPECT_EQ(d.remaining, 0);  // the shadow's one was kept
}

TEST(CApiMultiTest, BadChecksChangeNothing) {
  TablePtr t = Table();
  LimiterPtr a = Limiter(t.get(), {Policy("a", 1, 60 * kSecond, 1)});
  sluice_decision out[2];
  sluice_multi_decision r;
  sluice_limit_check bad_policy[2] = {{a.get(), 0, 0, "k", 1, 1}, {a.get(), 1, 0, "k", 1, 1}};
  EXPECT_EQ(sluice_check_multi(bad_policy, 2, kSecond, out, &r), SLUICE_ENOPOLICY);
  sluice_limit_check no_limiter[2] = {{a.get(), 0, 0, "k", 1, 1}, {nullptr, 0, 0, "k", 1, 1}};
  EXPECT_EQ(sluice_check_multi(no_limiter, 2, kSecond, out, &r), SLUICE_EINVAL);
  sluice_limit_check no_key[1] = {{a.get(), 0, 0, nullptr, 3, 1}};
  EXPECT_EQ(sluice_check_multi(no_key, 1, kSecond, out, &r), SLUICE_EINVAL);
  EXPECT_EQ(sluice_check_multi(nullptr, 1, kSecond, out, &r), SLUICE_EINVAL);
  EXPECT_EQ(sluice_check_multi(bad_policy, 1, kSecond, out, nullptr), SLUICE_EINVAL);
  sluice_decision d;
  EXPECT_EQ(Check(a.get(), "k", kSecond, &d), 1);  // nothing was consumed
  EXPECT_EQ(sluice_check_multi(nullptr, 0, kSecond, nullptr, &r), 1);
  EXPECT_EQ(r.reported, SLUICE_NONE);
}

TEST(CApiMultiTest, FrozenLayout) {
  static_assert(sizeof(sluice_limit_check) == 40);
  static_assert(offsetof(sluice_limit_check, key) == 16);
  static_assert(offsetof(sluice_limit_check, cost) == 32);
  SUCCEED();
}

// One key space under two bursts (nginx: one zone, two `burst=`): one state per key, each
// burst applied when it decides.
TEST(CApiKeySpaceTest, BurstsShareOneStatePerKey) {
  TablePtr t = Table();
  LimiterPtr wide = Limiter(t.get(), {Policy("z", 1, 60 * kSecond, 6, "z")});
  LimiterPtr narrow = Limiter(t.get(), {Policy("z", 1, 60 * kSecond, 2, "z")});
  const std::int64_t now = kSecond;
  sluice_decision d;
  EXPECT_EQ(Check(narrow.get(), "k", now, &d), 1);
  EXPECT_EQ(Check(narrow.get(), "k", now, &d), 1);
  EXPECT_EQ(Check(narrow.get(), "k", now, &d), 0);  // its two used up
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Check(wide.get(), "k", now, &d), 1) << i;
  EXPECT_EQ(Check(wide.get(), "k", now, &d), 0);  // six in all, whoever took them
  EXPECT_EQ(Check(wide.get(), "fresh", now, &d), 1);
  EXPECT_EQ(d.remaining, 5);
  // Another rate is another key space; a policy without key_space keeps its own keys.
  LimiterPtr faster = Limiter(t.get(), {Policy("z", 2, 60 * kSecond, 6, "z")});
  LimiterPtr own = Limiter(t.get(), {Policy("z", 1, 60 * kSecond, 6)});
  EXPECT_EQ(Check(faster.get(), "k", now, &d), 1);
  EXPECT_EQ(Check(own.get(), "k", now, &d), 1);
}

TEST(CApiKeySpaceTest, BadKeySpacesSayWhy) {
  TablePtr t = Table();
  sluice_limiter* l = nullptr;
  char err[160] = "";
  sluice_policy p = Policy("z", 1, kSecond, 1, "");
  EXPECT_EQ(sluice_limiter_create(t.get(), &p, 1, &l, err, sizeof err), SLUICE_EINVAL);
  EXPECT_STREQ(err, "policy 'z': key_space must be 1 to 255 printable ASCII bytes");
  p.key_space = "tab\there";
  EXPECT_EQ(sluice_limiter_create(t.get(), &p, 1, &l, err, sizeof err), SLUICE_EINVAL);
  EXPECT_EQ(l, nullptr);
}

TEST(CApiKeySpaceTest, AnOlderCallersPolicyKeepsItsOwnKeys) {
  // A caller compiled before key_space existed: its policies are read up to its size.
  TablePtr t = Table();
  sluice_policy old;
  std::memset(&old, 0xff, sizeof old);
  sluice_policy_init(&old, offsetof(sluice_policy, key_space));
  old.name = "z";
  old.count = 1;
  old.period_ns = kSecond;
  old.burst = 1;
  sluice_limiter* l = nullptr;
  ASSERT_EQ(sluice_limiter_create(t.get(), &old, 1, &l, nullptr, 0), SLUICE_OK);
  LimiterPtr owner(l);
  LimiterPtr same = Limiter(t.get(), {Policy("z", 1, kSecond, 1)});
  sluice_decision d;
  EXPECT_EQ(Check(l, "k", kSecond, &d), 1);
  EXPECT_EQ(Check(same.get(), "k", kSecond, &d), 0);  // the same key space as a NULL key_space
}

}  // namespace
