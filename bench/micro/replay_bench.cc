// sluice-sim --log's replay speed: combined-format access-log lines per second, parsing
// included (the line parsed, its key built, the request decided and counted), single-threaded.
// The log is generated once in memory: two hours of traffic, 300 requests/s, clients drawn
// Zipf(1.1) from 20k addresses (a few heavy clients, a long tail), uniformly from 250k
// (nearly every line a new key: the cache-miss bound), or a new client on every line (1M keys,
// all unique: every line inserts a key). Arguments: the clients (1 Zipf, 0 uniform, 2 unique),
// points of the sweep
// (rate=1/s..100/s) and whether all six algorithms run or gcra alone. items_per_second is
// lines per second of the thread's CPU time (the machine may be shared: CPU time is what one
// core spends); PERF.md has the figures.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sim/log_format.h"
#include "sim/replay.h"
#include "sim/sweep.h"

namespace sluice::bench {
namespace {

struct Log {
  std::string text;  // the lines, each ending in '\n'
  std::vector<std::string_view> lines;
};

enum class Clients { kUniform = 0, kZipf = 1, kUnique = 2 };

Log MakeLog(Clients clients) {
  const bool zipf = clients == Clients::kZipf;
  constexpr std::size_t kLines = 1'000'000;
  constexpr std::size_t kZipfClients = 20'000;
  constexpr std::size_t kUniformClients = 250'000;
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::mt19937_64 rng(14);
  std::vector<double> cumulative;
  if (zipf) {
    double sum = 0;
    for (std::size_t i = 0; i < kZipfClients; ++i) {
      sum += 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
      cumulative.push_back(sum);
    }
  }
  std::uniform_real_distribution<double> u01(0, 1);
  Log log;
  log.text.reserve(kLines * 220);
  const std::time_t start = 1'764'583'200;
  for (std::size_t i = 0; i < kLines; ++i) {
    std::size_t client = 0;
    if (zipf) {
      const double x = u01(rng) * cumulative.back();
      client = static_cast<std::size_t>(std::lower_bound(cumulative.begin(), cumulative.end(), x) -
                                        cumulative.begin());
    } else if (clients == Clients::kUniform) {
      client = rng() % kUniformClients;
    } else {
      client = i;
    }
    const std::time_t t = start + static_cast<std::time_t>(i / 300);
    std::tm tm{};
    gmtime_r(&t, &tm);
    absl::StrAppendFormat(
        &log.text,
        "10.%d.%d.%d - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"GET /api/items/%d?page=2 "
        "HTTP/1.1\" 200 %d \"https://example.com/shop\" \"Mozilla/5.0 (X11; Linux x86_64) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"\n",
        client >> 16, (client >> 8) & 255, client & 255, tm.tm_mday, kMonths[tm.tm_mon],
        tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(rng() % 1000),
        static_cast<int>(200 + rng() % 9000));
  }
  std::string_view rest = log.text;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    log.lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  return log;
}

const Log& TheLog(Clients clients) {
  switch (clients) {
    case Clients::kZipf: {
      static const Log kZipf = MakeLog(Clients::kZipf);
      return kZipf;
    }
    case Clients::kUniform: {
      static const Log kUniform = MakeLog(Clients::kUniform);
      return kUniform;
    }
    case Clients::kUnique:
      break;
  }
  static const Log kUnique = MakeLog(Clients::kUnique);
  return kUnique;
}

// Args: clients (Clients); sweep points; all algorithms (1) or gcra (0).
void BM_ReplayCombined(benchmark::State& state) {
  const Log& log = TheLog(static_cast<Clients>(state.range(0)));
  const auto points = static_cast<std::size_t>(state.range(1));
  sim::LogParserOptions parser_options;
  parser_options.format = sim::LogFormat::kCombined;
  const Rate rate{10, std::chrono::seconds(1)};
  const auto sweep = points == 1
                         ? sim::ParseSweep("", rate, 20)
                         : sim::ParseSweep(absl::StrFormat("rate=1/s..100/s:%d", points), rate, 20);
  sim::ReplayOptions options;
  options.algorithms =
      state.range(2) == 1
          ? std::vector<std::string>{"gcra",         "token-bucket",           "leaky-bucket",
                                     "fixed-window", "sliding-window-counter", "sliding-log"}
          : std::vector<std::string>{"gcra"};
  options.points = sweep->points;
  std::string key;
  sim::LogLine fields;
  std::uint64_t denied = 0;
  for (auto _ : state) {
    auto parser = sim::LogParser::Create(parser_options);
    auto replay = sim::Replay::Create(options);
    if (!parser.ok() || !replay.ok()) std::abort();
    for (const std::string_view line : log.lines) {
      const char* why = nullptr;
      if (parser->Parse(line, fields, why) != sim::LogParser::Result::kOk) std::abort();
      const char* missing = nullptr;
      if (!parser->BuildKey(fields, key, missing)) std::abort();
      (*replay)->Add(fields.t_ns, key, fields.cost);
    }
    (*replay)->Finish();
    denied += (*replay)->Results().front().denied;
  }
  benchmark::DoNotOptimize(denied);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(log.lines.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(log.text.size()));
}
BENCHMARK(BM_ReplayCombined)
    ->ArgNames({"clients", "points", "all"})
    ->Args({1, 1, 0})
    ->Args({0, 1, 0})
    ->Args({2, 1, 0})
    ->Args({1, 10, 0})
    ->Args({1, 10, 1})
    ->Unit(benchmark::kMillisecond);

// The parse alone, for the split of the figure above.
void BM_ParseCombined(benchmark::State& state) {
  const Log& log = TheLog(Clients::kZipf);
  sim::LogParserOptions parser_options;
  auto parser = sim::LogParser::Create(parser_options);
  if (!parser.ok()) std::abort();
  std::string key;
  sim::LogLine fields;
  std::size_t bytes = 0;
  for (auto _ : state) {
    for (const std::string_view line : log.lines) {
      const char* why = nullptr;
      const char* missing = nullptr;
      if (parser->Parse(line, fields, why) != sim::LogParser::Result::kOk ||
          !parser->BuildKey(fields, key, missing)) {
        std::abort();
      }
      bytes += key.size();
    }
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(log.lines.size()));
}
BENCHMARK(BM_ParseCombined)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::bench
