#include "sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice::sim {
namespace {

double PolicyRps(const Rate& rate) {
  return static_cast<double>(rate.count) * 1e9 / static_cast<double>(rate.period.count());
}

absl::Status CheckSize(double expected) {
  if (expected > static_cast<double>(kMaxScenarioRequests)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the scenario would generate about ", static_cast<std::uint64_t>(expected),
                     " requests, above ", kMaxScenarioRequests, ": lower --rps or --duration"));
  }
  return absl::OkStatus();
}

// Poisson arrivals at `rps` in [from, to), key chosen by `pick`.
template <class Pick>
void Poisson(std::mt19937_64& rng, double rps, std::int64_t from, std::int64_t to, Pick pick,
             std::vector<TraceRecord>& out) {
  std::exponential_distribution<double> gap(rps / 1e9);
  double t = static_cast<double>(from);
  for (;;) {
    t += gap(rng);
    if (t >= static_cast<double>(to)) return;
    out.push_back(TraceRecord{static_cast<std::int64_t>(t), pick(), 1});
  }
}

}  // namespace

absl::StatusOr<std::vector<TraceRecord>> MakeScenario(const ScenarioOptions& o) {
  const std::string& name = o.name;
  if (name != "poisson" && name != "on-off" && name != "boundary-attack" && name != "zipf-keys") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown scenario '", name, "' (known: ", std::string(kScenarios), ")"));
  }
  if (o.duration.count() <= 0) return absl::InvalidArgumentError("--duration must be positive");
  if (o.rps < 0 || !std::isfinite(o.rps)) {
    return absl::InvalidArgumentError("--rps must be positive (0: from the rate)");
  }
  if (o.rate.count == 0 || o.rate.period.count() <= 0) {
    return absl::InvalidArgumentError("the rate must be positive");
  }
  std::mt19937_64 rng(o.seed);
  std::vector<TraceRecord> out;
  const std::int64_t end = o.duration.count();
  const double seconds = static_cast<double>(end) / 1e9;

  if (name == "boundary-attack") {
    const std::int64_t period = o.rate.period.count();
    const std::uint64_t n = o.rate.count;
    const double edges = std::ceil(static_cast<double>(end) / static_cast<double>(2 * period));
    if (auto s = CheckSize(edges * 2 * static_cast<double>(n)); !s.ok()) return s;
    // Both halves of an attack fit in 1% of a period around the edge.
    const std::int64_t gap =
        std::max<std::int64_t>(1, period / (100 * static_cast<std::int64_t>(n)));
    for (std::int64_t edge = period; edge < end; edge += 2 * period) {
      for (std::uint64_t i = n; i > 0; --i) {
        out.push_back(TraceRecord{edge - static_cast<std::int64_t>(i) * gap, "attacker", 1});
      }
      for (std::uint64_t i = 0; i < n; ++i) {
        out.push_back(TraceRecord{edge + static_cast<std::int64_t>(i) * gap, "attacker", 1});
      }
    }
    return out;
  }

  const std::uint64_t keys = o.keys != 0 ? o.keys : (name == "zipf-keys" ? 1000 : 1);
  const double rps = o.rps != 0 ? o.rps : PolicyRps(o.rate) * (name == "on-off" ? 4 : 2);

  if (name == "on-off") {
    if (o.on.count() <= 0 || o.off.count() < 0) {
      return absl::InvalidArgumentError("--on must be positive and --off not negative");
    }
    const double duty =
        static_cast<double>(o.on.count()) / static_cast<double>(o.on.count() + o.off.count());
    if (auto s = CheckSize(rps * seconds * duty * 1.1 + 100); !s.ok()) return s;
    std::uniform_int_distribution<std::uint64_t> key(1, keys);
    for (std::int64_t t = 0; t < end; t += o.on.count() + o.off.count()) {
      Poisson(
          rng, rps, t, std::min(end, t + o.on.count()),
          [&] { return absl::StrCat("key-", key(rng)); }, out);
    }
    return out;
  }

  if (auto s = CheckSize(rps * seconds * 1.1 + 100); !s.ok()) return s;
  if (name == "poisson") {
    std::uniform_int_distribution<std::uint64_t> key(1, keys);
    Poisson(
        rng, rps, 0, end, [&] { return absl::StrCat("key-", key(rng)); }, out);
    return out;
  }
  // zipf-keys
  if (!(o.zipf > 0) || !std::isfinite(o.zipf)) {
    return absl::InvalidArgumentError("--zipf must be a positive exponent");
  }
  if (keys > 10'000'000) return absl::InvalidArgumentError("--keys must be at most 10^7");
  std::vector<double> cdf(keys);
  double sum = 0;
  for (std::uint64_t k = 0; k < keys; ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k + 1), o.zipf);
    cdf[k] = sum;
  }
  std::uniform_real_distribution<double> u(0, sum);
  Poisson(
      rng, rps, 0, end,
      [&] {
        const auto it = std::lower_bound(cdf.begin(), cdf.end(), u(rng));
        return absl::StrCat("key-", (it - cdf.begin()) + 1);
      },
      out);
  return out;
}

}  // namespace sluice::sim
