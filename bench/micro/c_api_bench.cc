// The C ABI's cost over the C++ engine it wraps (issue #13's T8: at most 5 ns per call): the
// same hot-key and random-key workloads through Limiter::Check (inlined into this binary) and
// through sluice_check in libsluice.so.1 (a PLT call into a separate shared object, the
// argument checks, the decision copied into a sluice_decision). Also the batch entry points
// the bindings use. Single-threaded: the per-call overhead is what is measured.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_support.h"
#include "sluice/c.h"
#include "sluice/limiter.h"

namespace sluice::bench {
namespace {

constexpr PolicyId kPolicy{0};
constexpr std::size_t kBatch = 64;
constexpr std::size_t kTableKeys = 1024;  // fits in L1/L2: the call, not memory, is measured

// A C limiter with the hot workload's policy over a private table of `capacity` keys.
sluice_limiter* MakeCLimiter(std::size_t capacity, std::uint64_t rate_per_second,
                             std::uint64_t burst) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = capacity;
  o.flags = SLUICE_TABLE_FIXED_SEED;
  sluice_table* t = nullptr;
  char err[128] = "";
  if (sluice_table_create(&o, &t, err, sizeof err) != SLUICE_OK) {
    std::fprintf(stderr, "sluice_table_create: %s\n", err);
    std::abort();
  }
  sluice_policy p;
  sluice_policy_init(&p, sizeof p);
  p.name = "p";
  p.count = rate_per_second;
  p.period_ns = 1'000'000'000;
  p.burst = burst;
  sluice_limiter* l = nullptr;
  if (sluice_limiter_create(t, &p, 1, &l, err, sizeof err) != SLUICE_OK) {
    std::fprintf(stderr, "sluice_limiter_create: %s\n", err);
    std::abort();
  }
  sluice_table_close(t);
  return l;
}

// ---- One hot key (the steady state: one bucket, one CAS or none)

void BM_CppCheckHotKey(benchmark::State& state) {
  static const std::unique_ptr<Limiter> limiter =
      MakeLimiter(kTableKeys, Rate{kHotRatePerSecond, std::chrono::seconds{1}}, kHotBurst);
  static SyntheticClock clock;
  std::int64_t now = clock.Base();
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    const Decision d = limiter->Check(kPolicy, kHotKey, nanoseconds{now});
    benchmark::DoNotOptimize(d);
    admitted += d.allowed ? 1 : 0;
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      static_cast<double>(admitted) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_CppCheckHotKey);

void BM_CApiCheckHotKey(benchmark::State& state) {
  static sluice_limiter* const limiter = MakeCLimiter(kTableKeys, kHotRatePerSecond, kHotBurst);
  static SyntheticClock clock;
  std::int64_t now = clock.Base();
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    sluice_decision d;
    const int rc = sluice_check(limiter, 0, kHotKey.data(), kHotKey.size(), now, 1, &d);
    benchmark::DoNotOptimize(d);
    admitted += static_cast<std::uint64_t>(rc);
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      static_cast<double>(admitted) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_CApiCheckHotKey);

// ---- Random keys over a small table (hashing and install paths vary per call)

void BM_CppCheckRandomKeys(benchmark::State& state) {
  static const std::unique_ptr<Limiter> limiter =
      MakeLimiter(kTableKeys, Rate{kHotRatePerSecond, std::chrono::seconds{1}}, kHotBurst);
  static SyntheticClock clock;
  const RandomKeys& keys = RandomKeysFor(kTableKeys);
  const std::size_t mask = keys.sequence.size() - 1;
  std::size_t i = 0;
  std::int64_t now = clock.Base();
  for (auto _ : state) {
    now += kHotStepNs;
    const Decision d =
        limiter->Check(kPolicy, KeyBytes(keys.sequence[i++ & mask]), nanoseconds{now});
    benchmark::DoNotOptimize(d);
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CppCheckRandomKeys);

void BM_CApiCheckRandomKeys(benchmark::State& state) {
  static sluice_limiter* const limiter = MakeCLimiter(kTableKeys, kHotRatePerSecond, kHotBurst);
  static SyntheticClock clock;
  const RandomKeys& keys = RandomKeysFor(kTableKeys);
  const std::size_t mask = keys.sequence.size() - 1;
  std::size_t i = 0;
  std::int64_t now = clock.Base();
  for (auto _ : state) {
    now += kHotStepNs;
    const std::uint64_t& key = keys.sequence[i++ & mask];
    sluice_decision d;
    benchmark::DoNotOptimize(sluice_check(limiter, 0, &key, sizeof key, now, 1, &d));
    benchmark::DoNotOptimize(d);
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CApiCheckRandomKeys);

// ---- Batches of 64 random keys: C++ CheckBatch, sluice_check_batch, sluice_check_packed

void BM_CppCheckBatch64(benchmark::State& state) {
  static const std::unique_ptr<Limiter> limiter =
      MakeLimiter(kTableKeys, Rate{kHotRatePerSecond, std::chrono::seconds{1}}, kHotBurst);
  static SyntheticClock clock;
  const RandomKeys& keys = RandomKeysFor(kTableKeys);
  const std::size_t mask = keys.sequence.size() - 1;
  std::vector<Request> batch(kBatch);
  std::vector<Decision> out(kBatch);
  std::size_t cursor = 0;
  std::int64_t now = clock.Base();
  for (auto _ : state) {
    for (Request& r : batch) r = {kPolicy, KeyBytes(keys.sequence[cursor++ & mask]), 1};
    now += kHotStepNs * static_cast<std::int64_t>(kBatch);
    limiter->CheckBatch(batch, nanoseconds{now}, out);
    benchmark::DoNotOptimize(out.data());
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatch));
}
BENCHMARK(BM_CppCheckBatch64);

void BM_CApiCheckBatch64(benchmark::State& state) {
  static sluice_limiter* const limiter = MakeCLimiter(kTableKeys, kHotRatePerSecond, kHotBurst);
  static SyntheticClock clock;
  const RandomKeys& keys = RandomKeysFor(kTableKeys);
  const std::size_t mask = keys.sequence.size() - 1;
  std::vector<sluice_request> batch(kBatch);
  std::vector<sluice_decision> out(kBatch);
  std::size_t cursor = 0;
  std::int64_t now = clock.Base();
  for (auto _ : state) {
    for (sluice_request& r : batch) {
      r = {0, 0, &keys.sequence[cursor++ & mask], sizeof(std::uint64_t), 1};
    }
    now += kHotStepNs * static_cast<std::int64_t>(kBatch);
    benchmark::DoNotOptimize(sluice_check_batch(limiter, batch.data(), kBatch, now, out.data()));
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatch));
}
BENCHMARK(BM_CApiCheckBatch64);

void BM_CApiCheckPacked64(benchmark::State& state) {
  static sluice_limiter* const limiter = MakeCLimiter(kTableKeys, kHotRatePerSecond, kHotBurst);
  static SyntheticClock clock;
  const RandomKeys& keys = RandomKeysFor(kTableKeys);
  const std::size_t mask = keys.sequence.size() - 1;
  std::vector<std::uint64_t> packed(kBatch);
  const std::vector<std::uint32_t> lens(kBatch, sizeof(std::uint64_t));
  std::vector<sluice_decision> out(kBatch);
  std::size_t cursor = 0;
  std::int64_t now = clock.Base();
  for (auto _ : state) {
    for (std::uint64_t& k : packed) k = keys.sequence[cursor++ & mask];
    now += kHotStepNs * static_cast<std::int64_t>(kBatch);
    benchmark::DoNotOptimize(
        sluice_check_packed(limiter, 0, packed.data(), lens.data(), kBatch, now, 1, out.data()));
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatch));
}
BENCHMARK(BM_CApiCheckPacked64);

}  // namespace
}  // namespace sluice::bench
