// Built-in traces of the lab, generated from a seed (the same flags give the same trace).
//   poisson          Poisson arrivals at `rps`, keys uniform over `keys`.
//   on-off           `rps` Poisson arrivals during `on`, silence during `off`, repeated; one key
//                    per `keys`.
//   boundary-attack  one key; `count` requests packed just before every other window edge
//                    (k*period for odd k) and `count` more just after it: twice the limit within
//                    a few microseconds, the fixed window's blind spot.
//   zipf-keys        Poisson arrivals at `rps`, keys drawn from `keys` with Zipf exponent `zipf`
//                    (key-1 the most frequent).
#ifndef SLUICE_TOOLS_SIM_SCENARIO_H_
#define SLUICE_TOOLS_SIM_SCENARIO_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/trace.h"
#include "sluice/rate.h"

namespace sluice::sim {

inline constexpr std::string_view kScenarios = "poisson, on-off, boundary-attack, zipf-keys";
inline constexpr std::size_t kMaxScenarioRequests = 50'000'000;

struct ScenarioOptions {
  std::string name;
  Rate rate;  // the policy under test: sets defaults
  std::chrono::nanoseconds duration{10'000'000'000};
  double rps = 0;          // 0: twice the policy's rate (poisson, zipf-keys), 4x for on-off
  std::uint64_t keys = 0;  // 0: 1 (poisson, on-off), 1000 (zipf-keys)
  double zipf = 1.1;
  std::chrono::nanoseconds on{1'000'000'000};
  std::chrono::nanoseconds off{4'000'000'000};
  std::uint64_t seed = 1;
};

// The trace, in time order. Errors name the bad parameter: unknown scenario, duration <= 0,
// rps or keys that are negative or zero, zipf <= 0, on <= 0 or off < 0, more than
// kMaxScenarioRequests requests.
absl::StatusOr<std::vector<TraceRecord>> MakeScenario(const ScenarioOptions& options);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_SCENARIO_H_
