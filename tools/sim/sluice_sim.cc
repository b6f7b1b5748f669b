// sluice-sim: replays a trace through a limiter algorithm and writes its decisions.
//   sluice-sim --algorithm gcra --rate 10/s --burst 20 --trace trace.csv --decisions out.csv
// `-` reads the trace from stdin / writes decisions to stdout. A summary goes to stderr.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "algorithms/gcra_map.h"
#include "sim/trace.h"
#include "sluice/gcra.h"
#include "sluice/rate.h"

ABSL_FLAG(std::string, algorithm, "gcra", "limiter algorithm: gcra");
ABSL_FLAG(std::string, rate, "10/s", "rate N/s, N/m, N/h or N/d");
ABSL_FLAG(std::uint64_t, burst, 20, "burst: requests a fresh key may make at once");
ABSL_FLAG(std::string, trace, "-", "trace CSV t_ns,key,cost ('-' for stdin)");
ABSL_FLAG(std::string, decisions, "-", "decisions CSV to write ('-' for stdout)");

namespace {

int Fail(const std::string& message) {
  std::cerr << "sluice-sim: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "replays a trace through a limiter algorithm\n"
      "  sluice-sim --algorithm gcra --rate 10/s --burst 20 --trace FILE --decisions FILE");
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(std::string("unexpected argument '") + rest[1] + "'");

  const std::string algorithm = absl::GetFlag(FLAGS_algorithm);
  if (algorithm != "gcra") return Fail("unknown algorithm '" + algorithm + "' (known: gcra)");
  const auto rate = sluice::Rate::Parse(absl::GetFlag(FLAGS_rate));
  if (!rate.ok()) return Fail(std::string(rate.status().message()));
  const auto params = sluice::GcraParams::Make(*rate, absl::GetFlag(FLAGS_burst));
  if (!params.ok()) return Fail(std::string(params.status().message()));

  std::ifstream trace_file;
  std::istream* in = &std::cin;
  if (const std::string path = absl::GetFlag(FLAGS_trace); path != "-") {
    trace_file.open(path);
    if (!trace_file) return Fail("cannot open trace '" + path + "'");
    in = &trace_file;
  }
  std::ofstream decisions_file;
  std::ostream* out = &std::cout;
  if (const std::string path = absl::GetFlag(FLAGS_decisions); path != "-") {
    decisions_file.open(path);
    if (!decisions_file) return Fail("cannot open decisions '" + path + "' for writing");
    out = &decisions_file;
  }

  std::vector<sluice::sim::TraceRecord> records;
  std::string line;
  for (std::size_t number = 1; std::getline(*in, line); ++number) {
    if (line.empty() || (number == 1 && sluice::sim::IsTraceHeader(line))) continue;
    auto record = sluice::sim::ParseTraceLine(line, number);
    if (!record.ok()) return Fail(std::string(record.status().message()));
    records.push_back(*std::move(record));
  }

  sluice::algorithms::GcraMap limiter(*params);
  std::vector<sluice::Decision> decisions(records.size());
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < records.size(); ++i) {
    decisions[i] =
        limiter.Check(records[i].key, std::chrono::nanoseconds{records[i].t_ns}, records[i].cost);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;

  *out << sluice::sim::kDecisionsHeader << '\n';
  std::uint64_t admitted = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    sluice::sim::WriteDecision(*out, records[i], decisions[i]);
    admitted += decisions[i].allowed ? 1 : 0;
  }
  out->flush();
  if (!*out) return Fail("writing decisions failed");
  const double ns =
      records.empty() ? 0.0
                      : static_cast<double>(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
                            static_cast<double>(records.size());
  std::fprintf(stderr,
               "%s rate=%s burst=%llu: %zu requests, %llu admitted, %llu denied, %zu keys, %.1f "
               "ns/decision\n",
               algorithm.c_str(), rate->ToString().c_str(),
               static_cast<unsigned long long>(params->burst), records.size(),
               static_cast<unsigned long long>(admitted),
               static_cast<unsigned long long>(records.size() - admitted), limiter.keys(), ns);
  return 0;
}
