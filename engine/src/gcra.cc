#include "sluice/gcra.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice {

absl::StatusOr<GcraParams> GcraParams::Make(const Rate& rate, std::uint64_t burst) {
  if (rate.count == 0 || rate.period.count() <= 0) {
    return absl::InvalidArgumentError("rate: count and period must both be positive");
  }
  // More than 10^9 per second would need an emission interval below 1 ns.
  const auto period_ns = static_cast<std::uint64_t>(rate.period.count());
  if (rate.count > period_ns) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rate ", rate.ToString(), " is above the maximum of 1000000000/s (1 request per ns)"));
  }
  if (burst == 0) return absl::InvalidArgumentError("burst must be at least 1");
  const auto interval = static_cast<std::int64_t>(period_ns / rate.count);
  if (burst > static_cast<std::uint64_t>(kMaxWindow / interval)) {
    return absl::InvalidArgumentError(
        absl::StrCat("burst ", burst, " at rate ", rate.ToString(),
                     " spans more than 73 years (burst * period / count must be at most 2^61 ns)"));
  }
  GcraParams p;
  p.emission_interval = interval;
  p.burst = burst;
  p.window = static_cast<std::int64_t>(burst) * interval;
  p.per_interval = Reciprocal::For(static_cast<std::uint64_t>(interval));
  return p;
}

}  // namespace sluice
