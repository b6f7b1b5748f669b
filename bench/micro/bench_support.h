// Shared pieces of sluice-bench: synthetic time, the hot-key and random-key workloads, and a
// huge-page buffer laid out like the state table. Private to bench/micro.
#ifndef SLUICE_BENCH_MICRO_BENCH_SUPPORT_H_
#define SLUICE_BENCH_MICRO_BENCH_SUPPORT_H_

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "sluice/gcra.h"
#include "sluice/limiter.h"

namespace sluice::bench {

using std::chrono::nanoseconds;

// ---------------------------------------------------------------------------------------------
// Synthetic time.
//
// Reading a clock per iteration costs about as much as the decision being measured, so each
// thread computes now = base + i * step with a thread-local i. Benchmarks that keep state across
// runs (a static limiter) continue time where the previous run stopped: otherwise a run starting
// again at 0 would find TATs from the last run far in its future and deny everything.
class SyntheticClock {
 public:
  SyntheticClock() = default;
  explicit SyntheticClock(std::int64_t start) noexcept : high_(start) {}

  // The time the next run starts at. Called before the timed loop; the runs of one benchmark are
  // separated by thread joins, which order them, so relaxed suffices.
  [[nodiscard]] std::int64_t Base() const noexcept { return high_.load(std::memory_order_relaxed); }

  // Records that a thread of the run that just ended reached `now`. Relaxed: the value is read
  // only by a later run, ordered after this one by thread joins.
  void Publish(std::int64_t now) noexcept {
    std::int64_t seen = high_.load(std::memory_order_relaxed);
    while (seen < now && !high_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
  }

 private:
  std::atomic<std::int64_t> high_{0};
};

// ---------------------------------------------------------------------------------------------
// Pins the calling benchmark thread to a CPU of its own (the thread_index-th CPU it may run on,
// cycling) for one run, and restores its affinity afterwards. A contention benchmark measures a
// cache line moving between cores only if its threads are on different cores; left to the
// scheduler, two threads sometimes share one core and the contention disappears from the
// figures.
class ScopedPin {
 public:
  explicit ScopedPin(int thread_index) noexcept;
  ~ScopedPin();
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  cpu_set_t saved_;
  bool pinned_ = false;
};

// ---------------------------------------------------------------------------------------------
// The hot-key workload: every thread decides the same key of one policy.
//
// Synthetic time advances kHotStepNs per iteration of each thread and the policy's emission
// interval T is 20 ns (5*10^7/s, within the 10^9/s limit), so one thread alone has about half
// of its requests admitted and half denied (step / T = 1/2); with two threads sharing the key
// about a quarter are. Both outcomes stay well represented, and an admission and a denial cost
// nearly the same in the table. The burst (100) only shapes the
// first microseconds of a run. The step is not the real per-iteration cost: only the admit/deny
// mix depends on it.
inline constexpr std::string_view kHotKey = "tenant:000000042";  // 16 bytes
inline constexpr std::int64_t kHotStepNs = 10;
inline constexpr std::uint64_t kHotRatePerSecond = 50'000'000;  // T = 20 ns
inline constexpr std::uint64_t kHotBurst = 100;
// The over-limit variant: T = 1 us against a 10 ns step, about 1% admitted (an abusive client).
inline constexpr std::uint64_t kOverLimitRatePerSecond = 1'000'000;

[[nodiscard]] GcraParams HotParams();

// A limiter with one policy "p" and a fixed seed; aborts with a message on a configuration
// error (a bug in the benchmark, not something to measure).
[[nodiscard]] std::unique_ptr<Limiter> MakeLimiter(std::size_t capacity, const Rate& rate,
                                                   std::uint64_t burst);

// ---------------------------------------------------------------------------------------------
// The random-key workload: requests drawn uniformly from `keys` distinct 8-byte keys.
//
// `sequence` holds the request keys in order (max(keys, 2^16) of them, a power of two, read
// cyclically), each one of KeyValue(0 .. keys-1) picked by xorshift64*. Storing the keys
// themselves rather than indices into a key array keeps the only random memory access of a
// request the one the engine makes: the sequence is read sequentially, as a server reads
// requests from its buffers.
struct RandomKeys {
  std::size_t keys = 0;
  std::vector<std::uint64_t> sequence;
};

// Key number i: a bijection of i, so distinct numbers give distinct keys.
[[nodiscard]] constexpr std::uint64_t KeyValue(std::uint64_t i) noexcept {
  std::uint64_t z = i + 0x9e3779b97f4a7c15;  // splitmix64 finaliser: a bijection
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
}

// The 8 bytes of a key, as the string the limiter is asked about.
[[nodiscard]] inline std::string_view KeyBytes(const std::uint64_t& key) noexcept {
  return {reinterpret_cast<const char*>(&key), sizeof key};
}

// Built once per process and per `keys` (a power of two), then shared by every benchmark that
// uses that key count. Call only from single-threaded benchmarks.
[[nodiscard]] const RandomKeys& RandomKeysFor(std::size_t keys);

// ---------------------------------------------------------------------------------------------
// The threaded random-key workload (BM_GcraRandomKeysThreaded, BM_StripedMutexMapRandomKeys):
// RandomKeysFor(kThreadedRandomKeys) shared by 1 or 2 threads. Each thread starts at its own
// point of the sequence (ThreadedStart) and advances its synthetic time kRandomStepNs * threads
// per request, so together they request each key at its rate (one per keys * kRandomStepNs, as
// in the single-threaded BM_GcraRandomKeys) whatever the thread count. Burst kRandomBurst.
inline constexpr std::int64_t kRandomStepNs = 16;
inline constexpr std::uint64_t kRandomBurst = 2;
inline constexpr std::size_t kThreadedRandomKeys = std::size_t{1} << 20;

[[nodiscard]] Rate ThreadedRandomRate();
[[nodiscard]] std::size_t ThreadedStart(int thread_index, int threads, std::size_t length);

// Warms a limiter for the threaded workload: every key once, then one pass of the sequence,
// through check(key, now). Returns the time reached, where the timed runs start.
template <class CheckFn>
std::int64_t WarmThreadedRandom(CheckFn check) {
  std::int64_t now = 0;
  for (std::uint64_t i = 0; i < kThreadedRandomKeys; ++i) {
    now += kRandomStepNs;
    const std::uint64_t key = KeyValue(i);
    check(KeyBytes(key), now);
  }
  for (const std::uint64_t& key : RandomKeysFor(kThreadedRandomKeys).sequence) {
    now += kRandomStepNs;
    check(KeyBytes(key), now);
  }
  return now;
}

// ---------------------------------------------------------------------------------------------
// Memory laid out like the state table: anonymous, huge pages advised, every page committed.
class HugeBuffer {
 public:
  explicit HugeBuffer(std::size_t bytes);  // aborts when the mapping fails
  ~HugeBuffer();
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;

  [[nodiscard]] void* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_; }

 private:
  void* data_;
  std::size_t bytes_;
};

}  // namespace sluice::bench

#endif  // SLUICE_BENCH_MICRO_BENCH_SUPPORT_H_
