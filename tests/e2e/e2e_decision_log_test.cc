// End-to-end: the decision log: denials, sampled admissions, the forwarded client, escaping,
// long policy names, missing keys, and sampling changed by a reload. Every wait polls a
// condition against a deadline; nothing asserts a timing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "limits_config.h"
#include "start_or_skip.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

// The decision log: denials as JSON lines; admissions only as sampled.
TEST(E2eDecisionLogTest, DecisionLogRecordsDenials) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config(PerKey("logged", 2), "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  const int expected[] = {200, 200, 429};
  for (const int status : expected) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: alice\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u) << "no line in " << log.path();
  // The writer drains the shard's queue in order: had the admissions been logged, they
  // would be in the file before the denial.
  ASSERT_EQ(lines.size(), 1u) << lines.front();
  const std::string& line = lines.front();
  EXPECT_EQ(line.front(), '{') << line;
  EXPECT_EQ(line.back(), '}') << line;
  EXPECT_EQ(JsonField(line, "policy"), "\"logged\"") << line;
  EXPECT_EQ(JsonField(line, "status"), "429") << line;
  EXPECT_EQ(JsonField(line, "client"), "\"127.0.0.1\"") << line;
  EXPECT_EQ(JsonField(line, "forwarded_client"), "") << line;  // no forwarded: setting
  EXPECT_NE(JsonField(line, "key").find("alice"), std::string::npos) << line;
  const std::string retry = JsonField(line, "retry_after_ns");
  ASSERT_FALSE(retry.empty()) << line;
  EXPECT_GT(std::strtoll(retry.c_str(), nullptr, 10), 0) << line;
  EXPECT_GT(std::strtoll(JsonField(line, "time_ns").c_str(), nullptr, 10), 0) << line;
  // A request no policy matches is never logged.
  EXPECT_EQ(StatusOf(server.port(), Request("/nokey")), 200);
}

// Behind a trusted proxy the peer is the proxy: the log also names the client it forwarded
// for, and only when the peer is trusted and the header holds an address.
TEST(E2eDecisionLogTest, DecisionLogNamesTheForwardedClient) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(Config("  - {name: per-client, key: ip, rate: 1/h, burst: 1}\n",
                        "forwarded: {trusted: [127.0.0.1], client_ip: x-forwarded-for, hops: 2}\n"
                        "log: {denials: \"" +
                            log.path() + "\", sample_admits: 0}\n",
                        1));
  START_OR_SKIP(server);
  Client c(server.port());
  // hops 2: the client is the second address from the right.
  const std::string via = "x-forwarded-for: 198.51.100.7, 10.0.0.2\r\n";
  const int expected[] = {200, 429};
  for (const int status : expected) {
    ASSERT_TRUE(c.Send(Request("/", via)));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  // An IPv6 client behind the same proxy, denied on its second request too.
  const std::string via6 = "x-forwarded-for: 2001:db8::7, 10.0.0.2\r\n";
  for (const int status : expected) {
    ASSERT_TRUE(c.Send(Request("/", via6)));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  std::vector<std::string> lines = log.WaitForLines(2);
  ASSERT_GE(lines.size(), 2u) << "fewer than two lines in " << log.path();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(JsonField(lines[0], "client"), "\"127.0.0.1\"") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "forwarded_client"), "\"198.51.100.7\"") << lines[0];
  EXPECT_EQ(JsonField(lines[1], "forwarded_client"), "\"2001:db8::7\"") << lines[1];
}

TEST(E2eDecisionLogTest, DecisionLogSamplesAdmissions) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config(PerKey("logged", 2), "log: {denials: \"" + log.path() + "\", sample_admits: 1}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: bob\r\n")));
    ASSERT_TRUE(c.Read().has_value());
  }
  std::vector<std::string> lines = log.WaitForLines(3);
  ASSERT_GE(lines.size(), 3u) << lines.size() << " lines in " << log.path();
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(JsonField(lines[i], "status"), "200") << lines[i];
    EXPECT_EQ(JsonField(lines[i], "retry_after_ns"), "0") << lines[i];
    EXPECT_EQ(JsonField(lines[i], "policy"), "\"logged\"") << lines[i];
    EXPECT_NE(JsonField(lines[i], "key").find("bob"), std::string::npos) << lines[i];
  }
  EXPECT_EQ(JsonField(lines[2], "status"), "429") << lines[2];
}

// Keys holding JSON's special characters are escaped in the decision log.
TEST(E2eDecisionLogTest, DecisionLogEscapesKeys) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(Config(PerKey("escaped", 1),
                        "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  for (const int status : {200, 429}) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: q\"b\\s\r\n")));  // q"b\s
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("q\\\"b\\\\s\""), std::string::npos) << "key not escaped: " << lines[0];
  EXPECT_EQ(JsonField(lines[0], "policy"), "\"escaped\"") << lines[0];
}

// Policy names may be 64 bytes long (config.cc kMaxNameBytes); the log names them in full.
TEST(E2eDecisionLogTest, DecisionLogNamesLongPoliciesInFull) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  const std::string name(64, 'n');
  Sluiced server(
      Config(PerKey(name, 1), "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  for (const int status : {200, 429}) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: long\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
    EXPECT_NE(r->Header("ratelimit").find(name), std::string::npos);
  }
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  const std::string policy = JsonField(lines[0], "policy");
  EXPECT_EQ(policy, "\"" + name + "\"") << lines[0];
}

// log.sample_admits can change on reload (log.denials cannot).
TEST(E2eDecisionLogTest, ReloadChangesAdmissionSampling) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  const auto config = [&](const std::string& rate) {
    return Config(PerKey("sampled", 1000),
                  "log: {denials: \"" + log.path() + "\", sample_admits: " + rate + "}\n", 1);
  };
  Sluiced server(config("0"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-key: before\r\n")), 200);
  server.WriteConfig(config("1"));
  server.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Get(server.admin_port(), Request("/config"));
        return r.has_value() && r->body.find("sample_admits: 1") != std::string::npos;
      },
      10s))
      << server.DrainOutput();
  auto after = Get(server.port(), Request("/", "x-key: after\r\n"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(JsonField(lines[0], "key").find("after"), std::string::npos) << lines[0];
  EXPECT_EQ(JsonField(lines[0], "status"), "200") << lines[0];
}

// A when_missing: deny denial in the decision log: never retryable.
TEST(E2eDecisionLogTest, DecisionLogOfAMissingKey) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config("  - name: need-key\n    key: header:x-api-key\n    when_missing: deny\n"
             "    rate: 100/s\n    burst: 10\n",
             "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Request("/")), 429);
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(JsonField(lines[0], "policy"), "\"need-key\"") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "status"), "429") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "retry_after_ns"), "-1") << lines[0];
}

}  // namespace
}  // namespace sluice::e2e
