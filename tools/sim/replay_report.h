// The report of a log replay: a table, JSON, or a plot of the denials against the limit.
#ifndef SLUICE_TOOLS_SIM_REPLAY_REPORT_H_
#define SLUICE_TOOLS_SIM_REPLAY_REPORT_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "sim/replay_run.h"

namespace sluice::sim {

// A header (what was read, what was left out and why), one row per algorithm and point, and
// the knee of each algorithm.
void PrintReplayTable(std::FILE* out, const LogReplayReport& report);
// The same as one JSON object, with every point's top keys.
void PrintReplayJson(std::FILE* out, const LogReplayReport& report);
// An SVG, or a PNG when `path` ends in .png (gnuplot): denied requests and denied clients
// (%) against the swept limit, one colour per algorithm, the target as a dotted line.
absl::Status PlotSweep(const std::string& path, const LogReplayReport& report);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_REPLAY_REPORT_H_
