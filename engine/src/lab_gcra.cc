#include <utility>

#include "algorithms/gcra_limiter.h"

namespace sluice::algorithms {

absl::StatusOr<std::unique_ptr<GcraAlgorithm>> GcraAlgorithm::Create(
    const AlgorithmConfig& config) {
  LimiterOptions options;
  options.capacity = config.capacity;
  options.seed = config.seed;
  options.policies.push_back(PolicyConfig{"lab", config.rate, config.burst});
  auto limiter = Limiter::Create(std::move(options));
  if (!limiter.ok()) return limiter.status();
  return std::unique_ptr<GcraAlgorithm>(new GcraAlgorithm(*std::move(limiter)));
}

Decision GcraAlgorithm::Peek(std::string_view key, std::chrono::nanoseconds now,
                             std::uint64_t cost) noexcept {
  const std::int64_t t = ClampTime(now.count());
  const Decision probe = limiter_->Check(PolicyId{}, key, std::chrono::nanoseconds{t}, 0);
  return GcraStep(params(), t + probe.reset_after.count(), t, cost).decision;
}

}  // namespace sluice::algorithms
