#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "algorithms/leaky_bucket.h"
#include "algorithms/slot_algorithm_impl.h"
#include "algorithms/slot_table.h"
#include "sluice/gcra.h"

namespace sluice::algorithms {
namespace {

constexpr int kExcessBits = 22;
constexpr std::uint64_t kExcessMask = (std::uint64_t{1} << kExcessBits) - 1;
constexpr std::int64_t kMaxMs = (std::int64_t{1} << 42) - 1;
constexpr std::int64_t kNsPerMs = 1'000'000;

std::int64_t MsOf(std::int64_t now_ns) noexcept { return std::min(now_ns / kNsPerMs, kMaxMs); }

// First ns at which `amount` milli-requests have leaked since `last_ms`.
std::int64_t LeakedBy(const LeakyBucket::Params& p, std::int64_t last_ms,
                      std::uint64_t amount) noexcept {
  const std::uint64_t ms = (amount * 1000 + p.rate_m - 1) / p.rate_m;  // ceil
  return (last_ms + static_cast<std::int64_t>(ms)) * kNsPerMs;
}

}  // namespace

// The rule of leaky_bucket.h. Pure.
SlotStep LeakyBucket::Step(bool found, std::uint64_t word, std::int64_t now,
                           std::uint64_t cost) const noexcept {
  const Params& p = params_;
  const std::int64_t now_ms = MsOf(now);
  const std::int64_t last_ms = found ? static_cast<std::int64_t>(word >> kExcessBits) : now_ms;
  const std::uint64_t excess = found ? word & kExcessMask : 0;
  const std::int64_t ms = std::max<std::int64_t>(0, now_ms - last_ms);
  const internal::U128 leaked_wide =
      static_cast<internal::U128>(p.rate_m) * static_cast<std::uint64_t>(ms) / 1000;
  const std::uint64_t leaked =
      leaked_wide > excess ? excess : static_cast<std::uint64_t>(leaked_wide);
  const std::uint64_t base = excess - leaked;
  const std::uint64_t limit = 1000 * p.burst;
  SlotStep r;
  std::int64_t last_after = last_ms;
  std::uint64_t excess_after = excess;
  if (cost > p.burst) {
    r.decision.retry_after = Decision::kNever;
  } else if (base + 1000 * cost <= limit) {
    r.decision.allowed = true;
    excess_after = base + 1000 * cost;
    if (ms > 0 || !found) last_after = now_ms;
    r.write = true;
    r.word = (static_cast<std::uint64_t>(last_after) << kExcessBits) | excess_after;
  } else {
    const std::int64_t at = LeakedBy(p, last_ms, excess - (limit - 1000 * cost));
    r.decision.retry_after = std::chrono::nanoseconds{std::max<std::int64_t>(1, at - now)};
  }
  const std::uint64_t held = r.decision.allowed ? excess_after : base;
  r.decision.remaining = static_cast<std::int64_t>((limit - std::min(held, limit)) / 1000);
  r.decision.reset_after = std::chrono::nanoseconds{
      excess_after == 0 ? 0
                        : std::max<std::int64_t>(0, LeakedBy(p, last_after, excess_after) - now)};
  return r;
}

std::int64_t LeakyBucket::Expires(std::uint64_t word, std::int64_t /*now*/) const noexcept {
  const auto last_ms = static_cast<std::int64_t>(word >> kExcessBits);
  return LeakedBy(params_, last_ms, word & kExcessMask);
}

absl::StatusOr<std::unique_ptr<LeakyBucket>> LeakyBucket::Create(const AlgorithmConfig& config) {
  if (config.burst == 0 || config.burst > kMaxBurst) {
    return absl::InvalidArgumentError(absl::StrCat("leaky-bucket: burst ", config.burst,
                                                   " is out of range: it must be 1 to ", kMaxBurst,
                                                   " (excess is kept in 22 bits)"));
  }
  if (config.rate.count == 0 || config.rate.period.count() <= 0) {
    return absl::InvalidArgumentError("leaky-bucket: rate count and period must be positive");
  }
  const internal::U128 rate_m = static_cast<internal::U128>(config.rate.count) *
                                1'000'000'000'000ULL /
                                static_cast<std::uint64_t>(config.rate.period.count());
  if (rate_m == 0 || rate_m > 1'000'000'000'000ULL) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaky-bucket: rate ", config.rate.ToString(),
                     " is out of range: it must be 0.001/s to 10^9/s (nginx counts in "
                     "milli-requests per second)"));
  }
  auto table = SlotTable::Create(config.capacity);
  if (!table.ok()) return table.status();
  return std::unique_ptr<LeakyBucket>(
      new LeakyBucket(Params{static_cast<std::uint64_t>(rate_m), config.burst},
                      KeyHasher(config.seed.value_or(HashSeed::Random())), *std::move(table)));
}

LeakyBucket::LeakyBucket(Params params, KeyHasher hasher, std::unique_ptr<SlotTable> table)
    : SlotAlgorithm(kLabSpace, hasher, std::move(table)), params_(params) {}

template class SlotAlgorithm<LeakyBucket>;

}  // namespace sluice::algorithms
