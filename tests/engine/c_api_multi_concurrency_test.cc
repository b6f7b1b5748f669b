// Conservation of cross-table multi-checks (sluice_check_multi) under contention: threads
// deciding one request against several limiters, each over its own table (as several nginx
// zones in one location), at one shared `now`. Every request admitted must have been admitted
// by every limit, and every limit must stay charged for exactly the requests that were
// admitted as a whole (plus those it admitted alone): a denial anywhere refunds exactly. Run
// under TSan in CI (label concurrency).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sluice/c.h"

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kNow = 1000 * kSecond;  // one time for everyone: the rule is exact
constexpr int kThreads = 4;
constexpr int kKeys = 16;
constexpr int kOpsPerThread = 300;  // 75 attempts per key, against bursts of 10 to 50

struct Limit {
  sluice_table* table = nullptr;
  sluice_limiter* limiter = nullptr;
  std::uint64_t burst = 0;

  explicit Limit(std::uint64_t b) : burst(b) {
    char err[128] = "";
    EXPECT_EQ(sluice_table_create_shared(nullptr, &table, err, sizeof err), SLUICE_OK) << err;
    sluice_policy p;
    sluice_policy_init(&p, sizeof p);
    p.name = "zone";
    p.count = 1;
    p.period_ns = 60 * kSecond;  // T = 60 s: nothing regenerates during the test
    p.burst = b;
    EXPECT_EQ(sluice_limiter_create(table, &p, 1, &limiter, err, sizeof err), SLUICE_OK) << err;
  }
  ~Limit() {
    sluice_limiter_destroy(limiter);
    sluice_table_close(table);
  }
  Limit(const Limit&) = delete;
  Limit& operator=(const Limit&) = delete;

  // Requests this limit is still charged for on `key`.
  [[nodiscard]] std::int64_t Charged(const std::string& key) const {
    sluice_decision d;
    sluice_check(limiter, 0, key.data(), key.size(), kNow, 0, &d);
    return static_cast<std::int64_t>(burst) - d.remaining;
  }
};

std::string Key(int k) { return "client-" + std::to_string(k); }

// Each thread walks the keys from its own offset; every `single_every`-th operation (0: none)
// is a plain sluice_check on limits[0] alone, racing the multi-checks' charges and refunds.
struct Counts {
  std::vector<std::atomic<int>> multi;
  std::vector<std::atomic<int>> single;
  Counts() : multi(kKeys), single(kKeys) {}
};

void RunThreads(const std::vector<Limit*>& limits, int single_every, Counts& counts) {
  std::vector<std::thread> workers;
  for (int w = 0; w < kThreads; ++w) {
    workers.emplace_back([&, w] {
      std::vector<sluice_limit_check> checks(limits.size());
      std::vector<sluice_decision> out(limits.size());
      for (int op = 0; op < kOpsPerThread; ++op) {
        const int k = (op + w * 5) % kKeys;
        const std::string key = Key(k);
        if (single_every != 0 && op % single_every == 0) {
          sluice_decision d;
          if (sluice_check(limits[0]->limiter, 0, key.data(), key.size(), kNow, 1, &d) == 1) {
            counts.single[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed);
          }
          continue;
        }
        for (std::size_t i = 0; i < limits.size(); ++i) {
          checks[i] = {limits[i]->limiter, 0, 0, key.data(), key.size(), 1};
        }
        sluice_multi_decision r;
        const int rc = sluice_check_multi(checks.data(), checks.size(), kNow, out.data(), &r);
        ASSERT_GE(rc, 0);
        if (rc == 1) {
          counts.multi[static_cast<std::size_t>(k)].fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
}

TEST(CApiMultiConcurrencyTest, TwoZonesAdmitExactlyTheTighterRule) {
  Limit loose(50);
  Limit tight(20);
  Counts counts;
  RunThreads({&loose, &tight}, 0, counts);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = Key(k);
    EXPECT_EQ(counts.multi[static_cast<std::size_t>(k)].load(), 20) << key;
    // The loose zone was refunded every time the tight one denied: charged 20 of its 50.
    EXPECT_EQ(loose.Charged(key), 20) << key;
    EXPECT_EQ(tight.Charged(key), 20) << key;
  }
}

TEST(CApiMultiConcurrencyTest, TheTightZoneInTheMiddleWithSingleChecksRacing) {
  Limit first(50);
  Limit middle(10);
  Limit last(30);
  Counts counts;
  RunThreads({&first, &middle, &last}, 4, counts);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = Key(k);
    const int multi = counts.multi[static_cast<std::size_t>(k)].load();
    const int single = counts.single[static_cast<std::size_t>(k)].load();
    EXPECT_EQ(multi, 10) << key;
    // About 19 single checks per key, all admitted (50 leaves room for them and the multi
    // checks' transient charges): the first zone holds exactly both kinds.
    EXPECT_GE(single, 15) << key;
    EXPECT_EQ(first.Charged(key), multi + single) << key;
    EXPECT_EQ(middle.Charged(key), multi) << key;
    EXPECT_EQ(last.Charged(key), multi) << key;
  }
}

}  // namespace
