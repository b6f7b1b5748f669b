#include <algorithm>
#include <utility>

#include "algorithms/slot_algorithm_impl.h"
#include "algorithms/slot_table.h"
#include "algorithms/token_bucket.h"
#include "sluice/policy.h"

namespace sluice::algorithms {

// The rule of token_bucket.h. Pure.
SlotStep TokenBucket::Step(bool found, std::uint64_t word, std::int64_t now,
                           std::uint64_t cost) const noexcept {
  const GcraParams& p = params_;
  const std::int64_t t = p.emission_interval;
  const std::int64_t capacity = p.window;  // C = burst * T
  const std::int64_t full_at = found ? static_cast<std::int64_t>(word) : now;
  std::int64_t tokens = capacity - std::max<std::int64_t>(0, full_at - now);
  SlotStep r;
  if (cost > p.burst) {
    r.decision.allowed = false;
    r.decision.retry_after = Decision::kNever;
  } else if (const std::int64_t need = static_cast<std::int64_t>(cost) * t; tokens >= need) {
    tokens -= need;
    r.decision.allowed = true;
    r.write = cost > 0;  // cost 0 only asks (as in gcra.h)
    r.word = static_cast<std::uint64_t>(now + capacity - tokens);
  } else {
    r.decision.allowed = false;
    r.decision.retry_after = std::chrono::nanoseconds{need - tokens};
  }
  r.decision.remaining =
      std::clamp<std::int64_t>(tokens / t, 0, static_cast<std::int64_t>(p.burst));
  r.decision.reset_after = std::chrono::nanoseconds{capacity - tokens};
  return r;
}

absl::StatusOr<std::unique_ptr<TokenBucket>> TokenBucket::Create(const AlgorithmConfig& config) {
  auto params = GcraParams::Make(config.rate, config.burst);
  if (!params.ok()) return params.status();
  // The key space of GcraAlgorithm's policy: with the same seed, both place every key in the
  // same bucket, so even their table effects agree.
  auto policy = Policy::Make(PolicyConfig{"lab", config.rate, config.burst});
  if (!policy.ok()) return policy.status();
  auto table = SlotTable::Create(config.capacity);
  if (!table.ok()) return table.status();
  return std::unique_ptr<TokenBucket>(
      new TokenBucket(*params, policy->space(), KeyHasher(config.seed.value_or(HashSeed::Random())),
                      *std::move(table)));
}

TokenBucket::TokenBucket(const GcraParams& params, std::uint64_t space, KeyHasher hasher,
                         std::unique_ptr<SlotTable> table)
    : SlotAlgorithm(space, hasher, std::move(table)), params_(params) {}

template class SlotAlgorithm<TokenBucket>;

}  // namespace sluice::algorithms
