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
  using KeyState = SlotWord;  // word: the key's TAT

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
  // GcraStep() on a TAT the caller holds (see Replayable in algorithm.h): the engine's rule
  // without its table.
  [[nodiscard]] Decision Decide(KeyState& state, std::chrono::nanoseconds now,
                                std::uint64_t cost) const noexcept {
    const std::int64_t t = ClampTime(now.count());
    const std::int64_t tat = state.found ? static_cast<std::int64_t>(state.word) : t;
    const GcraResult r = GcraStep(params(), tat, t, cost);
    if (r.new_tat != tat) state = SlotWord{static_cast<std::uint64_t>(r.new_tat), true};
    return r.decision;
  }
  [[nodiscard]] double bytes_per_key() const noexcept {
    const TableStats s = limiter_->Stats();
    return static_cast<double>(s.memory_bytes) / static_cast<double>(s.capacity);
  }
  // Live keys that lost their state to a full bucket (TableStats::evictions).
  [[nodiscard]] std::uint64_t displaced() const noexcept { return limiter_->Stats().evictions; }
  [[nodiscard]] const GcraParams& params() const noexcept { return params_; }
  [[nodiscard]] Limiter& limiter() noexcept { return *limiter_; }

 private:
  explicit GcraAlgorithm(std::unique_ptr<Limiter> limiter)
      : limiter_(std::move(limiter)), params_(limiter_->policy(PolicyId{}).params()) {}
  std::unique_ptr<Limiter> limiter_;
  GcraParams params_;  // the policy's, copied: Decide reads it once per decision
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_GCRA_LIMITER_H_
