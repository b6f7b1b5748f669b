// Sliding window counter (Cloudflare's): counts per fixed window, and the previous window's
// count weighted by how much of it the sliding window [now - period, now) still overlaps.
// Ignores the burst. An approximation of the sliding log that needs two counters per key.
//
// Exact rule, at window w = now / period, e = now - w*period (ns into the window):
//   estimate = previous * (period - e) / period + current     (rational, no rounding)
//   n > count: never admissible;  admit iff previous*(period - e) + (current + n)*period
//                                          <= count*period;  then current += n
//   retry_after: the first ns at which that inequality holds, within this window or the next
//   two (the weights fall linearly), computed exactly; remaining = floor(count - estimate);
//   reset_after: until both windows that hold counts have slid out.
// Time going backwards into an earlier window decides as at the start of the latest window
// seen (its highest estimate): it never admits more.
//
// Thread-safety: mutex-striped (StripedMap), not lock-free. The state is a window number and
// two counters; next to a 64-bit tag in a 16-byte slot that would leave 20 bits per counter and
// a window number that wraps, and x86-64 has no 32-byte CAS. Memory grows with the keys seen:
// bytes_per_key() measures it.
#ifndef SLUICE_ALGORITHMS_SLIDING_WINDOW_COUNTER_H_
#define SLUICE_ALGORITHMS_SLIDING_WINDOW_COUNTER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "algorithms/striped_map.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"

namespace sluice::algorithms {

class SlidingWindowCounter {
 public:
  static constexpr std::string_view kName = "sliding-window-counter";

  // Errors: count 0, period 0 or above 2^60 ns (36 years).
  static absl::StatusOr<std::unique_ptr<SlidingWindowCounter>> Create(
      const AlgorithmConfig& config);

  // Thread-safe (a stripe lock); allocates when a new key grows the map.
  [[nodiscard]] Decision Check(std::string_view key, std::chrono::nanoseconds now,
                               std::uint64_t cost) noexcept;
  [[nodiscard]] Decision Peek(std::string_view key, std::chrono::nanoseconds now,
                              std::uint64_t cost) noexcept;
  [[nodiscard]] double bytes_per_key() const noexcept;

  struct State {
    std::int64_t window = -2;  // none
    std::uint64_t current = 0;
    std::uint64_t previous = 0;
  };
  using KeyState = State;
  // The rule on a state the caller holds (see Replayable in algorithm.h); Check runs it under
  // the key's stripe lock.
  [[nodiscard]] Decision Decide(State& state, std::chrono::nanoseconds now,
                                std::uint64_t cost) const noexcept;

 private:
  SlidingWindowCounter(std::uint64_t count, std::int64_t period_ns, KeyHasher hasher)
      : count_(count), period_ns_(period_ns), hasher_(hasher) {}
  std::uint64_t count_;
  std::int64_t period_ns_;
  KeyHasher hasher_;
  StripedMap<State> map_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_SLIDING_WINDOW_COUNTER_H_
