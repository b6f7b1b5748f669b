// The C ABI (sluice/c.h) through the real libsluice.so.1: the GCRA oracle's boundaries,
// batches and multi-policy checks equal to the C++ engine's, header values, and bad arguments
// answered with an error that changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sluice/c.h"
#include "sluice/limiter.h"

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
                     std::uint64_t burst) {
  sluice_policy p;
  sluice_policy_init(&p, sizeof p);
  p.name = name;
  p.count = count;
  p.period_ns = period_ns;
  p.burst = burst;
  return p;
}

TablePtr Table(std::uint64_t capacity = 4096, std::uint32_t flags = SLUICE_TABLE_FIXED_SEED) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = capacity;
  o.flags = flags;
  o.seed[0] = 1;
  o.seed[1] = 2;
  o.seed[2] = 3;
  o.seed[3] = 4;
  sluice_table* t = nullptr;
  char err[128] = "";
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_OK) << err;
  return TablePtr(t);
}

LimiterPtr Limiter(sluice_table* t, std::vector<sluice_policy> policies) {
  sluice_limiter* l = nullptr;
  char err[128] = "";
  EXPECT_EQ(sluice_limiter_create(t, policies.data(), policies.size(), &l, err, sizeof err),
            SLUICE_OK)
      << err;
  return LimiterPtr(l);
}

int Check(sluice_limiter* l, std::uint32_t policy, const std::string& key, std::int64_t now,
          sluice_decision* d, std::uint64_t cost = 1) {
  return sluice_check(l, policy, key.data(), key.size(), now, cost, d);
}

TEST(CApiTest, VersionsAgree) {
  EXPECT_EQ(sluice_version_number(), static_cast<unsigned>(SLUICE_VERSION_NUMBER));
  EXPECT_STREQ(sluice_version_string(), SLUICE_VERSION_STRING);
  EXPECT_EQ(SLUICE_VERSION_NUMBER,
            SLUICE_VERSION_MAJOR * 10000 + SLUICE_VERSION_MINOR * 100 + SLUICE_VERSION_PATCH);
}

TEST(CApiTest, EveryCodeHasAString) {
  for (int code = SLUICE_ENOTSUP; code <= SLUICE_OK; ++code) {
    EXPECT_STRNE(sluice_strerror(code), sluice_strerror(12345)) << code;
  }
  EXPECT_STREQ(sluice_strerror(-999), "unknown sluice error");
}

TEST(CApiTest, FrozenStructsKeepTheirLayout) {
  static_assert(sizeof(sluice_decision) == 32);
  static_assert(offsetof(sluice_decision, retry_after_ns) == 16);
  static_assert(sizeof(sluice_request) == 32);
  static_assert(offsetof(sluice_request, key_len) == 16);
  SUCCEED();
}

TEST(CApiTest, SizesRoundTrip) {
  EXPECT_EQ(sluice_table_bytes(0), 0u);
  EXPECT_EQ(sluice_table_bytes((std::uint64_t{1} << 34) + 1), 0u);
  EXPECT_EQ(sluice_table_bytes(1), 4096u + 256u * 16u);
  EXPECT_EQ(sluice_table_bytes(1000), 4096u + 1024u * 16u);
  EXPECT_EQ(sluice_table_capacity_for_bytes(4096 + 256 * 16 - 1), 0u);
  EXPECT_EQ(sluice_table_capacity_for_bytes(4096 + 256 * 16), 256u);
  EXPECT_EQ(sluice_table_capacity_for_bytes(1 << 20), 32768u);  // 1 MiB: 32k keys of 16 bytes
  for (std::uint64_t c : {256u, 4096u, 65536u}) {
    EXPECT_EQ(sluice_table_capacity_for_bytes(sluice_table_bytes(c)), c);
  }
}

TEST(CApiTest, OptionsFromAnOlderCallerGetDefaults) {
  // A caller that knew only `size` and `capacity`: when_full and flags keep their defaults.
  sluice_table_options o;
  std::memset(&o, 0xff, sizeof o);
  sluice_table_options_init(&o, offsetof(sluice_table_options, when_full));
  EXPECT_EQ(o.size, offsetof(sluice_table_options, when_full));
  EXPECT_EQ(o.capacity, std::uint64_t{1} << 20);
  o.capacity = 300;
  sluice_table* t = nullptr;
  ASSERT_EQ(sluice_table_create(&o, &t, nullptr, 0), SLUICE_OK);
  TablePtr owner(t);
  sluice_table_stats s;
  ASSERT_EQ(sluice_table_get_stats(t, &s, sizeof s), SLUICE_OK);
  EXPECT_EQ(s.size, sizeof s);
  EXPECT_EQ(s.capacity, 512u);
  EXPECT_EQ(s.when_full, SLUICE_WHEN_FULL_EVICT);
  EXPECT_EQ(s.shared, 0u);
}

TEST(CApiTest, BadTableOptionsSayWhy) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  char err[128] = "";
  sluice_table* t = reinterpret_cast<sluice_table*>(&o);  // must be reset to NULL
  o.capacity = 0;
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_EINVAL);
  EXPECT_EQ(t, nullptr);
  EXPECT_NE(std::string(err).find("capacity"), std::string::npos) << err;
  o.capacity = 1024;
  o.when_full = 7;
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_EINVAL);
  EXPECT_NE(std::string(err).find("when_full"), std::string::npos) << err;
  o.when_full = SLUICE_WHEN_FULL_DENY;
  o.flags = 0x80;
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_EINVAL);
  o.flags = 0;
  o.size = 2;
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_EINVAL);
  o.size = sizeof o;
  o.capacity = (std::uint64_t{1} << 34) + 1;
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_ERANGE);
  EXPECT_EQ(sluice_table_create(&o, nullptr, err, sizeof err), SLUICE_EINVAL);
  // A tiny error buffer is truncated, never overrun.
  char tiny[4] = {'x', 'x', 'x', 'x'};
  o.capacity = 0;
  EXPECT_EQ(sluice_table_create(&o, &t, tiny, 3), SLUICE_EINVAL);
  EXPECT_EQ(tiny[2], '\0');
  EXPECT_EQ(tiny[3], 'x');
}

TEST(CApiTest, BadPoliciesSayWhichAndWhat) {
  TablePtr t = Table();
  sluice_limiter* l = nullptr;
  char err[160] = "";
  const auto create = [&](std::vector<sluice_policy> p) {
    return sluice_limiter_create(t.get(), p.data(), p.size(), &l, err, sizeof err);
  };
  EXPECT_EQ(create({}), SLUICE_EINVAL);
  EXPECT_NE(std::string(err).find("at least one policy"), std::string::npos) << err;
  EXPECT_EQ(create({Policy("a", 1, kSecond, 1), Policy("a", 2, kSecond, 1)}), SLUICE_EINVAL);
  EXPECT_NE(std::string(err).find("'a' is defined twice"), std::string::npos) << err;
  EXPECT_EQ(create({Policy("zero", 1, kSecond, 0)}), SLUICE_EINVAL);
  EXPECT_NE(std::string(err).find("policy 'zero': burst"), std::string::npos) << err;
  EXPECT_EQ(create({Policy("nope", 0, kSecond, 1)}), SLUICE_EINVAL);
  EXPECT_NE(std::string(err).find("'nope'"), std::string::npos) << err;
  EXPECT_EQ(create({Policy("", 1, kSecond, 1)}), SLUICE_EINVAL);
  EXPECT_EQ(create({Policy("tab\there", 1, kSecond, 1)}), SLUICE_EINVAL);
  EXPECT_NE(std::string(err).find("printable"), std::string::npos) << err;
  EXPECT_EQ(create({Policy("fast", 2'000'000'000, kSecond, 1)}), SLUICE_EINVAL);
  EXPECT_EQ(l, nullptr);
  std::vector<sluice_policy> mixed = {Policy("a", 1, kSecond, 1), Policy("b", 1, kSecond, 1)};
  mixed[1].size = 8;  // not the same sluice_policy_init size as element 0
  EXPECT_EQ(sluice_limiter_create(t.get(), mixed.data(), 2, &l, err, sizeof err), SLUICE_EINVAL);
}

TEST(CApiTest, RatesParse) {
  std::uint64_t count = 0;
  std::int64_t period = 0;
  char err[128] = "";
  ASSERT_EQ(sluice_rate_parse("100/m", 5, &count, &period, err, sizeof err), SLUICE_OK);
  EXPECT_EQ(count, 100u);
  EXPECT_EQ(period, 60 * kSecond);
  // `len` bounds the text: "10/s" of "10/sXYZ".
  ASSERT_EQ(sluice_rate_parse("10/sXYZ", 4, &count, &period, err, sizeof err), SLUICE_OK);
  EXPECT_EQ(count, 10u);
  EXPECT_EQ(sluice_rate_parse("ten/s", 5, &count, &period, err, sizeof err), SLUICE_EINVAL);
  EXPECT_STRNE(err, "");
}

// DESIGN.md's boundaries: T-1ns denied, T admitted; retry_after exact; cost above the burst
// never admitted.
TEST(CApiTest, DecidesTheGcraRuleExactly) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(t.get(), {Policy("p", 4, kSecond, 2)});  // T = 250 ms, b = 2
  sluice_decision d;
  const std::int64_t t0 = 10 * kSecond;
  EXPECT_EQ(Check(l.get(), 0, "k", t0, &d), 1);
  EXPECT_EQ(d.remaining, 1);
  EXPECT_EQ(d.reset_after_ns, 250'000'000);
  EXPECT_EQ(Check(l.get(), 0, "k", t0, &d), 1);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(Check(l.get(), 0, "k", t0, &d), 0);
  EXPECT_EQ(d.allowed, 0);
  EXPECT_EQ(d.flags, 0);
  EXPECT_EQ(d.retry_after_ns, 250'000'000);
  EXPECT_EQ(Check(l.get(), 0, "k", t0 + 250'000'000 - 1, &d), 0);
  EXPECT_EQ(d.retry_after_ns, 1);
  EXPECT_EQ(Check(l.get(), 0, "k", t0 + 250'000'000, &d), 1);
  // Time going backwards never admits more.
  EXPECT_EQ(Check(l.get(), 0, "k", t0, &d), 0);
  // Cost 3 > burst 2: never.
  EXPECT_EQ(Check(l.get(), 0, "other", t0, &d, 3), 0);
  EXPECT_EQ(d.flags, SLUICE_DECISION_NEVER);
  EXPECT_EQ(d.retry_after_ns, -1);
  // Cost 0 asks without consuming.
  EXPECT_EQ(Check(l.get(), 0, "fresh", t0, &d, 0), 1);
  EXPECT_EQ(d.remaining, 2);
  EXPECT_EQ(Check(l.get(), 0, "fresh", t0, &d, 0), 1);
  EXPECT_EQ(d.remaining, 2);
  // The empty key is a key like any other; a NULL pointer with length 0 is that key.
  EXPECT_EQ(sluice_check(l.get(), 0, nullptr, 0, t0, 2, &d), 1);
  EXPECT_EQ(sluice_check(l.get(), 0, "", 0, t0, 1, &d), 0);
}

TEST(CApiTest, BadArgumentsChangeNothing) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(t.get(), {Policy("p", 1, kSecond, 1)});
  sluice_decision d;
  std::memset(&d, 0x5a, sizeof d);
  const sluice_decision before = d;
  EXPECT_EQ(sluice_check(l.get(), 1, "k", 1, 0, 1, &d), SLUICE_ENOPOLICY);
  EXPECT_EQ(sluice_check(nullptr, 0, "k", 1, 0, 1, &d), SLUICE_EINVAL);
  EXPECT_EQ(sluice_check(l.get(), 0, nullptr, 1, 0, 1, &d), SLUICE_EINVAL);
  EXPECT_EQ(sluice_check(l.get(), 0, "k", 1, 0, 1, nullptr), SLUICE_EINVAL);
  EXPECT_EQ(std::memcmp(&d, &before, sizeof d), 0);
  // A batch with one bad index decides none of it.
  sluice_request rq[2] = {{0, 0, "k", 1, 1}, {5, 0, "k", 1, 1}};
  sluice_decision out[2];
  EXPECT_EQ(sluice_check_batch(l.get(), rq, 2, 0, out), SLUICE_ENOPOLICY);
  sluice_multi_decision m;
  EXPECT_EQ(sluice_check_all(l.get(), rq, 2, 0, out, &m), SLUICE_ENOPOLICY);
  EXPECT_EQ(sluice_check_all(l.get(), rq, 1, 0, out, nullptr), SLUICE_EINVAL);
  EXPECT_EQ(Check(l.get(), 0, "k", 0, &d), 1) << "the key's one request is still there";
  std::uint32_t index = 9;
  EXPECT_EQ(sluice_limiter_find(l.get(), "q", 1, &index), SLUICE_ENOPOLICY);
  EXPECT_EQ(index, 9u);
  EXPECT_EQ(sluice_limiter_find(l.get(), "p", 1, &index), SLUICE_OK);
  EXPECT_EQ(index, 0u);
  EXPECT_EQ(sluice_limiter_policy_count(l.get()), 1u);
  EXPECT_EQ(sluice_limiter_policy_count(nullptr), 0u);
  sluice_table_close(nullptr);
  sluice_limiter_destroy(nullptr);
}

// A batch decides what the same checks one by one decide, in order; the packed form too.
TEST(CApiTest, BatchesEqualSingleChecks) {
  TablePtr ta = Table(1 << 12);
  TablePtr tb = Table(1 << 12);
  TablePtr tc = Table(1 << 12);
  const std::vector<sluice_policy> ps = {Policy("a", 10, kSecond, 3), Policy("b", 1, kSecond, 1)};
  LimiterPtr a = Limiter(ta.get(), ps);
  LimiterPtr b = Limiter(tb.get(), ps);
  LimiterPtr c = Limiter(tc.get(), ps);
  std::mt19937_64 rng(7);
  std::int64_t now = kSecond;
  for (int round = 0; round < 50; ++round) {
    std::vector<std::string> keys;
    std::vector<sluice_request> rq;
    for (int i = 0; i < 100; ++i) keys.push_back("key-" + std::to_string(rng() % 40));
    for (const std::string& k : keys) rq.push_back({0, 0, k.data(), k.size(), rng() % 3});
    std::vector<sluice_decision> out(rq.size());
    const int admitted = sluice_check_batch(a.get(), rq.data(), rq.size(), now, out.data());
    int one_by_one = 0;
    std::string packed;
    std::vector<std::uint32_t> lens;
    for (std::size_t i = 0; i < rq.size(); ++i) {
      sluice_decision d;
      one_by_one += Check(b.get(), 0, keys[i], now, &d, rq[i].cost);
      ASSERT_EQ(std::memcmp(&d, &out[i], sizeof d), 0) << "round " << round << " request " << i;
      packed += keys[i];
      lens.push_back(static_cast<std::uint32_t>(keys[i].size()));
    }
    EXPECT_EQ(admitted, one_by_one);
    // Packed: one policy, one cost for all.
    std::vector<sluice_decision> pout(rq.size());
    const int packed_admitted = sluice_check_packed(c.get(), 0, packed.data(), lens.data(),
                                                    lens.size(), now, 1, pout.data());
    int expected = 0;
    for (const sluice_decision& d : pout) expected += d.allowed;
    EXPECT_EQ(packed_admitted, expected);
    now += static_cast<std::int64_t>(rng() % (kSecond / 4));
  }
  // Empty batches are fine and decide nothing.
  EXPECT_EQ(sluice_check_batch(a.get(), nullptr, 0, now, nullptr), 0);
  EXPECT_EQ(sluice_check_packed(a.get(), 0, nullptr, nullptr, 0, now, 1, nullptr), 0);
}

// sluice_check_all is Limiter::CheckAll: same decisions, same refunds, same report.
TEST(CApiTest, CheckAllMatchesTheCppEngine) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = 4096;
  sluice_table* raw = nullptr;
  ASSERT_EQ(sluice_table_create(&o, &raw, nullptr, 0), SLUICE_OK);
  TablePtr t(raw);
  LimiterPtr c = Limiter(t.get(), {Policy("ip", 5, kSecond, 3), Policy("route", 20, kSecond, 4),
                                   Policy("user", 2, kSecond, 2)});
  sluice::LimiterOptions lo;
  lo.capacity = 4096;
  lo.policies = {{"ip", sluice::Rate{5, std::chrono::seconds(1)}, 3},
                 {"route", sluice::Rate{20, std::chrono::seconds(1)}, 4},
                 {"user", sluice::Rate{2, std::chrono::seconds(1)}, 2}};
  auto cpp = sluice::Limiter::Create(lo);
  ASSERT_TRUE(cpp.ok());
  std::mt19937_64 rng(11);
  std::int64_t now = kSecond;
  for (int i = 0; i < 3000; ++i) {
    const std::string ip = "ip" + std::to_string(rng() % 5);
    const std::string route = "r" + std::to_string(rng() % 2);
    const std::string user = "u" + std::to_string(rng() % 7);
    const bool shadow = rng() % 4 == 0;
    const sluice_request rq[3] = {
        {0, 0, ip.data(), ip.size(), 1},
        {1, shadow ? std::uint32_t{SLUICE_REQUEST_SHADOW} : 0u, route.data(), route.size(), 1},
        {2, 0, user.data(), user.size(), rng() % 2 + 1}};
    const sluice::PolicyCheck pc[3] = {{sluice::PolicyId{0}, ip, 1, false},
                                       {sluice::PolicyId{1}, route, 1, shadow},
                                       {sluice::PolicyId{2}, user, rq[2].cost, false}};
    sluice_decision out[3];
    sluice_multi_decision m;
    sluice::Decision cout[3];
    const int rc = sluice_check_all(c.get(), rq, 3, now, out, &m);
    const sluice::MultiDecision cm = (*cpp)->CheckAll(pc, std::chrono::nanoseconds{now}, cout);
    ASSERT_EQ(rc, cm.allowed ? 1 : 0) << i;
    ASSERT_EQ(m.allowed, rc);
    ASSERT_EQ(m.reported, cm.reported);
    ASSERT_EQ(m.decided, cm.decided);
    for (std::size_t j = 0; j < m.decided; ++j) {
      ASSERT_EQ(out[j].allowed, cout[j].allowed ? 1 : 0);
      ASSERT_EQ(out[j].remaining, cout[j].remaining);
      ASSERT_EQ(out[j].retry_after_ns, cout[j].retry_after.count());
      ASSERT_EQ(out[j].reset_after_ns, cout[j].reset_after.count());
    }
    now += static_cast<std::int64_t>(rng() % (kSecond / 10));
  }
  sluice_multi_decision m;
  EXPECT_EQ(sluice_check_all(c.get(), nullptr, 0, now, nullptr, &m), 1);
  EXPECT_EQ(m.reported, SLUICE_NONE);
}

TEST(CApiTest, HeaderValuesFollowDesign) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(
      t.get(), {Policy("per-ip", 10, kSecond, 20), Policy("q\"uo\\te", 1, 90 * kSecond, 1)});
  sluice_decision d;
  char buf[SLUICE_HEADER_VALUE_MAX(8)];
  const auto fmt = [&](std::uint32_t p, int which) {
    const int n = sluice_format_header(l.get(), p, &d, which, buf, sizeof buf);
    EXPECT_GE(n, 0);
    EXPECT_EQ(static_cast<std::size_t>(n), std::strlen(buf));
    return std::string(buf);
  };
  ASSERT_EQ(Check(l.get(), 0, "k", kSecond, &d), 1);
  EXPECT_EQ(fmt(0, SLUICE_HEADER_RETRY_AFTER), "");  // admitted: no Retry-After
  EXPECT_EQ(fmt(0, SLUICE_HEADER_RATELIMIT_POLICY), "\"per-ip\";q=20;w=2");
  EXPECT_EQ(fmt(0, SLUICE_HEADER_RATELIMIT), "\"per-ip\";r=19;t=1");
  for (int i = 0; i < 19; ++i) ASSERT_EQ(Check(l.get(), 0, "k", kSecond, &d), 1);
  ASSERT_EQ(Check(l.get(), 0, "k", kSecond, &d), 0);
  EXPECT_EQ(fmt(0, SLUICE_HEADER_RETRY_AFTER), "1");  // 100 ms rounds up to 1 s
  EXPECT_EQ(fmt(0, SLUICE_HEADER_RATELIMIT), "\"per-ip\";r=0;t=2");
  // A minute and a half per request: Retry-After in whole seconds, rounded up; names escaped.
  ASSERT_EQ(Check(l.get(), 1, "k", kSecond, &d), 1);
  ASSERT_EQ(Check(l.get(), 1, "k", kSecond + 1, &d), 0);
  EXPECT_EQ(fmt(1, SLUICE_HEADER_RETRY_AFTER), "90");
  EXPECT_EQ(fmt(1, SLUICE_HEADER_RATELIMIT_POLICY), "\"q\\\"uo\\\\te\";q=1;w=90");
  // Never admissible: a 429 without Retry-After.
  ASSERT_EQ(Check(l.get(), 1, "big", kSecond, &d, 2), 0);
  EXPECT_EQ(fmt(1, SLUICE_HEADER_RETRY_AFTER), "");
  // Too small a buffer: ERANGE and nothing promised but the error; bad arguments: EINVAL.
  EXPECT_EQ(sluice_format_header(l.get(), 0, &d, SLUICE_HEADER_RATELIMIT, buf, 5), SLUICE_ERANGE);
  EXPECT_EQ(sluice_format_header(l.get(), 0, &d, 9, buf, sizeof buf), SLUICE_EINVAL);
  EXPECT_EQ(sluice_format_header(l.get(), 7, &d, 1, buf, sizeof buf), SLUICE_ENOPOLICY);
}

TEST(CApiTest, TablesOutliveTheirHandleWhileALimiterUsesThem) {
  TablePtr t = Table();
  LimiterPtr l = Limiter(t.get(), {Policy("p", 1, kSecond, 1)});
  t.reset();  // closes the handle; the limiter keeps the table
  sluice_decision d;
  EXPECT_EQ(Check(l.get(), 0, "k", 0, &d), 1);
  EXPECT_EQ(Check(l.get(), 0, "k", 0, &d), 0);
}

// Two limiters over one table with the same policy share its keys (a reload keeps state); a
// changed rate is a new key space.
TEST(CApiTest, SamePolicySameStateAcrossLimiters) {
  TablePtr t = Table();
  LimiterPtr a = Limiter(t.get(), {Policy("p", 1, kSecond, 2)});
  LimiterPtr b = Limiter(t.get(), {Policy("other", 5, kSecond, 5), Policy("p", 1, kSecond, 2)});
  LimiterPtr changed = Limiter(t.get(), {Policy("p", 1, kSecond, 3)});
  sluice_decision d;
  EXPECT_EQ(Check(a.get(), 0, "k", 0, &d), 1);
  EXPECT_EQ(Check(b.get(), 1, "k", 0, &d), 1);
  EXPECT_EQ(Check(a.get(), 0, "k", 0, &d), 0);
  EXPECT_EQ(Check(changed.get(), 0, "k", 0, &d), 1);
  EXPECT_EQ(d.remaining, 2);
}

TEST(CApiTest, ClockIsMonotonic) {
  const std::int64_t a = sluice_now_ns();
  const std::int64_t b = sluice_now_ns();
  EXPECT_GT(a, 0);
  EXPECT_GE(b, a);
}

}  // namespace
