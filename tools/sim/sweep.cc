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
      " (expected rate=A..B[:STEPS], rate=A,B,..., burst=A..B[:STEPS], burst=A,B,... or a rate "
      "and a burst axis, rate=A..B[:STEPS],burst=C..D[:STEPS])"));
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

bool MeetsTarget(const PointResult& r, const Target& target) {
  const double share =
      target.clients ? Percent(r.clients_denied, r.clients) : Percent(r.denied, r.requests);
  return share <= target.percent;
}

double Percent(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

namespace {

// One axis: "rate=..." or "burst=..." (`text` the whole flag, for messages).
struct Axis {
  SweepDimension dimension = SweepDimension::kNone;
  bool geometric = false;
  std::chrono::nanoseconds period{0};  // rate
  std::vector<std::uint64_t> counts;   // ascending: rate counts or bursts
};

absl::StatusOr<Axis> ParseAxis(std::string_view item, std::string_view text) {
  Axis axis;
  const std::size_t eq = item.find('=');
  if (eq == std::string_view::npos) return Bad(text, "no '='");
  const std::string_view what = item.substr(0, eq);
  std::string_view values = item.substr(eq + 1);
  if (what == "rate") {
    axis.dimension = SweepDimension::kRate;
  } else if (what == "burst") {
    axis.dimension = SweepDimension::kBurst;
  } else {
    return Bad(text, absl::StrCat("'", Absl(what), "' cannot be swept"));
  }
  const bool is_rate = axis.dimension == SweepDimension::kRate;
  // One value: a rate (its count, and its period in axis.period) or a burst.
  const auto value = [&](std::string_view v, std::uint64_t& out) -> absl::Status {
    const absl::string_view stripped = absl::StripAsciiWhitespace(Absl(v));
    v = std::string_view(stripped.data(), stripped.size());
    if (is_rate) {
      auto r = Rate::Parse(v);
      if (!r.ok()) return Bad(text, std::string(r.status().message()));
      if (axis.period.count() != 0 && r->period != axis.period) {
        return Bad(text, "every rate must have the same unit");
      }
      axis.period = r->period;
      out = r->count;
      return absl::OkStatus();
    }
    if (!absl::SimpleAtoi(Absl(v), &out) || out == 0) {
      return Bad(text, absl::StrCat("burst '", Absl(v), "' is not a positive integer"));
    }
    return absl::OkStatus();
  };
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
    axis.counts = Geometric(lo, hi, steps);
    axis.geometric = true;
  } else {
    for (absl::string_view v : absl::StrSplit(Absl(values), ',')) {
      std::uint64_t n = 0;
      if (auto s = value(std::string_view(v.data(), v.size()), n); !s.ok()) return s;
      axis.counts.push_back(n);
    }
    std::sort(axis.counts.begin(), axis.counts.end());
    axis.counts.erase(std::unique(axis.counts.begin(), axis.counts.end()), axis.counts.end());
    if (axis.counts.size() > kMaxSweepSteps) return Bad(text, "too many values");
  }
  return axis;
}

}  // namespace

absl::StatusOr<Sweep> ParseSweep(std::string_view text, const Rate& rate, std::uint64_t burst) {
  Sweep sweep;
  if (text.empty()) {
    sweep.points.push_back(SweepPoint{rate, burst});
    return sweep;
  }
  // Axes: an item with '=' starts one; the items after it, up to the next, are its values.
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(Absl(text), ',')) {
    if (items.empty() || item.find('=') != absl::string_view::npos) {
      items.emplace_back(item);
    } else {
      absl::StrAppend(&items.back(), ",", item);
    }
  }
  if (items.size() > 2) return Bad(text, "at most two axes, rate and burst");
  std::vector<Axis> axes;
  for (const std::string& item : items) {
    auto axis = ParseAxis(item, text);
    if (!axis.ok()) return axis.status();
    axes.push_back(*std::move(axis));
  }
  if (axes.size() == 2) {
    if (axes[0].dimension == axes[1].dimension) return Bad(text, "an axis given twice");
    if (axes[0].dimension == SweepDimension::kBurst) std::swap(axes[0], axes[1]);
    const Axis& rates = axes[0];
    const Axis& bursts = axes[1];
    if (rates.counts.size() * bursts.counts.size() > kMaxSweepPoints) {
      return Bad(text, absl::StrCat(rates.counts.size() * bursts.counts.size(), " points, at most ",
                                    kMaxSweepPoints));
    }
    sweep.dimension = SweepDimension::kGrid;
    sweep.geometric = rates.geometric;
    sweep.burst_geometric = bursts.geometric;
    sweep.rates = rates.counts.size();
    sweep.bursts = bursts.counts.size();
    for (const std::uint64_t r : rates.counts) {
      for (const std::uint64_t b : bursts.counts) {
        sweep.points.push_back(SweepPoint{Rate{r, rates.period}, b});
      }
    }
    return sweep;
  }
  const Axis& axis = axes[0];
  sweep.dimension = axis.dimension;
  sweep.geometric = axis.geometric;
  for (const std::uint64_t n : axis.counts) {
    sweep.points.push_back(axis.dimension == SweepDimension::kRate
                               ? SweepPoint{Rate{n, axis.period}, burst}
                               : SweepPoint{rate, n});
  }
  (axis.dimension == SweepDimension::kRate ? sweep.rates : sweep.bursts) = sweep.points.size();
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
    if (r.algorithm == algorithm && MeetsTarget(r, target)) return i;
  }
  return std::nullopt;
}

std::vector<std::optional<std::size_t>> KneePerBurst(const std::vector<PointResult>& results,
                                                     const std::string& algorithm,
                                                     const Sweep& sweep, const Target& target) {
  std::vector<std::optional<std::size_t>> knees(sweep.bursts);
  std::size_t at = 0;  // index of the algorithm's point within the grid
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].algorithm != algorithm) continue;
    std::optional<std::size_t>& knee = knees[at++ % sweep.bursts];
    if (!knee && MeetsTarget(results[i], target)) knee = i;
  }
  return knees;
}

}  // namespace sluice::sim
