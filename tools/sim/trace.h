// Trace and decision CSV files of the lab.
//   trace:     t_ns,key,cost            (a header line is optional)
//   decisions: t_ns,key,cost,allowed,remaining,retry_after_ns,reset_after_ns
// The key is everything between the first and the last comma, so keys may contain commas.
#ifndef SLUICE_TOOLS_SIM_TRACE_H_
#define SLUICE_TOOLS_SIM_TRACE_H_

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/decision.h"

namespace sluice::sim {

struct TraceRecord {
  std::int64_t t_ns = 0;
  std::string key;
  std::uint64_t cost = 1;
};

// Parses one line. `line_number` is for the message: "trace line 7: cost 'x' is not a number".
absl::StatusOr<TraceRecord> ParseTraceLine(std::string_view line, std::size_t line_number);

// True for the optional header line.
bool IsTraceHeader(std::string_view line);

inline constexpr std::string_view kDecisionsHeader =
    "t_ns,key,cost,allowed,remaining,retry_after_ns,reset_after_ns";

void WriteDecision(std::ostream& out, const TraceRecord& record, const Decision& decision);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_TRACE_H_
