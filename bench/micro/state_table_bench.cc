// The engine's decision path through Limiter: one hot key under contention, uniformly random
// keys over tables from L1-sized to far beyond the last-level cache, and the batched path.
// The baselines these are compared with are in baselines_bench.cc; bench/compare/
// engine_ratios.py turns a JSON run into the ratios the targets are stated in.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "bench_support.h"
#include "sluice/limiter.h"

namespace sluice::bench {
namespace {

constexpr PolicyId kPolicy{0};

double Ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// ---------------------------------------------------------------------------------------------
// BM_GcraHotKey: every thread calls Limiter::Check on the same key (see kHotKey for the policy
// and the time step). The limiter is a function-local static: its initialisation is
// thread-safe, so the threads of a run need no barrier to share it.
template <std::uint64_t kRatePerSecond>
void GcraHotKey(benchmark::State& state) {
  const ScopedPin pin(state.thread_index());
  static const std::unique_ptr<Limiter> limiter =
      MakeLimiter(1024, Rate{kRatePerSecond, std::chrono::seconds{1}}, kHotBurst);
  static SyntheticClock clock;
  std::int64_t now = clock.Base();
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    const Decision d = limiter->Check(kPolicy, kHotKey, nanoseconds{now});
    admitted += d.allowed ? 1 : 0;
  }
  clock.Publish(now);
  const auto iterations = static_cast<std::uint64_t>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      benchmark::Counter(Ratio(admitted, iterations), benchmark::Counter::kAvgThreads);
}

void BM_GcraHotKey(benchmark::State& state) { GcraHotKey<kHotRatePerSecond>(state); }
// The same key far over its limit (about 1% admitted): what an abusive client looks like.
void BM_GcraHotKeyOverLimit(benchmark::State& state) { GcraHotKey<kOverLimitRatePerSecond>(state); }
BENCHMARK(BM_GcraHotKey)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_GcraHotKeyOverLimit)->Threads(1)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------------------------
// Random keys. One limiter per key count, with capacity = keys (16 bytes per key), kept for the
// whole process: building and warming the 16M-key table (256 MiB) happens once, not per run or
// repetition. Single-threaded benchmarks only: the cache below is not synchronised.
//
// Time advances kRandomStepNs per request and the policy's emission interval is keys * step:
// a key is requested, on average, exactly at its rate (requests are a Poisson-like stream per
// key), so some requests are denied and the table holds a mix of live and expired TATs, the
// same mix at every table size. Burst 2.
constexpr std::size_t kBatch = 64;  // requests per CheckBatch call

struct RandomWorkload {
  const RandomKeys* keys = nullptr;
  std::unique_ptr<Limiter> limiter;
  std::int64_t now = 0;    // synthetic time, continued from run to run
  std::size_t cursor = 0;  // position in keys->sequence, continued from run to run
  double resident = 0.0;   // fraction of the keys the table held after the warm-up
};

RandomWorkload& RandomWorkloadFor(std::size_t keys) {
  static std::map<std::size_t, std::unique_ptr<RandomWorkload>> cache;
  std::unique_ptr<RandomWorkload>& slot = cache[keys];
  if (slot) return *slot;
  slot = std::make_unique<RandomWorkload>();
  RandomWorkload& w = *slot;
  w.keys = &RandomKeysFor(keys);
  const auto period = nanoseconds{static_cast<std::int64_t>(keys) * kRandomStepNs};
  w.limiter = MakeLimiter(keys, Rate{1, period}, kRandomBurst);
  // Warm-up, so the timed loops run in the steady state rather than installing keys: every key
  // once, then one pass of the request sequence (which settles which keys of an overfull bucket
  // are held, and mixes live and expired TATs). Batched: faster than Check on a cold table.
  std::vector<std::uint64_t> values(kBatch);
  std::array<Request, kBatch> batch{};
  std::array<Decision, kBatch> out{};
  for (std::size_t base = 0; base < keys; base += kBatch) {
    const std::size_t n = std::min(kBatch, keys - base);
    for (std::size_t i = 0; i < n; ++i) {
      values[i] = KeyValue(base + i);
      batch[i] = Request{kPolicy, KeyBytes(values[i]), 1};
    }
    w.now += static_cast<std::int64_t>(n) * kRandomStepNs;
    w.limiter->CheckBatch(std::span<const Request>(batch.data(), n), nanoseconds{w.now}, out);
  }
  const std::vector<std::uint64_t>& sequence = w.keys->sequence;  // a multiple of kBatch long
  for (std::size_t base = 0; base < sequence.size(); base += kBatch) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      batch[i] = Request{kPolicy, KeyBytes(sequence[base + i]), 1};
    }
    w.now += static_cast<std::int64_t>(kBatch) * kRandomStepNs;
    w.limiter->CheckBatch(batch, nanoseconds{w.now}, out);
  }
  w.resident = Ratio(static_cast<std::uint64_t>(w.limiter->Stats().occupied), keys);
  return w;
}

void ReportTable(benchmark::State& state, const RandomWorkload& w, const TableStats& before,
                 std::uint64_t requests, std::uint64_t admitted) {
  const TableStats after = w.limiter->Stats();
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
  state.counters["bytes_per_key"] =
      static_cast<double>(after.memory_bytes) / static_cast<double>(w.keys->keys);
  state.counters["admitted"] = Ratio(admitted, requests);
  // Steady state is not "no installs": at capacity = keys, four-slot buckets cannot hold every
  // key of a uniform hash (the fuller buckets overflow), so the keys beyond a bucket's four
  // take turns. These say how much of the measured cost is installing.
  state.counters["installs_per_op"] = Ratio(after.installs - before.installs, requests);
  state.counters["evictions_per_op"] = Ratio(after.evictions - before.evictions, requests);
  state.counters["resident"] = w.resident;
}

// BM_GcraRandomKeys/<keys>: one Limiter::Check per request.
void BM_GcraRandomKeys(benchmark::State& state) {
  RandomWorkload& w = RandomWorkloadFor(static_cast<std::size_t>(state.range(0)));
  const std::vector<std::uint64_t>& sequence = w.keys->sequence;
  const std::size_t mask = sequence.size() - 1;
  Limiter& limiter = *w.limiter;
  const TableStats before = limiter.Stats();
  std::int64_t now = w.now;
  std::size_t j = w.cursor;
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kRandomStepNs;
    const Decision d = limiter.Check(kPolicy, KeyBytes(sequence[j]), nanoseconds{now});
    admitted += d.allowed ? 1 : 0;
    j = (j + 1) & mask;
  }
  w.now = now;
  w.cursor = j;
  ReportTable(state, w, before, static_cast<std::uint64_t>(state.iterations()), admitted);
}
BENCHMARK(BM_GcraRandomKeys)->Arg(1024)->Arg(1 << 20)->Arg(1 << 24);

// BM_GcraRandomKeysThreaded: 1M keys shared by 1 or 2 threads (the workload of
// bench_support.h), one Limiter::Check per request; BM_StripedMutexMapRandomKeys is the same
// on the striped mutex map.
void BM_GcraRandomKeysThreaded(benchmark::State& state) {
  const ScopedPin pin(state.thread_index());
  constexpr std::size_t kKeys = kThreadedRandomKeys;
  static const std::unique_ptr<Limiter> limiter =
      MakeLimiter(kKeys, ThreadedRandomRate(), kRandomBurst);
  static const std::int64_t warmed = [] {
    return WarmThreadedRandom([](std::string_view key, std::int64_t now) {
      (void)limiter->Check(kPolicy, key, nanoseconds{now});
    });
  }();
  static SyntheticClock clock(warmed);
  // Fetched once, by the thread that initialises it: RandomKeysFor is not synchronised.
  static const std::vector<std::uint64_t>& sequence = RandomKeysFor(kKeys).sequence;
  const std::size_t mask = sequence.size() - 1;
  std::size_t j = ThreadedStart(state.thread_index(), state.threads(), sequence.size());
  const std::int64_t step = kRandomStepNs * state.threads();
  std::int64_t now = clock.Base();
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += step;
    admitted += limiter->Check(kPolicy, KeyBytes(sequence[j]), nanoseconds{now}).allowed ? 1 : 0;
    j = (j + 1) & mask;
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      benchmark::Counter(Ratio(admitted, static_cast<std::uint64_t>(state.iterations())),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_GcraRandomKeysThreaded)->Threads(1)->Threads(2)->UseRealTime();

// BM_GcraBatchRandomKeys/<keys>: the same keys and sequence through Limiter::CheckBatch, kBatch
// requests per call sharing one `now` (time advances at the same average rate per request).
void BM_GcraBatchRandomKeys(benchmark::State& state) {
  RandomWorkload& w = RandomWorkloadFor(static_cast<std::size_t>(state.range(0)));
  const std::vector<std::uint64_t>& sequence = w.keys->sequence;
  const std::size_t mask = sequence.size() - 1;
  Limiter& limiter = *w.limiter;
  const TableStats before = limiter.Stats();
  std::array<Request, kBatch> batch{};
  std::array<Decision, kBatch> out{};
  std::int64_t now = w.now;
  std::size_t j = w.cursor;
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      batch[i] = Request{kPolicy, KeyBytes(sequence[(j + i) & mask]), 1};
    }
    j = (j + kBatch) & mask;
    now += static_cast<std::int64_t>(kBatch) * kRandomStepNs;
    limiter.CheckBatch(batch, nanoseconds{now}, out);
    for (const Decision& d : out) admitted += d.allowed ? 1 : 0;
  }
  w.now = now;
  w.cursor = j;
  ReportTable(state, w, before, static_cast<std::uint64_t>(state.iterations()) * kBatch, admitted);
}
BENCHMARK(BM_GcraBatchRandomKeys)->Arg(1024)->Arg(1 << 24);

}  // namespace
}  // namespace sluice::bench
