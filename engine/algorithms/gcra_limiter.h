// `gcra` in the lab: the engine itself (sluice::Limiter over its StateTable, one policy), so
// the lab measures what sluiced runs. Lock-free; 16 bytes per key of capacity.
#ifndef SLUICE_ALGORITHMS_GCRA_LIMITER_H_
#define SLUICE_ALGORITHMS_GCRA_LIMITER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "sluice/decision.h"
#include "sluice/gcra.h"
#include "sluice/limiter.h"

namespace sluice::algorithms {

class GcraAlgorithm {
 public:
  static constexpr std::string_view kName = "gcra";

  // Errors: those of Limiter::Create (zero burst, rate above 10^9/s, bad capacity).
  static absl::StatusOr<std::unique_ptr<GcraAlgorithm>> Create(const AlgorithmConfig& config);

  // Limiter::Check: thread-safe, lock-free; time going backwards never admits more.
  [[nodiscard]] Decision Check(std::string_view key, std::chrono::nanoseconds now,
                               std::uint64_t cost) noexcept {
    return limiter_->Check(PolicyId{}, key, now, cost);
  }
  // Reads the key's TAT with a cost-0 check (which consumes nothing) and applies GcraStep().
  [[nodiscard]] Decision Peek(std::string_view key, std::chrono::nanoseconds now,
                              std::uint64_t cost) noexcept;
  [[nodiscard]] double bytes_per_key() const noexcept {
    const TableStats s = limiter_->Stats();
    return static_cast<double>(s.memory_bytes) / static_cast<double>(s.capacity);
  }
  // Live keys that lost their state to a full bucket (TableStats::evictions).
  [[nodiscard]] std::uint64_t displaced() const noexcept { return limiter_->Stats().evictions; }
  [[nodiscard]] const GcraParams& params() const noexcept {
    return limiter_->policy(PolicyId{}).params();
  }
  [[nodiscard]] Limiter& limiter() noexcept { return *limiter_; }

 private:
  explicit GcraAlgorithm(std::unique_ptr<Limiter> limiter) : limiter_(std::move(limiter)) {}
  std::unique_ptr<Limiter> limiter_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_GCRA_LIMITER_H_
