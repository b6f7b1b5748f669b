// The C ABI's hot calls never allocate: global operator new is replaced in this executable,
// which interposes on libsluice.so.1's calls to it too, and the count must not move across
// checks, batches, multi-policy checks, header formatting and stats of a full table.
#include "sluice/c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "support/alloc_counter.h"

namespace {

TEST(CApiAllocationTest, TheCounterSeesTheLibrarysAllocations) {
  const long before = sluice::testing::Allocations();
  sluice_table* t = nullptr;
  ASSERT_EQ(sluice_table_create(nullptr, &t, nullptr, 0), SLUICE_OK);  // a config-time call
  EXPECT_GT(sluice::testing::Allocations(), before);
  sluice_table_close(t);
}

TEST(CApiAllocationTest, HotCallsNeverAllocate) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = 4096;
  sluice_table* t = nullptr;
  ASSERT_EQ(sluice_table_create(&o, &t, nullptr, 0), SLUICE_OK);
  sluice_policy p[2];
  sluice_policy_init(&p[0], sizeof p[0]);
  sluice_policy_init(&p[1], sizeof p[1]);
  p[0].name = "a";
  p[0].count = 100;
  p[0].period_ns = 1'000'000'000;
  p[0].burst = 10;
  p[1].name = "b";
  p[1].count = 5;
  p[1].period_ns = 1'000'000'000;
  p[1].burst = 2;
  sluice_limiter* l = nullptr;
  ASSERT_EQ(sluice_limiter_create(t, p, 2, &l, nullptr, 0), SLUICE_OK);

  std::vector<std::string> keys;
  for (int i = 0; i < 50000; ++i) keys.push_back("client-" + std::to_string(i));  // > capacity
  std::vector<sluice_request> batch;
  std::string packed;
  std::vector<std::uint32_t> lens;
  for (std::size_t i = 0; i < 64; ++i) {
    batch.push_back({0, 0, keys[i].data(), keys[i].size(), 1});
    packed += keys[i];
    lens.push_back(static_cast<std::uint32_t>(keys[i].size()));
  }
  std::vector<sluice_decision> out(batch.size());
  sluice_request checks[2] = {{0, 0, nullptr, 0, 1}, {1, SLUICE_REQUEST_SHADOW, nullptr, 0, 1}};
  sluice_decision multi_out[2];
  sluice_multi_decision m;
  sluice_table_stats stats;
  char header[SLUICE_HEADER_VALUE_MAX(1)];
  std::mt19937 rng(5);
  std::uint8_t allowed[64];
  sluice_batch described;
  sluice_batch_init(&described, sizeof described);
  described.limiter = l;
  described.keys = packed.data();
  described.key_lens = lens.data();
  described.n = lens.size();
  described.out = out.data();
  described.allowed = allowed;

  const long before = sluice::testing::Allocations();
  long admitted = 0;
  for (int i = 0; i < 300000; ++i) {
    const std::int64_t now = static_cast<std::int64_t>(i) * 1000;
    const std::string& key = keys[rng() % keys.size()];
    sluice_decision d;
    admitted +=
        sluice_check(l, static_cast<std::uint32_t>(i & 1), key.data(), key.size(), now, 1, &d);
    if (i % 1000 == 0) {
      admitted += sluice_check_batch(l, batch.data(), batch.size(), now, out.data());
      admitted +=
          sluice_check_packed(l, 0, packed.data(), lens.data(), lens.size(), now, 1, out.data());
      admitted += sluice_batch_check(&described, now);
      checks[0].key = checks[1].key = key.data();
      checks[0].key_len = checks[1].key_len = key.size();
      (void)sluice_check_all(l, checks, 2, now, multi_out, &m);
      sluice_limit_check across[2] = {{l, 1, 0, key.data(), key.size(), 1},
                                      {l, 0, 0, key.data(), key.size(), 2}};
      (void)sluice_check_multi(across, 2, now, multi_out, &m);
      (void)sluice_refund(l, 0, key.data(), key.size(), 1, &d, now, now);
      (void)sluice_format_header(l, 0, &d, SLUICE_HEADER_RATELIMIT, header, sizeof header);
      (void)sluice_format_header(l, 0, &d, SLUICE_HEADER_RETRY_AFTER, header, sizeof header);
      (void)sluice_table_get_stats(t, &stats, sizeof stats);
      (void)sluice_now_ns();
    }
  }
  const long after = sluice::testing::Allocations();
  EXPECT_EQ(after - before, 0);
  EXPECT_GT(admitted, 0);
  ASSERT_EQ(sluice_table_get_stats(t, &stats, sizeof stats), SLUICE_OK);
  EXPECT_GT(stats.evictions, 0u);  // the table was full and kept working in place
  sluice_limiter_destroy(l);
  sluice_table_close(t);
}

}  // namespace
