// Replays a trace through the lab's algorithms and measures them: admitted, denied, the worst
// overshoot, the error of retry_after, ns per decision and bytes per key.
#ifndef SLUICE_TOOLS_SIM_LAB_H_
#define SLUICE_TOOLS_SIM_LAB_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "sim/trace.h"
#include "sluice/decision.h"

namespace sluice::sim {

inline constexpr std::string_view kAlgorithms =
    "gcra, token-bucket, leaky-bucket, fixed-window, sliding-window-counter, sliding-log";

// The algorithm names of "all", or of a comma-separated list of names; an error names the
// known ones.
absl::StatusOr<std::vector<std::string>> ResolveAlgorithms(std::string_view name);
// True for the algorithms that use the burst (gcra, token-bucket, leaky-bucket).
bool UsesBurst(std::string_view name);

struct LabResult {
  std::string algorithm;
  std::vector<Decision> decisions;  // decisions[i] for records[i]
  std::uint64_t admitted = 0;       // requests
  std::uint64_t denied = 0;
  // The most cost admitted for one key in any window (t - period, t], minus rate.count.
  std::int64_t worst_overshoot = 0;
  // |retry_after - (the real wait until the same request would be admitted)| over denials
  // that give a finite wait (sampled on long traces).
  double retry_error_mean_ns = 0;
  double retry_error_max_ns = 0;
  std::uint64_t retry_samples = 0;
  double ns_per_decision = 0;
  double bytes_per_key = 0;
  // Keys that lost their state to another key's (fixed tables only; maps never evict).
  std::uint64_t evicted = 0;
};

struct LabOptions {
  bool progress = false;  // a progress line on stderr for long traces (when it is a terminal)
  std::size_t max_retry_samples = 20'000;
};

// Runs one algorithm by name over `records` (in any order of time; decided in file order).
// Errors: an unknown name, or the algorithm's own configuration error.
absl::StatusOr<LabResult> RunAlgorithm(std::string_view name,
                                       const algorithms::AlgorithmConfig& config,
                                       std::span<const TraceRecord> records,
                                       const LabOptions& options);

// The worst overshoot of `decisions` over `records` (see LabResult).
std::int64_t WorstOvershoot(std::span<const TraceRecord> records,
                            std::span<const Decision> decisions, std::int64_t period_ns,
                            std::uint64_t limit);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_LAB_H_
