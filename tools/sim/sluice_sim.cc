// sluice-sim: the algorithm lab. Replays a trace (a file, stdin or a built-in scenario)
// through one or all limiter algorithms, writes their decisions and prints a summary table;
// or replays access logs, sweeping the limit, to show whom a limit would deny.
//   sluice-sim --algorithm gcra --rate 10/s --burst 20 --trace trace.csv --decisions out.csv
//   sluice-sim --algorithm all --rate 10/s --scenario boundary-attack --plot attack.svg
//   sluice-sim --log access.log.gz --format combined --sweep rate=1/s..100/s --plot knee.svg
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "algorithms/algorithm.h"
#include "help.h"
#include "sim/lab.h"
#include "sim/plot.h"
#include "sim/replay_report.h"
#include "sim/replay_run.h"
#include "sim/scenario.h"
#include "sim/trace.h"
#include "sluice/rate.h"

ABSL_FLAG(std::string, algorithm, "gcra",
          "gcra, token-bucket, leaky-bucket, fixed-window, sliding-window-counter, sliding-log, "
          "a comma-separated list of them, or all");
ABSL_FLAG(std::string, rate, "10/s", "rate N/s, N/m, N/h or N/d (window algorithms: N per window)");
ABSL_FLAG(std::uint64_t, burst, 0,
          "burst of the bucket algorithms: requests a fresh key may make at once (default 20); "
          "window algorithms ignore it");
ABSL_FLAG(std::string, trace, "",
          "trace CSV t_ns,key,cost ('-' or neither this nor --scenario: stdin)");
ABSL_FLAG(std::string, scenario, "", "built-in trace: poisson, on-off, boundary-attack, zipf-keys");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "scenario length");
ABSL_FLAG(double, rps, 0, "scenario requests per second (0: 2x the rate, 4x for on-off)");
ABSL_FLAG(std::uint64_t, keys, 0, "scenario keys (0: 1, or 1000 for zipf-keys)");
ABSL_FLAG(double, zipf, 1.1, "zipf-keys exponent");
ABSL_FLAG(absl::Duration, on, absl::Seconds(1), "on-off: length of a burst of traffic");
ABSL_FLAG(absl::Duration, off, absl::Seconds(4), "on-off: silence between bursts");
ABSL_FLAG(std::uint64_t, seed, 1, "seed of the scenario and of key hashing (reproducible runs)");
ABSL_FLAG(std::uint64_t, capacity, std::uint64_t{1} << 20, "keys of the fixed-memory tables");
ABSL_FLAG(std::string, decisions, "-",
          "decisions CSV ('-': stdout). With several algorithms: FILE.csv becomes "
          "FILE.<algorithm>.csv, and '-' writes none");
ABSL_FLAG(bool, json, false, "print the summary as JSON instead of a table");
ABSL_FLAG(std::string, plot, "",
          "write a plot to this SVG (gnuplot): admitted over time per algorithm; with --log, "
          "denied requests and clients against the swept limit");
ABSL_FLAG(std::string, log, "",
          "replay access logs instead of a trace: FILE[,FILE...] in that order, plain or gzip "
          "('-': stdin)");
ABSL_FLAG(std::string, format, "combined", "--log format: combined, common, json or sluiced");
ABSL_FLAG(std::string, key, "",
          "--log key, as sluiced's config spells it: ip, ip/64, header:NAME, path, method or a "
          "list (ip,path); default ip (sluiced: the logged key)");
ABSL_FLAG(std::string, field, "",
          "--format json field names: NAME=FIELD,... with NAME time, ip, method, path, request, "
          "key, cost or header:NAME (defaults: nginx variable names, e.g. time, remote_addr)");
ABSL_FLAG(std::string, policy, "", "--format sluiced: only this policy's lines");
ABSL_FLAG(bool, spread, false,
          "--log: space the requests of each whole second evenly over it instead of all at its "
          "start");
ABSL_FLAG(absl::Duration, window, absl::Seconds(2),
          "--log: lines up to this far out of time order are put back in order");
ABSL_FLAG(std::string, sweep, "",
          "--log: rate=A..B[:STEPS] (geometric, default 10 steps), rate=A,B,..., "
          "burst=A..B[:STEPS], burst=A,B,..., or both (rate=A..B:N,burst=C..D:M: the grid): "
          "every point in one pass");
ABSL_FLAG(std::string, target, "1%",
          "--log sweep knee: the smallest limit denying at most this share: 1%, requests=1% or "
          "clients=0.5%");
ABSL_FLAG(std::uint64_t, top, 10, "--log: keys by denials reported per point (--json)");
ABSL_FLAG(bool, progress, false,
          "--log: a progress line (lines/s) on stderr even when it is not a terminal");

namespace {

using sluice::sim::LabResult;

int Fail(const absl::Status& status) {
  std::cerr << "sluice-sim: " << status.message() << "\n";
  return 2;
}

int Fail(std::string_view message) {
  std::cerr << "sluice-sim: " << message << "\n";
  return 2;
}

std::string DecisionsPath(const std::string& path, const std::string& algorithm, bool several) {
  if (!several) return path;
  const std::size_t dot = path.rfind('.');
  const std::size_t slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) {
    return path + "." + algorithm;
  }
  return path.substr(0, dot) + "." + algorithm + path.substr(dot);
}

std::string Ms(const LabResult& r, double ns) {
  return r.retry_samples == 0 ? "-" : absl::StrFormat("%.3f", ns / 1e6);
}

void PrintTable(std::FILE* f, const std::string& title, const std::vector<LabResult>& results) {
  std::fprintf(f, "%s\n", title.c_str());
  std::fprintf(f, "%-24s %10s %10s %10s %14s %13s %8s %8s %8s\n", "algorithm", "admitted", "denied",
               "overshoot", "retry err ms", "retry max ms", "ns/dec", "B/key", "evicted");
  for (const LabResult& r : results) {
    std::fprintf(f, "%-24s %10llu %10llu %10lld %14s %13s %8.1f %8.1f %8llu\n", r.algorithm.c_str(),
                 static_cast<unsigned long long>(r.admitted),
                 static_cast<unsigned long long>(r.denied),
                 static_cast<long long>(r.worst_overshoot), Ms(r, r.retry_error_mean_ns).c_str(),
                 Ms(r, r.retry_error_max_ns).c_str(), r.ns_per_decision, r.bytes_per_key,
                 static_cast<unsigned long long>(r.evicted));
  }
}

void PrintJson(std::FILE* f, const std::string& source, const sluice::Rate& rate,
               std::uint64_t burst, std::size_t requests, const std::vector<LabResult>& results) {
  std::fprintf(f,
               "{\"source\": \"%s\", \"rate\": \"%s\", \"burst\": %llu, \"requests\": %zu, "
               "\"algorithms\": [",
               source.c_str(), rate.ToString().c_str(), static_cast<unsigned long long>(burst),
               requests);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const LabResult& r = results[i];
    std::fprintf(f,
                 "%s\n  {\"algorithm\": \"%s\", \"admitted\": %llu, \"denied\": %llu, "
                 "\"worst_overshoot\": %lld, \"retry_error_mean_ns\": %.1f, "
                 "\"retry_error_max_ns\": %.1f, \"retry_samples\": %llu, "
                 "\"ns_per_decision\": %.2f, \"bytes_per_key\": %.2f, \"evicted\": %llu}",
                 i == 0 ? "" : ",", r.algorithm.c_str(),
                 static_cast<unsigned long long>(r.admitted),
                 static_cast<unsigned long long>(r.denied),
                 static_cast<long long>(r.worst_overshoot), r.retry_error_mean_ns,
                 r.retry_error_max_ns, static_cast<unsigned long long>(r.retry_samples),
                 r.ns_per_decision, r.bytes_per_key, static_cast<unsigned long long>(r.evicted));
  }
  std::fprintf(f, "\n]}\n");
}

// sluice-sim --log ...
int ReplayLogs(const std::vector<std::string>& algorithms, const sluice::Rate& rate,
               std::uint64_t burst) {
  if (!absl::GetFlag(FLAGS_trace).empty() || !absl::GetFlag(FLAGS_scenario).empty()) {
    return Fail("give --log, --trace or --scenario, only one");
  }
  if (absl::GetFlag(FLAGS_decisions) != "-") return Fail("--decisions does not apply to --log");
  sluice::sim::LogReplayRequest request;
  for (absl::string_view f : absl::StrSplit(absl::GetFlag(FLAGS_log), ',', absl::SkipEmpty())) {
    request.files.emplace_back(f);
  }
  auto format = sluice::sim::ParseLogFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok()) return Fail(format.status());
  request.parser.format = *format;
  if (const std::string key = absl::GetFlag(FLAGS_key); !key.empty()) {
    auto spec = sluice::sim::KeySpec::Parse(key);
    if (!spec.ok()) return Fail(spec.status());
    request.parser.key = *std::move(spec);
  }
  if (auto s = sluice::sim::ApplyFieldFlag(absl::GetFlag(FLAGS_field), request.parser.fields);
      !s.ok()) {
    return Fail(s);
  }
  request.parser.policy = absl::GetFlag(FLAGS_policy);
  auto sweep = sluice::sim::ParseSweep(absl::GetFlag(FLAGS_sweep), rate, burst);
  if (!sweep.ok()) return Fail(sweep.status());
  request.sweep = *std::move(sweep);
  auto target = sluice::sim::ParseTarget(absl::GetFlag(FLAGS_target));
  if (!target.ok()) return Fail(target.status());
  request.target = *target;
  request.replay.algorithms = algorithms;
  request.replay.window_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_window));
  if (request.replay.window_ns < 0) return Fail("--window must not be negative");
  request.replay.spread = absl::GetFlag(FLAGS_spread);
  request.replay.top = absl::GetFlag(FLAGS_top);
  request.progress = absl::GetFlag(FLAGS_progress);
  auto report = sluice::sim::ReplayLogs(request);
  if (!report.ok()) return Fail(report.status());
  if (absl::GetFlag(FLAGS_json)) {
    sluice::sim::PrintReplayJson(stdout, *report);
  } else {
    sluice::sim::PrintReplayTable(stdout, *report);
  }
  if (const std::string plot = absl::GetFlag(FLAGS_plot); !plot.empty()) {
    if (report->sweep.dimension == sluice::sim::SweepDimension::kNone) {
      return Fail("--plot with --log needs a --sweep");
    }
    if (auto s = sluice::sim::PlotSweep(plot, *report); !s.ok()) return Fail(s);
    if (!absl::GetFlag(FLAGS_json)) std::printf("plot: %s\n", plot.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr std::string_view kUsage =
      "the algorithm lab: replays a trace or access logs through limiter algorithms\n"
      "  sluice-sim --algorithm gcra --rate 10/s --burst 20 --trace FILE --decisions FILE\n"
      "  sluice-sim --algorithm all --rate 10/s --scenario boundary-attack --plot FILE.svg\n"
      "  sluice-sim --log access.log.gz --format combined --key ip --burst 20 \\\n"
      "             --sweep rate=1/s..100/s:12 --target 1% --plot knee.svg";
  absl::SetProgramUsageMessage(absl::string_view(kUsage.data(), kUsage.size()));
  if (sluice::tools::PrintHelpIfAsked(argc, argv, kUsage)) return 0;
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(std::string("unexpected argument '") + rest[1] + "'");

  const auto names = sluice::sim::ResolveAlgorithms(absl::GetFlag(FLAGS_algorithm));
  if (!names.ok()) return Fail(names.status());
  const bool several = names->size() > 1;
  const auto rate = sluice::Rate::Parse(absl::GetFlag(FLAGS_rate));
  if (!rate.ok()) return Fail(rate.status());
  const std::uint64_t burst_flag = absl::GetFlag(FLAGS_burst);
  const std::uint64_t burst = burst_flag == 0 ? 20 : burst_flag;
  if (!absl::GetFlag(FLAGS_log).empty()) return ReplayLogs(*names, *rate, burst);
  if (burst_flag != 0) {
    std::string ignoring;
    for (const std::string& n : *names) {
      if (!sluice::sim::UsesBurst(n)) absl::StrAppend(&ignoring, ignoring.empty() ? "" : ", ", n);
    }
    if (!ignoring.empty()) {
      std::cerr << "sluice-sim: note: --burst is ignored by " << ignoring
                << ": window algorithms allow " << rate->count << " per window of "
                << absl::FormatDuration(absl::FromChrono(rate->period)) << "\n";
    }
  }

  // The trace.
  const std::string trace_path = absl::GetFlag(FLAGS_trace);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  std::vector<sluice::sim::TraceRecord> records;
  std::string source;
  if (!scenario.empty()) {
    if (!trace_path.empty()) return Fail("give --trace or --scenario, not both");
    sluice::sim::ScenarioOptions o;
    o.name = scenario;
    o.rate = *rate;
    o.duration = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
    o.rps = absl::GetFlag(FLAGS_rps);
    o.keys = absl::GetFlag(FLAGS_keys);
    o.zipf = absl::GetFlag(FLAGS_zipf);
    o.on = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_on));
    o.off = absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_off));
    o.seed = absl::GetFlag(FLAGS_seed);
    auto made = sluice::sim::MakeScenario(o);
    if (!made.ok()) return Fail(made.status());
    records = *std::move(made);
    source = "scenario " + scenario;
  } else {
    std::ifstream trace_file;
    std::istream* in = &std::cin;
    if (!trace_path.empty() && trace_path != "-") {
      trace_file.open(trace_path);
      if (!trace_file) return Fail("cannot open trace '" + trace_path + "'");
      in = &trace_file;
    }
    std::string line;
    for (std::size_t number = 1; std::getline(*in, line); ++number) {
      if (line.empty() || (number == 1 && sluice::sim::IsTraceHeader(line))) continue;
      auto record = sluice::sim::ParseTraceLine(line, number);
      if (!record.ok()) return Fail(record.status());
      records.push_back(*std::move(record));
    }
    source = trace_path.empty() || trace_path == "-" ? "stdin" : trace_path;
  }

  // The runs.
  sluice::algorithms::AlgorithmConfig config;
  config.rate = *rate;
  config.burst = burst;
  config.capacity = absl::GetFlag(FLAGS_capacity);
  const std::uint64_t seed = absl::GetFlag(FLAGS_seed);
  config.seed = sluice::HashSeed{{seed, seed ^ 0x9e3779b97f4a7c15ULL, ~seed, seed * 3 + 1}};
  sluice::sim::LabOptions lab;
  lab.progress = true;
  std::vector<LabResult> results;
  for (const std::string& name : *names) {
    auto r = sluice::sim::RunAlgorithm(name, config, records, lab);
    if (!r.ok()) return Fail(r.status());
    results.push_back(*std::move(r));
  }

  // Decisions.
  const std::string decisions = absl::GetFlag(FLAGS_decisions);
  const bool decisions_to_stdout = decisions == "-" && !several;
  if (!decisions.empty() && (decisions != "-" || !several)) {
    for (const LabResult& r : results) {
      std::ofstream file;
      std::ostream* out = &std::cout;
      if (!decisions_to_stdout) {
        const std::string path = DecisionsPath(decisions, r.algorithm, several);
        file.open(path);
        if (!file) return Fail("cannot open decisions '" + path + "' for writing");
        out = &file;
      }
      *out << sluice::sim::kDecisionsHeader << '\n';
      for (std::size_t i = 0; i < records.size(); ++i) {
        sluice::sim::WriteDecision(*out, records[i], r.decisions[i]);
      }
      out->flush();
      if (!*out) return Fail("writing decisions failed");
    }
  }

  // Summary.
  std::FILE* summary = decisions_to_stdout ? stderr : stdout;
  bool any_bucket = false;
  for (const std::string& n : *names) any_bucket = any_bucket || sluice::sim::UsesBurst(n);
  const std::string title =
      absl::StrCat(source, ": ", records.size(), " requests, rate ", rate->ToString(),
                   any_bucket ? absl::StrCat(", burst ", burst, " (bucket algorithms)") : "");
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(summary, source, *rate, burst, records.size(), results);
  } else {
    PrintTable(summary, title, results);
  }
  if (const std::string plot = absl::GetFlag(FLAGS_plot); !plot.empty()) {
    if (auto s = sluice::sim::PlotAdmitted(plot, title, records, results, *rate); !s.ok()) {
      return Fail(s);
    }
    std::fprintf(summary, "plot: %s\n", plot.c_str());
  }
  return 0;
}
