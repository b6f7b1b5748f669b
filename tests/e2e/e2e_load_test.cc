// End-to-end: sluice-load against a real sluiced on port 0. Every request it sends is answered
// and counted once: the status counts add up to --requests, with no errors.
#include <gtest/gtest.h>
#include <stdio.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "harness.h"
#include "start_or_skip.h"

#ifndef SLUICE_LOAD_PATH
#error "SLUICE_LOAD_PATH must name the sluice-load binary"
#endif

namespace sluice::e2e {
namespace {

// Runs sluice-load with `args` (and --json); returns its stdout.
std::string RunLoad(const std::string& args) {
  const std::string command =
      std::string(SLUICE_LOAD_PATH) + " --json --progress=false " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char chunk[4096];
  while (const std::size_t n = fread(chunk, 1, sizeof chunk, pipe)) out.append(chunk, n);
  pclose(pipe);
  return out;
}

// The number after `"field":` in sluice-load's JSON (the first occurrence); -1 when absent.
long long JsonNumber(const std::string& json, const std::string& field) {
  const std::string marker = "\"" + field + "\":";
  const std::size_t at = json.find(marker);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + marker.size(), nullptr, 10);
}

std::string Config(int burst) {
  return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n"
         "table: {capacity: 65536, when_full: evict}\npolicies:\n"
         "  - name: per-key\n    key: header:x-key\n    when_missing: skip\n    rate: 1/h\n"
         "    burst: " +
         std::to_string(burst) + "\n";
}

TEST(E2eLoadTest, ClosedLoopPipelinedStatusCountsEqualRequests) {
  Sluiced server(Config(5));
  START_OR_SKIP(server);
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  const std::string json = RunLoad(
      "--requests 20000 --connections 8 --threads 2 --pipeline 4 "
      "--keys uniform:100 " +
      url);
  const long long admitted = JsonNumber(json, "200");
  const long long denied = JsonNumber(json, "429");
  EXPECT_EQ(JsonNumber(json, "requests"), 20000) << json;
  EXPECT_EQ(JsonNumber(json, "errors_total"), 0) << json;
  EXPECT_EQ(admitted + denied, 20000) << json;
  // 100 keys that never refill, 5 each at most.
  EXPECT_GT(admitted, 0) << json;
  EXPECT_LE(admitted, 500) << json;
}

TEST(E2eLoadTest, OpenLoopAnswersEveryScheduledRequest) {
  Sluiced server(Config(100000));
  START_OR_SKIP(server);
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  // 2000 requests at 4000/s: about half a second.
  const std::string json =
      RunLoad("--requests 2000 --rate 4000 --connections 4 --keys zipf:1000:1.1 " + url);
  EXPECT_EQ(JsonNumber(json, "200"), 2000) << json;
  EXPECT_EQ(JsonNumber(json, "errors_total"), 0) << json;
}

TEST(E2eLoadTest, RefusedConnectionsAreCountedNotHung) {
  // A port nothing listens on: take one from a server, then stop that server.
  std::uint16_t port = 0;
  {
    Sluiced server(Config(1));
    START_OR_SKIP(server);
    port = server.port();
  }
  const std::string json =
      RunLoad("--duration 300ms --connections 2 http://127.0.0.1:" + std::to_string(port) + "/");
  EXPECT_EQ(JsonNumber(json, "requests"), 0) << json;
  EXPECT_GT(JsonNumber(json, "connect"), 0) << json;
}

}  // namespace
}  // namespace sluice::e2e
