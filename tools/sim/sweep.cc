#include "sim/sweep.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace sluice::sim {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

absl::Status Bad(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--sweep '", Absl(text), "': ", Absl(why),
      " (expected rate=A..B[:STEPS], rate=A,B,..., burst=A..B[:STEPS] or burst=A,B,...)"));
}

// `steps` values from lo to hi, geometric, rounded, without repeats.
std::vector<std::uint64_t> Geometric(std::uint64_t lo, std::uint64_t hi, std::size_t steps) {
  std::vector<std::uint64_t> v;
  const double ratio = static_cast<double>(hi) / static_cast<double>(lo);
  for (std::size_t i = 0; i < steps; ++i) {
    const double x = static_cast<double>(lo) *
                     std::pow(ratio, static_cast<double>(i) / static_cast<double>(steps - 1));
    std::uint64_t n = i + 1 == steps ? hi : static_cast<std::uint64_t>(std::llround(x));
    n = std::max(n, lo);
    if (v.empty() || n > v.back()) v.push_back(n);
  }
  return v;
}

}  // namespace

double Percent(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

absl::StatusOr<Sweep> ParseSweep(std::string_view text, const Rate& rate, std::uint64_t burst) {
  Sweep sweep;
  if (text.empty()) {
    sweep.points.push_back(SweepPoint{rate, burst});
    return sweep;
  }
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos) return Bad(text, "no '='");
  const std::string_view what = text.substr(0, eq);
  std::string_view values = text.substr(eq + 1);
  if (what == "rate") {
    sweep.dimension = SweepDimension::kRate;
  } else if (what == "burst") {
    sweep.dimension = SweepDimension::kBurst;
  } else {
    return Bad(text, absl::StrCat("'", Absl(what), "' cannot be swept"));
  }
  const bool is_rate = sweep.dimension == SweepDimension::kRate;
  // One value: a rate (its count, and its period in `period`) or a burst.
  std::chrono::nanoseconds period{0};
  const auto value = [&](std::string_view v, std::uint64_t& out) -> absl::Status {
    const absl::string_view stripped = absl::StripAsciiWhitespace(Absl(v));
    v = std::string_view(stripped.data(), stripped.size());
    if (is_rate) {
      auto r = Rate::Parse(v);
      if (!r.ok()) return Bad(text, std::string(r.status().message()));
      if (period.count() != 0 && r->period != period) {
        return Bad(text, "every rate must have the same unit");
      }
      period = r->period;
      out = r->count;
      return absl::OkStatus();
    }
    if (!absl::SimpleAtoi(Absl(v), &out) || out == 0) {
      return Bad(text, absl::StrCat("burst '", Absl(v), "' is not a positive integer"));
    }
    return absl::OkStatus();
  };
  std::vector<std::uint64_t> counts;
  if (const std::size_t dots = values.find(".."); dots != std::string_view::npos) {
    std::size_t steps = 10;
    std::string_view range = values;
    if (const std::size_t colon = values.rfind(':'); colon != std::string_view::npos) {
      if (!absl::SimpleAtoi(Absl(values.substr(colon + 1)), &steps) || steps < 2 ||
          steps > kMaxSweepSteps) {
        return Bad(text, absl::StrCat("STEPS must be 2 to ", kMaxSweepSteps));
      }
      range = values.substr(0, colon);
    }
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    if (auto s = value(range.substr(0, dots), lo); !s.ok()) return s;
    if (auto s = value(range.substr(dots + 2), hi); !s.ok()) return s;
    if (hi <= lo) return Bad(text, "the range must go up");
    counts = Geometric(lo, hi, steps);
    sweep.geometric = true;
  } else {
    for (absl::string_view v : absl::StrSplit(Absl(values), ',')) {
      std::uint64_t n = 0;
      if (auto s = value(std::string_view(v.data(), v.size()), n); !s.ok()) return s;
      counts.push_back(n);
    }
    std::sort(counts.begin(), counts.end());
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    if (counts.size() > kMaxSweepSteps) return Bad(text, "too many values");
  }
  for (const std::uint64_t n : counts) {
    sweep.points.push_back(is_rate ? SweepPoint{Rate{n, period}, burst} : SweepPoint{rate, n});
  }
  return sweep;
}

absl::StatusOr<Target> ParseTarget(std::string_view text) {
  Target t;
  absl::string_view v = absl::StripAsciiWhitespace(Absl(text));
  if (absl::ConsumePrefix(&v, "clients=")) {
    t.clients = true;
  } else {
    absl::ConsumePrefix(&v, "requests=");
  }
  absl::ConsumeSuffix(&v, "%");
  if (!absl::SimpleAtod(v, &t.percent) || !(t.percent >= 0) || t.percent > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("--target '", Absl(text),
                     "': expected a share of 0 to 100%, e.g. 1%, requests=1% or clients=0.5%"));
  }
  return t;
}

std::optional<std::size_t> Knee(const std::vector<PointResult>& results,
                                const std::string& algorithm, const Target& target) {
  for (std::size_t i = 0; i < results.size(); ++i) {
    const PointResult& r = results[i];
    if (r.algorithm != algorithm) continue;
    const double share =
        target.clients ? Percent(r.clients_denied, r.clients) : Percent(r.denied, r.requests);
    if (share <= target.percent) return i;
  }
  return std::nullopt;
}

}  // namespace sluice::sim
