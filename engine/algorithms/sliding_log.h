// Sliding log: the exact reference. Keeps the time of every admitted unit of cost within the
// last period, and admits iff at most `count` would then lie in the window (now - period, now].
// Ignores the burst. No window of one period ever holds more than `count` admissions.
//
// Exact rule: live = entries with t > now - period (older ones are dropped).
//   n > count: never admissible;  admit iff live + n <= count, then append n entries at now.
//   retry_after = (the entry that must leave for n to fit) + period - now;
//   remaining = count - live_after;  reset_after = newest entry + period - now (0 when empty).
// Time going backwards decides as at the newest entry's time: it never admits more.
//
// Memory grows with the limit: up to `count` 8-byte timestamps per key (plus the map entry),
// so a limit of 10,000/min costs up to 80 KB per busy key. bytes_per_key() measures it.
// Thread-safety: mutex-striped (StripedMap): a log per key cannot be updated by one CAS.
#ifndef SLUICE_ALGORITHMS_SLIDING_LOG_H_
#define SLUICE_ALGORITHMS_SLIDING_LOG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "algorithms/striped_map.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"

namespace sluice::algorithms {

class SlidingLog {
 public:
  static constexpr std::string_view kName = "sliding-log";

  // Errors: count 0, period 0 or above 2^61 ns.
  static absl::StatusOr<std::unique_ptr<SlidingLog>> Create(const AlgorithmConfig& config);

  // Thread-safe (a stripe lock); allocates as logs grow.
  [[nodiscard]] Decision Check(std::string_view key, std::chrono::nanoseconds now,
                               std::uint64_t cost) noexcept;
  [[nodiscard]] Decision Peek(std::string_view key, std::chrono::nanoseconds now,
                              std::uint64_t cost) noexcept;
  [[nodiscard]] double bytes_per_key() const noexcept;

  struct Log {
    std::vector<std::int64_t> times;  // non-decreasing; [head, end) may still be live
    std::size_t head = 0;
  };
  using KeyState = Log;
  // The rule on a log the caller holds (see Replayable in algorithm.h); Check runs it under the
  // key's stripe lock. Allocates as the log grows.
  [[nodiscard]] Decision Decide(Log& log, std::chrono::nanoseconds now,
                                std::uint64_t cost) const noexcept;

 private:
  SlidingLog(std::uint64_t count, std::int64_t period_ns, KeyHasher hasher)
      : count_(count), period_ns_(period_ns), hasher_(hasher) {}
  std::uint64_t count_;
  std::int64_t period_ns_;
  KeyHasher hasher_;
  StripedMap<Log> map_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_SLIDING_LOG_H_
