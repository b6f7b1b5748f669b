// What to sweep and what to look for in a replay.
//   --sweep rate=10/s..1000/s[:STEPS]   STEPS rates (default 10) from the first to the last,
//                                        spaced geometrically (each a constant factor above the
//                                        one before), rounded to whole requests per unit;
//   --sweep rate=10/s,50/s,200/s         these rates;
//   --sweep burst=1..100[:STEPS]         the same for the burst (the rate from --rate);
//   --sweep burst=5,10,20
//   --target 1%  (or requests=1%, clients=0.5%)   the knee: the smallest limit of the sweep
//                                        that denies at most that share of the requests (of
//                                        the clients).
#ifndef SLUICE_TOOLS_SIM_SWEEP_H_
#define SLUICE_TOOLS_SIM_SWEEP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/replay.h"
#include "sluice/rate.h"

namespace sluice::sim {

enum class SweepDimension : std::uint8_t { kNone, kRate, kBurst };

struct Sweep {
  SweepDimension dimension = SweepDimension::kNone;
  bool geometric = false;          // a range (plotted on a log scale)
  std::vector<SweepPoint> points;  // ascending in the swept value
};

inline constexpr std::size_t kMaxSweepSteps = 1000;

// `text` empty: one point (rate, burst). Errors name the bad part.
absl::StatusOr<Sweep> ParseSweep(std::string_view text, const Rate& rate, std::uint64_t burst);

struct Target {
  bool clients = false;  // a share of the clients, else of the requests
  double percent = 1.0;
};
absl::StatusOr<Target> ParseTarget(std::string_view text);

// The index in `results` of the knee of `algorithm` (results of Replay::Results(), points in
// sweep order), or nullopt when no point of the sweep meets the target.
std::optional<std::size_t> Knee(const std::vector<PointResult>& results,
                                const std::string& algorithm, const Target& target);

double Percent(std::uint64_t part, std::uint64_t whole);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_SWEEP_H_
