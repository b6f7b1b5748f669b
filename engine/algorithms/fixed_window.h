// Fixed window: at most `count` per key in each window [k*period, (k+1)*period); the count
// starts again at every window edge. Ignores the burst. Lock-free over a SlotTable, 16 bytes
// per key of capacity. Its weakness is the edge: a client can spend `count` just before an
// edge and `count` again just after it, twice the limit within a few nanoseconds
// (sluice-sim --scenario boundary-attack shows it).
//
// Exact rule: window = now / period (integer division).
//   n > count:               never admissible (retry_after = kNever)
//   admit iff used + n <= count, where used is this window's count (0 in a new window)
//   retry_after = (window+1)*period - now;  remaining = count - used_after;
//   reset_after = (window+1)*period - now, or 0 when used_after is 0.
//
// State word: the window number modulo 2^40 in the high 40 bits, the count in the low 24 bits,
// so count is at most 16777215 per window (Create() says so). Only a key idle for exactly a
// multiple of 2^40 windows (34,000 years of 1 s windows) could see an old count again.
// Time going backwards within a window changes nothing; into an older window it starts that
// window afresh (a client cannot choose the server's clock).
#ifndef SLUICE_ALGORITHMS_FIXED_WINDOW_H_
#define SLUICE_ALGORITHMS_FIXED_WINDOW_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "algorithms/slot_algorithm.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"

namespace sluice::algorithms {

class FixedWindow : public SlotAlgorithm<FixedWindow> {
 public:
  static constexpr std::string_view kName = "fixed-window";
  static constexpr std::uint64_t kMaxCount = (std::uint64_t{1} << 24) - 1;

  // Errors: count 0 or above kMaxCount, period 0 or above 2^61 ns, bad capacity.
  static absl::StatusOr<std::unique_ptr<FixedWindow>> Create(const AlgorithmConfig& config);
  // Check, Peek, Decide, bytes_per_key, displaced: SlotAlgorithm's (thread-safe, lock-free).

 private:
  friend class SlotAlgorithm<FixedWindow>;
  FixedWindow(std::uint64_t count, std::int64_t period_ns, KeyHasher hasher,
              std::unique_ptr<SlotTable> table);
  // The rule above, and when a word expires: a count of an earlier window says nothing.
  [[nodiscard]] SlotStep Step(bool found, std::uint64_t word, std::int64_t now,
                              std::uint64_t cost) const noexcept;
  [[nodiscard]] std::int64_t Expires(std::uint64_t word, std::int64_t now) const noexcept;
  std::uint64_t count_;
  std::int64_t period_ns_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_FIXED_WINDOW_H_
