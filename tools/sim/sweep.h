// What to sweep and what to look for in a replay.
//   --sweep rate=10/s..1000/s[:STEPS]   STEPS rates (default 10) from the first to the last,
//                                        spaced geometrically (each a constant factor above the
//                                        one before), rounded to whole requests per unit;
//   --sweep rate=10/s,50/s,200/s         these rates;
//   --sweep burst=1..100[:STEPS]         the same for the burst (the rate from --rate);
//   --sweep burst=5,10,20
//   --sweep rate=10/s..1000/s:8,burst=1..100:5   both: the grid of every rate with every burst
//                                        (at most kMaxSweepPoints), in one pass
//   --target 1%  (or requests=1%, clients=0.5%)   the knee: the smallest limit of the sweep
//                                        that denies at most that share of the requests (of
//                                        the clients). On a grid: the smallest rate that
//                                        meets it at some burst, with the smallest such burst;
//                                        and per burst, the smallest rate (KneePerBurst).
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

enum class SweepDimension : std::uint8_t { kNone, kRate, kBurst, kGrid };

struct Sweep {
  SweepDimension dimension = SweepDimension::kNone;
  bool geometric = false;        // the rate axis (or the only one) is a range: a log scale
  bool burst_geometric = false;  // kGrid: the burst axis is a range
  // Ascending in the swept value; kGrid: by rate, then burst (rates x bursts points).
  std::vector<SweepPoint> points;
  std::size_t rates = 1;
  std::size_t bursts = 1;
};

inline constexpr std::size_t kMaxSweepSteps = 1000;
inline constexpr std::size_t kMaxSweepPoints = 10000;

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

// kGrid: per burst of the grid (ascending), the index in `results` of the smallest rate of
// `algorithm` that meets the target at that burst, or nullopt.
std::vector<std::optional<std::size_t>> KneePerBurst(const std::vector<PointResult>& results,
                                                     const std::string& algorithm,
                                                     const Sweep& sweep, const Target& target);

bool MeetsTarget(const PointResult& r, const Target& target);
double Percent(std::uint64_t part, std::uint64_t whole);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_SWEEP_H_
