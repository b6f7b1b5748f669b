#include "sim/replay_run.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sim/log_reader.h"

namespace sluice::sim {
namespace {

std::string FormatFormat(LogFormat f) {
  switch (f) {
    case LogFormat::kCombined:
      return "combined";
    case LogFormat::kCommon:
      return "common";
    case LogFormat::kJson:
      return "json";
    case LogFormat::kSluiced:
      return "sluiced";
  }
  return "?";
}

class Progress {
 public:
  explicit Progress(bool on) : on_(on), start_(Clock::now()), last_(start_) {}
  void Tick(std::uint64_t lines) {
    if (!on_ || (lines & 0xffff) != 0) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    Print(lines, now);
  }
  void Done(std::uint64_t lines) {
    if (!on_ || !printed_) return;
    Print(lines, Clock::now());
    std::fputc('\n', stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  void Print(std::uint64_t lines, Clock::time_point now) {
    const double s = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\rsluice-sim: %llu lines, %.2fM lines/s   ",
                 static_cast<unsigned long long>(lines),
                 s > 0 ? static_cast<double>(lines) / s / 1e6 : 0.0);
    printed_ = true;
  }
  bool on_;
  bool printed_ = false;
  Clock::time_point start_;
  Clock::time_point last_;
};

}  // namespace

absl::StatusOr<LogReplayReport> ReplayLogs(const LogReplayRequest& request) {
  if (request.files.empty()) return absl::InvalidArgumentError("no log file given");
  auto parser = LogParser::Create(request.parser);
  if (!parser.ok()) return parser.status();
  ReplayOptions replay_options = request.replay;
  replay_options.points = request.sweep.points;
  auto replay = Replay::Create(replay_options);
  if (!replay.ok()) return replay.status();

  LogReplayReport report;
  report.files = request.files;
  report.format = FormatFormat(request.parser.format);
  report.key = parser->KeyName();
  report.sweep = request.sweep;
  report.target = request.target;
  report.replay = replay_options;
  Progress progress(request.progress ||
                    (request.progress_on_terminal && isatty(STDERR_FILENO) != 0));
  const auto start = std::chrono::steady_clock::now();
  LogLine fields;
  std::string key;
  std::uint64_t total_lines = 0;
  for (const std::string& file : request.files) {
    auto reader = LineReader::Open(file);
    if (!reader.ok()) return reader.status();
    std::string_view line;
    bool too_long = false;
    std::uint64_t number = 0;
    while ((*reader)->Next(line, too_long)) {
      ++number;
      progress.Tick(++total_lines);
      if (line.empty() || (line.size() == 1 && line[0] == '\r')) continue;
      ++report.lines;
      const char* why = nullptr;
      LogParser::Result result = LogParser::Result::kMalformed;
      if (too_long) {
        why = "longer than 1 MiB";
      } else {
        result = parser->Parse(line, fields, why);
      }
      if (result == LogParser::Result::kSkipped) {
        ++report.skipped;
        continue;
      }
      if (result == LogParser::Result::kRefused) {
        if (report.refused++ == 0) report.refused_why = absl::StrCat("line ", number, ": ", why);
        continue;
      }
      if (result == LogParser::Result::kMalformed) {
        if (report.malformed++ < kMaxBadLines) {
          report.first_malformed.push_back(BadLine{file, number, why});
        }
        continue;
      }
      const char* missing = nullptr;
      if (!parser->BuildKey(fields, key, missing)) {
        if (report.no_key++ == 0) report.no_key_why = absl::StrCat("line ", number, ": ", missing);
        continue;
      }
      (*replay)->Add(fields.t_ns, key, fields.cost);
    }
    if (!(*reader)->status().ok()) return (*reader)->status();
  }
  (*replay)->Finish();
  progress.Done(total_lines);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report.lines > 0 && report.malformed == report.lines) {
    const BadLine& b = report.first_malformed.front();
    return absl::InvalidArgumentError(absl::StrCat("every line is malformed for --format ",
                                                   report.format, " (", b.file, " line ", b.line,
                                                   ": ", b.why, "): is the format right?"));
  }
  report.requests = (*replay)->requests();
  report.clients = (*replay)->clients();
  report.late = (*replay)->late();
  report.first_ns = (*replay)->first_ns();
  report.last_ns = (*replay)->last_ns();
  report.results = (*replay)->Results();
  return report;
}

}  // namespace sluice::sim
