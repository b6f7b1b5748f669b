// --plot: admitted requests over time, one line per algorithm, drawn by gnuplot into an SVG:
// for each time bin, the most requests admitted (all keys) within one period ending in it, next
// to the limit (the count per period), so an algorithm that lets more through shows above it.
#ifndef SLUICE_TOOLS_SIM_PLOT_H_
#define SLUICE_TOOLS_SIM_PLOT_H_

#include <span>
#include <string>

#include "absl/status/status.h"
#include "sim/lab.h"
#include "sim/trace.h"
#include "sluice/rate.h"

namespace sluice::sim {

// Writes `path` (an .svg) by piping a script with the data inline to `gnuplot`. Errors: gnuplot
// is not installed (says which package to install), or it failed.
absl::Status PlotAdmitted(const std::string& path, const std::string& title,
                          std::span<const TraceRecord> records, std::span<const LabResult> results,
                          const Rate& rate);

// Whether gnuplot can be run; the error says which package to install.
absl::Status GnuplotInstalled();
// Pipes `script` (which writes `path`) to gnuplot. Errors: it could not run or failed.
absl::Status RunGnuplot(const std::string& script, const std::string& path);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_PLOT_H_
