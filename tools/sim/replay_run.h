// sluice-sim --log: reads log files, parses and keys their lines, replays them (replay.h), and
// reports (replay_report.h).
#ifndef SLUICE_TOOLS_SIM_REPLAY_RUN_H_
#define SLUICE_TOOLS_SIM_REPLAY_RUN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/log_format.h"
#include "sim/replay.h"
#include "sim/sweep.h"

namespace sluice::sim {

struct LogReplayRequest {
  std::vector<std::string> files;  // read in this order ('-': standard input)
  LogParserOptions parser;
  ReplayOptions replay;  // points: the sweep's
  Sweep sweep;
  Target target;
  // A progress line on stderr (lines, lines/s) every half second: `progress`, or when stderr
  // is a terminal and `progress_on_terminal`.
  bool progress = false;
  bool progress_on_terminal = true;
};

struct BadLine {
  std::string file;
  std::uint64_t line = 0;
  std::string why;
};

struct LogReplayReport {
  std::vector<std::string> files;
  std::string format;
  std::string key;
  std::uint64_t lines = 0;  // non-empty lines
  std::uint64_t malformed = 0;
  std::vector<BadLine> first_malformed;  // the first kMaxBadLines
  std::uint64_t skipped = 0;             // well-formed lines left out (sluiced: another policy)
  std::uint64_t refused = 0;  // well-formed lines sluiced would answer 400 (or no request)
  std::string refused_why;    // the first such line's reason
  std::uint64_t no_key = 0;   // well-formed lines without a part of the key
  std::string no_key_why;     // the first such line's reason
  std::uint64_t requests = 0;
  std::uint64_t clients = 0;
  std::uint64_t late = 0;
  std::int64_t first_ns = 0;
  std::int64_t last_ns = 0;
  double seconds = 0;  // wall time of the replay
  Sweep sweep;
  Target target;
  ReplayOptions replay;
  std::vector<PointResult> results;
};

inline constexpr std::size_t kMaxBadLines = 5;

// Errors: a file cannot be opened or is corrupt, every line is malformed, bad options.
absl::StatusOr<LogReplayReport> ReplayLogs(const LogReplayRequest& request);

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_REPLAY_RUN_H_
