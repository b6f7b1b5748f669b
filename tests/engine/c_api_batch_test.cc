// sluice_batch / sluice_batch_check through the real libsluice.so.1: a described batch decides
// exactly what sluice_check_packed decides, its `allowed` bytes agree with its decisions, the
// descriptor is reusable with its buffers rewritten in place, and a bad descriptor is answered
// with an error before anything is decided.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sluice/c.h"

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

struct LimiterDeleter {
  void operator()(sluice_limiter* l) const { sluice_limiter_destroy(l); }
};
using LimiterPtr = std::unique_ptr<sluice_limiter, LimiterDeleter>;

// A limiter of two policies ("a": 10/s burst 3, "b": 1/s burst 1) over its own fixed-seed
// table of 4096 keys.
LimiterPtr MakeLimiter() {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = 4096;
  o.flags = SLUICE_TABLE_FIXED_SEED;
  o.seed[0] = 11;
  sluice_table* t = nullptr;
  char err[128] = "";
  EXPECT_EQ(sluice_table_create(&o, &t, err, sizeof err), SLUICE_OK) << err;
  sluice_policy p[2];
  for (sluice_policy& x : p) sluice_policy_init(&x, sizeof x);
  p[0].name = "a";
  p[0].count = 10;
  p[0].period_ns = kSecond;
  p[0].burst = 3;
  p[1].name = "b";
  p[1].count = 1;
  p[1].period_ns = kSecond;
  sluice_limiter* l = nullptr;
  EXPECT_EQ(sluice_limiter_create(t, p, 2, &l, err, sizeof err), SLUICE_OK) << err;
  sluice_table_close(t);
  return LimiterPtr(l);
}

sluice_batch Batch(sluice_limiter* l) {
  sluice_batch b;
  sluice_batch_init(&b, sizeof b);
  b.limiter = l;
  return b;
}

TEST(CApiBatchTest, InitSetsSizeAndDefaults) {
  sluice_batch b;
  std::memset(&b, 0xab, sizeof b);
  sluice_batch_init(&b, sizeof b);
  EXPECT_EQ(b.size, sizeof b);
  EXPECT_EQ(b.cost, 1u);
  EXPECT_EQ(b.limiter, nullptr);
  EXPECT_EQ(b.policy, 0u);
  EXPECT_EQ(b.flags, 0u);
  EXPECT_EQ(b.keys, nullptr);
  EXPECT_EQ(b.key_lens, nullptr);
  EXPECT_EQ(b.n, 0u);
  EXPECT_EQ(b.out, nullptr);
  EXPECT_EQ(b.allowed, nullptr);
  // A caller compiled against a later, larger struct: its tail is zero-filled too, and the
  // library reads only the fields it knows.
  struct Later {
    sluice_batch v1;
    std::uint64_t appended[2];
  } later;
  std::memset(&later, 0xab, sizeof later);
  sluice_batch_init(&later.v1, sizeof later);
  EXPECT_EQ(later.v1.size, sizeof later);
  EXPECT_EQ(later.appended[0], 0u);
  EXPECT_EQ(later.appended[1], 0u);
  LimiterPtr l = MakeLimiter();
  later.v1.limiter = l.get();
  EXPECT_EQ(sluice_batch_check(&later.v1, kSecond), 0);  // n = 0: nothing to decide
}

// One descriptor, reused for every round with its buffers rewritten in place and only n,
// policy and cost changed, decides what sluice_check_packed decides on a twin limiter;
// a third limiter asking for the `allowed` bytes only agrees with both.
TEST(CApiBatchTest, DescribedBatchDecidesAsPacked) {
  LimiterPtr packed = MakeLimiter();
  LimiterPtr described = MakeLimiter();
  LimiterPtr flags_only = MakeLimiter();
  constexpr std::size_t kMax = 200;
  std::string keys(kMax * 32, '\0');
  std::vector<std::uint32_t> lens(kMax);
  std::vector<sluice_decision> out(kMax), expected(kMax);
  std::vector<std::uint8_t> allowed(kMax), allowed_only(kMax);
  sluice_batch b = Batch(described.get());
  b.keys = keys.data();
  b.key_lens = lens.data();
  b.out = out.data();
  b.allowed = allowed.data();
  sluice_batch f = Batch(flags_only.get());
  f.keys = keys.data();
  f.key_lens = lens.data();
  f.allowed = allowed_only.data();
  std::mt19937_64 rng(3);
  std::int64_t now = kSecond;
  for (int round = 0; round < 60; ++round) {
    const std::size_t n = rng() % kMax;  // 0 included
    std::size_t at = 0;
    for (std::size_t i = 0; i < n; ++i) {  // keys of 0..31 bytes, many repeated
      const std::string k = std::string(rng() % 24, 'k') + std::to_string(rng() % 50);
      std::memcpy(keys.data() + at, k.data(), k.size());
      lens[i] = static_cast<std::uint32_t>(k.size());
      at += k.size();
    }
    const std::uint32_t policy = static_cast<std::uint32_t>(rng() % 2);
    const std::uint64_t cost = rng() % 3;
    b.n = f.n = n;
    b.policy = f.policy = policy;
    b.cost = f.cost = cost;
    const int want = sluice_check_packed(packed.get(), policy, keys.data(), lens.data(), n, now,
                                         cost, expected.data());
    ASSERT_GE(want, 0);
    EXPECT_EQ(sluice_batch_check(&b, now), want) << "round " << round;
    EXPECT_EQ(sluice_batch_check(&f, now), want) << "round " << round;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::memcmp(&out[i], &expected[i], sizeof out[i]), 0)
          << "round " << round << " key " << i;
      ASSERT_EQ(allowed[i], static_cast<std::uint8_t>(expected[i].allowed)) << i;
      ASSERT_EQ(allowed_only[i], allowed[i]) << i;
    }
    now += static_cast<std::int64_t>(rng() % (kSecond / 3));
  }
}

// Every bad descriptor is refused before a key is decided: the key keeps its whole burst.
TEST(CApiBatchTest, BadDescriptorsDecideNothing) {
  LimiterPtr l = MakeLimiter();
  const std::string key = "client";
  const std::uint32_t len = static_cast<std::uint32_t>(key.size());
  sluice_decision out[2];
  std::uint8_t allowed[2];
  const auto good = [&] {
    sluice_batch b = Batch(l.get());
    b.keys = key.data();
    b.key_lens = &len;
    b.n = 1;
    b.out = out;
    b.allowed = allowed;
    return b;
  };
  EXPECT_EQ(sluice_batch_check(nullptr, kSecond), SLUICE_EINVAL);
  sluice_batch b = good();
  b.size = sizeof b - 1;  // older than ABI 1's struct
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL);
  b = good();
  b.size = 0;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL);
  for (const std::uint32_t unknown : {0x2u, 0x80000000u, 0x3u}) {
    b = good();
    b.flags = unknown;
    EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL) << unknown;
  }
  b = good();
  b.limiter = nullptr;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL);
  b = good();
  b.key_lens = nullptr;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL);
  b = good();
  b.keys = nullptr;  // with a nonzero length
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL);
  b = good();
  b.n = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) + 1;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_EINVAL);
  b = good();
  b.policy = 2;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), SLUICE_ENOPOLICY);
  // Nothing was consumed: the burst of 3 is whole, then the 4th is denied.
  b = good();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sluice_batch_check(&b, kSecond), 1) << i;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), 0);
  EXPECT_EQ(allowed[0], 0);
  EXPECT_EQ(out[0].retry_after_ns, kSecond / 10);
  // The empty key (NULL with length 0) and an empty batch with no buffers at all are valid.
  const std::uint32_t zero = 0;
  b = good();
  b.keys = nullptr;
  b.key_lens = &zero;
  EXPECT_EQ(sluice_batch_check(&b, kSecond), 1);
  b = Batch(l.get());
  EXPECT_EQ(sluice_batch_check(&b, kSecond), 0);
}

// SLUICE_BATCH_CLOCK: the batch is decided at sluice_now_ns(), whatever now_ns says. At
// now_ns = 0 a key of "b" (1/s, burst 1) would be spent only until 1 s after boot; decided at
// the clock, a check at the clock right after is denied.
TEST(CApiBatchTest, ClockFlagDecidesAtTheMonotonicClock) {
  LimiterPtr l = MakeLimiter();
  const std::string key = "client";
  const std::uint32_t len = static_cast<std::uint32_t>(key.size());
  std::uint8_t allowed = 0;
  sluice_batch b = Batch(l.get());
  b.flags = SLUICE_BATCH_CLOCK;
  b.policy = 1;
  b.keys = key.data();
  b.key_lens = &len;
  b.n = 1;
  b.allowed = &allowed;
  ASSERT_EQ(sluice_batch_check(&b, 0), 1);
  EXPECT_EQ(allowed, 1);
  sluice_decision d;
  EXPECT_EQ(sluice_check(l.get(), 1, key.data(), key.size(), sluice_now_ns(), 1, &d), 0);
  EXPECT_GT(d.retry_after_ns, 0);
  EXPECT_EQ(sluice_batch_check(&b, 0), 0);
  EXPECT_EQ(allowed, 0);
}

}  // namespace
