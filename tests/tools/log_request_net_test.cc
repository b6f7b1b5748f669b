// sluice-sim keys a logged request's path as sluiced keys the same request: the real request
// parser and policy set of sluiced on one side, a combined-format log line of that request on
// the other, for spellings of one path (%-escapes of unreserved bytes, dot segments, repeated
// slashes, absolute-form) and for what sluiced refuses. Same key or both refuse; and replayed
// together, both deny the same requests.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "sim/log_format.h"
#include "sim/replay.h"
#include "sluice/net/http/http_parser.h"
#include "support/policy_eval.h"

namespace sluice::sim {
namespace {

constexpr const char* kRequests[] = {
    "GET /api/login HTTP/1.1",
    "GET /api/%6Cogin HTTP/1.1",
    "GET /%61%70%69/login?x=1 HTTP/1.1",
    "GET //api///login HTTP/1.1",
    "GET /api/./login HTTP/1.1",
    "GET /api/v1/../login HTTP/1.1",
    "GET /api/v1/%2E%2E/login HTTP/1.1",
    "GET /api%2Flogin HTTP/1.1",
    "GET /x/..%2F/api/login HTTP/1.1",
    "GET http://example.com/api//login HTTP/1.1",
    "POST /api/login/. HTTP/1.1",
    "GET /api/login/ HTTP/1.1",
    "GET /API/login HTTP/1.1",
    "GET /.well-known/x HTTP/1.1",
    "GET /a/b/../../api/login HTTP/1.0",
    "OPTIONS * HTTP/1.1",
    "GET /api/%zz HTTP/1.1",
    "GET /api/%00 HTTP/1.1",
    "GET /api/%7F HTTP/1.1",
    "GET /../api/login HTTP/1.1",
    "GET /api/login#frag HTTP/1.1",
    "get /api/login HTTP/1.1",
    "GET api/login HTTP/1.1",
    "GET * HTTP/1.1",
};

// sluiced's key for `request` (rendered as its decision log renders it), or "REFUSED".
std::string SluicedKey(testing::EvalHarness& h, const std::string& request,
                       net::HttpRequest& parsed) {
  const std::string head = request + "\r\nHost: example.com\r\n\r\n";
  const net::ParseResult r = net::ParseRequestHead(head, net::HttpLimits{}, parsed);
  if (r.status != net::ParseResult::Status::kComplete) return "REFUSED";
  return h.Key(parsed, testing::PeerOf("192.0.2.1"));
}

std::string Line(const std::string& request) {
  return absl::StrCat(R"(192.0.2.1 - - [01/Dec/2026:10:00:00 +0000] ")", request,
                      R"(" 200 1 "-" "-")");
}

std::string SimKey(LogParser& p, const std::string& request) {
  LogLine line;
  const char* why = nullptr;
  const std::string text = Line(request);
  if (p.Parse(text, line, why) != LogParser::Result::kOk) return "REFUSED";
  std::string key;
  const char* missing = nullptr;
  return p.BuildKey(line, key, missing) ? key : "NOKEY";
}

LogParser PathParser() {
  LogParserOptions o;
  o.format = LogFormat::kCombined;
  o.key = *KeySpec::Parse("path");
  auto p = LogParser::Create(o);
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

TEST(LogRequestNetTest, PathKeysAreSluicedsKeys) {
  testing::EvalHarness h(
      testing::ConfigFromYaml("policies:\n  - {name: p, key: path, rate: 1/m, burst: 1000}\n"));
  LogParser sim = PathParser();
  int same_path = 0;
  for (const char* request : kRequests) {
    net::HttpRequest parsed;
    const std::string sluiced = SluicedKey(h, request, parsed);
    EXPECT_EQ(SimKey(sim, request), sluiced) << request;
    same_path += sluiced == "path=/api/login" ? 1 : 0;
  }
  EXPECT_EQ(same_path, 11);  // the spellings of /api/login, one key in both
}

TEST(LogRequestNetTest, ReplayedTogetherBothDenyTheSameRequests) {
  // Every request at one instant, three of each key admitted: each decision depends only on
  // how many requests before it shared its key.
  testing::EvalHarness h(
      testing::ConfigFromYaml("policies:\n  - {name: p, key: path, rate: 1/m, burst: 3}\n"));
  LogParser sim = PathParser();
  ReplayOptions options;
  options.algorithms = {"gcra"};
  options.points = {SweepPoint{Rate{1, std::chrono::minutes(1)}, 3}};
  auto replay = Replay::Create(options);
  ASSERT_TRUE(replay.ok()) << replay.status();
  std::uint64_t sluiced_denied = 0;
  std::uint64_t sluiced_decided = 0;
  for (int round = 0; round < 2; ++round) {
    for (const char* request : kRequests) {
      net::HttpRequest parsed;
      const std::string head = std::string(request) + "\r\nHost: example.com\r\n\r\n";
      if (net::ParseRequestHead(head, net::HttpLimits{}, parsed).status ==
          net::ParseResult::Status::kComplete) {
        ++sluiced_decided;
        sluiced_denied += h.Eval(parsed, testing::PeerOf("192.0.2.1")).allowed ? 0 : 1;
      }
      LogLine line;
      const char* why = nullptr;
      const std::string text = Line(request);
      if (sim.Parse(text, line, why) != LogParser::Result::kOk) continue;
      std::string key;
      const char* missing = nullptr;
      ASSERT_TRUE(sim.BuildKey(line, key, missing));
      (*replay)->Add(line.t_ns, key, line.cost);
    }
  }
  (*replay)->Finish();
  const std::vector<PointResult> results = (*replay)->Results();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].requests, sluiced_decided);
  EXPECT_EQ(results[0].denied, sluiced_denied);
  // /api/login: 22 requests, 3 admitted; /api/login/: 4, 3 admitted; the others 2 each.
  EXPECT_EQ(sluiced_denied, (22 - 3) + (4 - 3));
}

}  // namespace
}  // namespace sluice::sim
