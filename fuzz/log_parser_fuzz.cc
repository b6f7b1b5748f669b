// libFuzzer target: sluice-sim's access-log parsers (combined, common, json, sluiced), line by
// line as `sluice-sim --log` reads a file, and the replay behind them. The first byte picks
// the format (% 4), the key (/ 4 % 8, from kKeys) and --spread (/ 32 % 2); the rest is lines.
// Checks, for every line:
//   - a warm parser (its time cache, its scratch) and a fresh one agree on the result, the time,
//     the cost and the key: a line means the same whatever came before it;
//   - a parsed path is one sluiced's policies could see: "*", a CONNECT authority, or a path
//     starting with '/' without "//" or a "." or ".." segment (normalised);
//   - a key built is never empty;
// and the replay of the keyed lines decides each exactly once at every point.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sim/key_spec.h"
#include "sim/log_format.h"
#include "sim/replay.h"

namespace {

using sluice::sim::LogFormat;
using sluice::sim::LogLine;
using sluice::sim::LogParser;
using sluice::sim::LogParserOptions;

constexpr const char* kKeys[] = {"",      "ip",     "path",           "[ip, method, path]",
                                 "ip/64", "method", "header:referer", "header:user-agent,ip"};

[[noreturn]] void Fail(const char* what, std::string_view line) {
  std::fprintf(stderr, "log_parser_fuzz: %s\nline: '%.*s'\n", what, static_cast<int>(line.size()),
               line.data());
  std::abort();
}

std::optional<LogParser> MakeParser(LogFormat format, const char* key) {
  LogParserOptions o;
  o.format = format;
  if (*key != '\0') o.key = *sluice::sim::KeySpec::Parse(key);
  if (format == LogFormat::kJson &&
      std::string_view(key).find("header:") != std::string_view::npos) {
    o.fields.headers.emplace_back("referer", "ref");
  }
  auto p = LogParser::Create(std::move(o));
  if (!p.ok()) return std::nullopt;  // a key part the format cannot have
  return *std::move(p);
}

void CheckPath(std::string_view path, std::string_view method, std::string_view line) {
  if (path.empty() || path == "*") return;
  if (path.front() != '/') {
    if (method != "CONNECT") Fail("a path that does not start with '/'", line);
    return;
  }
  if (path.find("//") != std::string_view::npos) Fail("a path with '//'", line);
  std::size_t begin = 1;
  while (begin <= path.size()) {
    std::size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(begin, end - begin);
    if (segment == "." || segment == "..") Fail("a path with a dot segment", line);
    begin = end + 1;
  }
}

struct Parsed {
  LogParser::Result result = LogParser::Result::kMalformed;
  std::int64_t t_ns = 0;
  std::uint64_t cost = 0;
  bool keyed = false;
  std::string key;
};

Parsed ParseOne(LogParser& parser, std::string_view line) {
  Parsed out;
  LogLine fields;
  const char* why = nullptr;
  out.result = parser.Parse(line, fields, why);
  if (out.result != LogParser::Result::kOk) {
    if (why == nullptr && out.result != LogParser::Result::kSkipped) Fail("no reason", line);
    return out;
  }
  CheckPath(fields.path, fields.method, line);
  out.t_ns = fields.t_ns;
  out.cost = fields.cost;
  const char* missing = nullptr;
  out.keyed = parser.BuildKey(fields, out.key, missing);
  if (out.keyed && out.key.empty()) Fail("an empty key", line);
  if (!out.keyed && missing == nullptr) Fail("no key and no reason", line);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto format = static_cast<LogFormat>(data[0] % 4);
  const char* key = kKeys[(data[0] / 4) % 8];
  const bool spread = (data[0] / 32) % 2 == 1;
  std::optional<LogParser> warm = MakeParser(format, key);
  if (!warm) return 0;
  sluice::sim::ReplayOptions options;
  options.algorithms = {"gcra", "sliding-log"};
  options.points = {{sluice::Rate{2, std::chrono::seconds(1)}, 3},
                    {sluice::Rate{50, std::chrono::seconds(1)}, 1}};
  options.window_ns = 1'000'000'000;
  options.spread = spread;
  auto replay = sluice::sim::Replay::Create(options);
  if (!replay.ok()) std::abort();
  std::uint64_t keyed = 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!input.empty()) {
    const std::size_t newline = input.find('\n');
    const std::string_view line = input.substr(0, newline);
    input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
    const Parsed a = ParseOne(*warm, line);
    std::optional<LogParser> fresh = MakeParser(format, key);
    const Parsed b = ParseOne(*fresh, line);
    if (a.result != b.result || a.t_ns != b.t_ns || a.cost != b.cost || a.keyed != b.keyed ||
        a.key != b.key) {
      Fail("a warm parser and a fresh one disagree", line);
    }
    if (a.result != LogParser::Result::kOk || !a.keyed) continue;
    (*replay)->Add(a.t_ns, a.key, a.cost);
    ++keyed;
  }
  (*replay)->Finish();
  if ((*replay)->requests() != keyed) Fail("the replay lost or added requests", "");
  for (const sluice::sim::PointResult& p : (*replay)->Results()) {
    if (p.requests != keyed || p.denied > keyed || p.clients_denied > p.clients) {
      Fail("a point's counts do not add up", "");
    }
  }
  return 0;
}
