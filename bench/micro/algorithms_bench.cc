// ns per decision of every algorithm of the lab (engine/algorithms/), single-threaded: one hot
// key, and uniformly random keys over 1M distinct keys. sluice-sim reports the same figure on
// a trace; these isolate the decision from trace handling.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "algorithms/algorithm.h"
#include "algorithms/fixed_window.h"
#include "algorithms/gcra_limiter.h"
#include "algorithms/leaky_bucket.h"
#include "algorithms/sliding_log.h"
#include "algorithms/sliding_window_counter.h"
#include "algorithms/token_bucket.h"
#include "bench_support.h"

namespace sluice::bench {
namespace {

using algorithms::AlgorithmConfig;

template <algorithms::Algorithm A>
std::unique_ptr<A> Make(const Rate& rate, std::uint64_t burst, std::size_t capacity) {
  AlgorithmConfig c;
  c.rate = rate;
  c.burst = burst;
  c.capacity = capacity;
  auto a = A::Create(c);
  if (!a.ok()) std::abort();
  return *std::move(a);
}

// One key, time advancing 10 ns per request, 50 per microsecond allowed (T = 20 ns), burst
// 100: about half the requests are admitted, and the sliding log holds up to 50 entries.
template <algorithms::Algorithm A>
void BM_LabHotKey(benchmark::State& state) {
  static const std::unique_ptr<A> a = Make<A>(Rate{50, std::chrono::microseconds{1}}, 100, 1024);
  static std::int64_t now = 0;
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    admitted += a->Check(kHotKey, nanoseconds{now}, 1).allowed ? 1 : 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      static_cast<double>(admitted) / static_cast<double>(state.iterations());
}

// 1M keys drawn uniformly (bench_support's sequence), time advancing 16 ns per request, each
// key allowed 2 per 2 * 2^20 * 16 ns (about its request rate), burst 2, tables of 1M keys.
template <algorithms::Algorithm A>
void BM_LabRandomKeys1M(benchmark::State& state) {
  constexpr std::size_t kKeys = std::size_t{1} << 20;
  constexpr std::int64_t kStep = 16;
  static const std::unique_ptr<A> a =
      Make<A>(Rate{2, nanoseconds{2 * static_cast<std::int64_t>(kKeys) * kStep}}, 2, kKeys);
  static std::int64_t now = 0;
  static std::size_t cursor = 0;
  const RandomKeys& keys = RandomKeysFor(kKeys);
  const std::size_t mask = keys.sequence.size() - 1;
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kStep;
    admitted +=
        a->Check(KeyBytes(keys.sequence[cursor++ & mask]), nanoseconds{now}, 1).allowed ? 1 : 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      static_cast<double>(admitted) / static_cast<double>(state.iterations());
  state.counters["bytes_per_key"] = a->bytes_per_key();
}

#define SLUICE_LAB_BENCH(A)                        \
  BENCHMARK_TEMPLATE(BM_LabHotKey, algorithms::A); \
  BENCHMARK_TEMPLATE(BM_LabRandomKeys1M, algorithms::A)

SLUICE_LAB_BENCH(GcraAlgorithm);
SLUICE_LAB_BENCH(TokenBucket);
SLUICE_LAB_BENCH(LeakyBucket);
SLUICE_LAB_BENCH(FixedWindow);
SLUICE_LAB_BENCH(SlidingWindowCounter);
SLUICE_LAB_BENCH(SlidingLog);

}  // namespace
}  // namespace sluice::bench
