// Baselines for state_table_bench.cc, run in the same process so ratios compare like with like:
//   BM_MutexMapHotKey   what a user would write by hand (a mutex and a hash map), same GCRA rule
//   BM_StripedMutexMap* the same split into 64 stripes, each its own mutex and map (the fair
//                       "sharded" competitor): one hot key, and 1M random keys
//   BM_AtomicFloor      one 128-bit CAS on one slot: the floor of a contended decision
//   BM_MemoryFloor      random cache-line read-modify-writes over a table-sized buffer,
//                       prefetched as CheckBatch prefetches: the floor of a memory-bound decision
//   BM_MemoryCasFloor   the same with the table's 128-bit CAS as the write (explanatory)
//   BM_GcraStep         the rule alone, no table (explanatory)
//   BM_KeyHash          hashing a 16-byte key (explanatory)
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "bench_support.h"
#include "sluice/cacheline.h"
#include "sluice/gcra.h"
#include "sluice/key_hash.h"

namespace sluice::bench {
namespace {

__extension__ typedef unsigned __int128 U128;

// ---------------------------------------------------------------------------------------------
// BM_MutexMapHotKey: the hand-written limiter. Same policy, key and synthetic time as
// BM_GcraHotKey and the same arithmetic (GcraStep), so only synchronisation and hashing differ.
class MutexMapLimiter {
 public:
  explicit MutexMapLimiter(const GcraParams& params) : params_(params) {}

  Decision Check(std::string_view key, std::int64_t now, std::uint64_t cost) {
    const std::lock_guard<std::mutex> lock(mu_);
    // Debian's abseil has its own string_view: look up through it, heterogeneously.
    auto it = tat_.find(absl::string_view(key.data(), key.size()));
    if (it == tat_.end()) it = tat_.emplace(std::string(key), now).first;
    const GcraResult r = GcraStep(params_, it->second, now, cost);
    it->second = r.new_tat;
    return r.decision;
  }

 private:
  const GcraParams params_;
  std::mutex mu_;
  absl::flat_hash_map<std::string, std::int64_t> tat_;
};

template <std::uint64_t kRatePerSecond>
void MutexMapHotKey(benchmark::State& state) {
  const ScopedPin pin(state.thread_index());
  static MutexMapLimiter limiter(  // thread-safe initialisation, no barrier needed
      *GcraParams::Make(Rate{kRatePerSecond, std::chrono::seconds{1}}, kHotBurst));
  static SyntheticClock clock;
  std::int64_t now = clock.Base();
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    const Decision d = limiter.Check(kHotKey, now, 1);
    admitted += d.allowed ? 1 : 0;
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      benchmark::Counter(static_cast<double>(admitted) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}

void BM_MutexMapHotKey(benchmark::State& state) { MutexMapHotKey<kHotRatePerSecond>(state); }
void BM_MutexMapHotKeyOverLimit(benchmark::State& state) {
  MutexMapHotKey<kOverLimitRatePerSecond>(state);
}
BENCHMARK(BM_MutexMapHotKey)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_MutexMapHotKeyOverLimit)->Threads(1)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------------------------
// BM_StripedMutexMap*: the hand-written limiter sharded the usual way. 64 stripes, each a mutex
// and a map on cache lines of their own; the key's absl::Hash picks the stripe (its top 6
// bits: the map itself uses the low bits of the same hash). The map grows without bound and
// never forgets a key, which the fixed table does; it is the competitor, not the reference.
class StripedMutexLimiter {
 public:
  static constexpr std::size_t kStripes = 64;

  explicit StripedMutexLimiter(const GcraParams& params) : params_(params) {}

  Decision Check(std::string_view key, std::int64_t now, std::uint64_t cost) {
    const absl::string_view k(key.data(), key.size());
    Stripe& s = stripes_[absl::Hash<absl::string_view>{}(k) >> 58];
    const std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.tat.find(k);
    if (it == s.tat.end()) it = s.tat.emplace(std::string(key), now).first;
    const GcraResult r = GcraStep(params_, it->second, now, cost);
    it->second = r.new_tat;
    return r.decision;
  }

 private:
  struct alignas(kCacheLine) Stripe {
    std::mutex mu;
    absl::flat_hash_map<std::string, std::int64_t> tat;
  };
  const GcraParams params_;
  Stripe stripes_[kStripes];
};

template <std::uint64_t kRatePerSecond>
void StripedMutexMapHotKey(benchmark::State& state) {
  const ScopedPin pin(state.thread_index());
  static StripedMutexLimiter limiter(  // thread-safe initialisation, no barrier needed
      *GcraParams::Make(Rate{kRatePerSecond, std::chrono::seconds{1}}, kHotBurst));
  static SyntheticClock clock;
  std::int64_t now = clock.Base();
  std::uint64_t admitted = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    const Decision d = limiter.Check(kHotKey, now, 1);
    admitted += d.allowed ? 1 : 0;
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      benchmark::Counter(static_cast<double>(admitted) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}

void BM_StripedMutexMapHotKey(benchmark::State& state) {
  StripedMutexMapHotKey<kHotRatePerSecond>(state);
}
void BM_StripedMutexMapHotKeyOverLimit(benchmark::State& state) {
  StripedMutexMapHotKey<kOverLimitRatePerSecond>(state);
}
BENCHMARK(BM_StripedMutexMapHotKey)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_StripedMutexMapHotKeyOverLimit)->Threads(1)->Threads(2)->UseRealTime();

// BM_StripedMutexMapRandomKeys/<keys>: the threaded random-key workload of bench_support.h,
// exactly as BM_GcraRandomKeysThreaded runs it on the engine.
void BM_StripedMutexMapRandomKeys(benchmark::State& state) {
  const ScopedPin pin(state.thread_index());
  constexpr std::size_t kKeys = kThreadedRandomKeys;
  static StripedMutexLimiter limiter(*GcraParams::Make(ThreadedRandomRate(), kRandomBurst));
  static const std::int64_t warmed = [] {
    return WarmThreadedRandom(
        [](std::string_view key, std::int64_t now) { (void)limiter.Check(key, now, 1); });
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
    admitted += limiter.Check(KeyBytes(sequence[j]), now, 1).allowed ? 1 : 0;
    j = (j + 1) & mask;
  }
  clock.Publish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["admitted"] =
      benchmark::Counter(static_cast<double>(admitted) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_StripedMutexMapRandomKeys)->Threads(1)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------------------------
// BM_AtomicFloor: one LOCK CMPXCHG16B per iteration on a 16-byte slot alone on its cache line,
// shared by every thread. A failed CAS hands back the current value, which the next iteration
// uses: exactly one RMW per iteration, no separate load.
struct alignas(kCacheLine) FloorSlot {
  U128 word = 0;
};
static_assert(alignof(FloorSlot) == kCacheLine && sizeof(FloorSlot) == kCacheLine);

void BM_AtomicFloor(benchmark::State& state) {
  const ScopedPin pin(state.thread_index());
  static FloorSlot slot;
  U128 expected = 0;
  for (auto _ : state) {
    const U128 previous = __sync_val_compare_and_swap(&slot.word, expected, expected + 1);
    expected = previous == expected ? expected + 1 : previous;
  }
  benchmark::DoNotOptimize(expected);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AtomicFloor)->Threads(1)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------------------------
// BM_MemoryFloor/<keys>: a buffer of the table's size (keys * 16 bytes, 64-byte lines, huge
// pages advised, committed), the same key sequence as BM_GcraRandomKeys (its values are
// uniformly mixed, so their low bits pick a uniform line), and CheckBatch's access pattern: per
// batch of kBatch requests, a rolling window with the lines of the next kAhead requests
// prefetched for writing while each line is read-modified-written in turn, the window starting
// afresh with every batch as it does with every CheckBatch call. An iteration is a batch, like
// BM_GcraBatchRandomKeys. What it leaves out is the decision itself: no hash, no rule, no
// install, and a write for every request (the batch writes only for admissions and installs).
constexpr std::size_t kAhead = 48;  // Limiter::CheckBatch's window
constexpr std::size_t kBatch = 64;  // BM_GcraBatchRandomKeys' batch

struct alignas(kCacheLine) Line {
  U128 words[kCacheLine / sizeof(U128)];
};
static_assert(sizeof(Line) == kCacheLine);

HugeBuffer& FloorBuffer(std::size_t keys) {
  // Single-threaded benchmarks only; built once per process and key count.
  static std::map<std::size_t, std::unique_ptr<HugeBuffer>> cache;
  std::unique_ptr<HugeBuffer>& slot = cache[keys];
  if (!slot) slot = std::make_unique<HugeBuffer>(keys * 16);
  return *slot;
}

template <bool kCas>
void MemoryFloor(benchmark::State& state) {
  const auto keys = static_cast<std::size_t>(state.range(0));
  const std::vector<std::uint64_t>& sequence = RandomKeysFor(keys).sequence;
  HugeBuffer& buffer = FloorBuffer(keys);
  Line* const lines = static_cast<Line*>(buffer.data());
  const std::uint64_t line_mask = buffer.size() / sizeof(Line) - 1;
  const std::size_t mask = sequence.size() - 1;
  std::size_t j = 0;
  for (auto _ : state) {
    Line* targets[kBatch];
    const auto line_of = [&](std::size_t i) {
      targets[i] = &lines[sequence[(j + i) & mask] & line_mask];
      __builtin_prefetch(targets[i], /*rw=*/1, /*locality=*/3);
    };
    for (std::size_t i = 0; i < kAhead; ++i) line_of(i);
    for (std::size_t i = 0; i < kBatch; ++i) {
      if (i + kAhead < kBatch) line_of(i + kAhead);
      U128& word = targets[i]->words[0];
      if constexpr (kCas) {
        const U128 seen = word;  // a plain read as the hint, like the table's relaxed loads
        (void)__sync_val_compare_and_swap(&word, seen, seen + 1);
      } else {
        word += 1;
      }
    }
    j = (j + kBatch) & mask;
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(kBatch));
}

void BM_MemoryFloor(benchmark::State& state) { MemoryFloor<false>(state); }
void BM_MemoryCasFloor(benchmark::State& state) { MemoryFloor<true>(state); }
BENCHMARK(BM_MemoryFloor)->Arg(1 << 24);
BENCHMARK(BM_MemoryCasFloor)->Arg(1 << 24);

// ---------------------------------------------------------------------------------------------
// BM_GcraStep: the rule alone, on the hot-key policy and time step. Each TAT feeds the next
// step, as on one key.
void BM_GcraStep(benchmark::State& state) {
  GcraParams params = HotParams();
  benchmark::DoNotOptimize(params);  // keep T opaque: no constant-folded division
  std::int64_t tat = 0;
  std::int64_t now = 0;
  for (auto _ : state) {
    now += kHotStepNs;
    const GcraResult r = GcraStep(params, tat, now, 1);
    tat = r.new_tat;
    benchmark::DoNotOptimize(r.decision);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GcraStep);

// BM_KeyHash: KeyHasher::Hash of a 16-byte key (kHotKey's length), a different key each time.
void BM_KeyHash(benchmark::State& state) {
  const KeyHasher hasher(HashSeed{{1, 2, 3, 4}});
  char key[16] = {};
  std::uint64_t counter = 0;
  for (auto _ : state) {
    ++counter;
    std::memcpy(key, &counter, sizeof counter);
    benchmark::DoNotOptimize(hasher.Hash(7, std::string_view(key, sizeof key)));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyHash);

}  // namespace
}  // namespace sluice::bench
