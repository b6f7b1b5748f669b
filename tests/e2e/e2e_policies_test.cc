// End-to-end: policy semantics through the server: when_missing, shadow mode, multi-part and
// IPv6 keys, and the state a reload keeps or resets. Every wait polls a condition against a
// deadline; nothing asserts a timing.
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

// SIGHUP keeps the state of unchanged policies and resets a policy whose limit changed.
TEST(E2ePoliciesTest, ReloadKeepsStateOfUnchangedPolicies) {
  const std::string a2 = PerKey("policy-a", 2);
  const std::string b =
      "  - name: policy-b\n    match: {path_prefix: /b/}\n    key: ip\n"
      "    rate: 100/s\n    burst: 50\n";
  Sluiced server(Config(a2));
  START_OR_SKIP(server);
  const std::string req = Request("/", "x-key: k\r\n");
  for (const int status : {200, 200, 429}) {
    auto r = Get(server.port(), req);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  const auto config_has = [&](const std::string& text) {
    return PollUntil(
        [&] {
          auto r = Get(server.admin_port(), Request("/config"));
          return r.has_value() && r->body.find(text) != std::string::npos;
        },
        10s);
  };

  // Adding policy B (before A, so A's position changes) leaves A, same name, rate and burst,
  // and its keys alone.
  server.WriteConfig(Config(b + a2));
  server.Signal(SIGHUP);
  ASSERT_TRUE(config_has("policy-b")) << server.DrainOutput();
  auto kept = Get(server.port(), req);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->status, 429) << "policy-a's state was lost by a reload that did not change it";
  auto on_b = Get(server.port(), Request("/b/x"));
  ASSERT_TRUE(on_b.has_value());
  EXPECT_EQ(on_b->status, 200);
  EXPECT_NE(on_b->Header("ratelimit-policy").find("policy-b"), std::string::npos);
  // Policy counters add up across the reload.
  EXPECT_EQ(Metric(server, PolicySeries("policy-a", "admitted")), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("policy-a", "denied")), 2u);

  // A new burst for A is a new limit: its keys start afresh.
  server.WriteConfig(Config(b + PerKey("policy-a", 3)));
  server.Signal(SIGHUP);
  ASSERT_TRUE(config_has("burst: 3")) << server.DrainOutput();
  auto fresh = Get(server.port(), req);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->status, 200) << "a reload that changed policy-a's burst kept its old state";
  EXPECT_EQ(fresh->Header("ratelimit-policy"), "\"policy-a\";q=3;w=10800");
  for (const int status : {200, 200, 429}) {
    auto r = Get(server.port(), req);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
  }
}

// When_missing: deny answers 429 without Retry-After (it can never succeed by waiting).
TEST(E2ePoliciesTest, WhenMissingDenyDeniesWithoutRetryAfter) {
  Sluiced server(Config(
      "  - name: need-key\n    key: header:x-api-key\n    when_missing: deny\n    rate: 100/s\n"
      "    burst: 10\n"));
  START_OR_SKIP(server);
  auto missing = Get(server.port(), Request("/"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 429);
  EXPECT_EQ(missing->headers.count("retry-after"), 0u) << missing->Header("retry-after");
  // An empty value counts as missing too.
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-api-key:\r\n")), 429);
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-api-key: abc\r\n")), 200);
  EXPECT_EQ(WaitForMetric(server, PolicySeries("need-key", "missing_key"), 2), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("need-key", "denied")), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("need-key", "admitted")), 1u);
}

// when_missing: ip falls back to the client address as the key.
TEST(E2ePoliciesTest, WhenMissingIpKeysByAddress) {
  Sluiced server(
      Config("  - name: key-or-ip\n    key: header:x-key\n    when_missing: ip\n    rate: 1/h\n"
             "    burst: 1\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Request("/")), 200);
  auto second = Get(server.port(), Request("/"));  // a new connection, the same address
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-key: own\r\n")), 200);
}

// Shadow mode never denies but counts what it would have denied.
TEST(E2ePoliciesTest, ShadowModeCountsButNeverDenies) {
  Sluiced server(Config(PerKey("shadowed", 2, "    mode: shadow\n")));
  START_OR_SKIP(server);
  Client c(server.port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: s\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->headers.count("retry-after"), 0u) << i;
  }
  EXPECT_EQ(WaitForMetric(server, PolicySeries("shadowed", "shadow_denied"), 3), 3u);
  EXPECT_EQ(Metric(server, PolicySeries("shadowed", "admitted")), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("shadowed", "denied")), 0u);
  EXPECT_EQ(Metric(server, "sluice_requests_total{outcome=\"denied\"}"), 0u);
}

// An enforcing and a shadow policy together: the shadow one never causes a denial.
TEST(E2ePoliciesTest, ShadowPolicyBesideAnEnforcingOne) {
  Sluiced server(Config(PerKey("enforced", 4) + PerKey("shadowed", 1, "    mode: shadow\n")));
  START_OR_SKIP(server);
  Client c(server.port());
  for (const int status : {200, 200, 200, 200, 429}) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: both\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
  }
  EXPECT_EQ(WaitForMetric(server, PolicySeries("enforced", "denied"), 1), 1u);
  EXPECT_EQ(Metric(server, PolicySeries("enforced", "admitted")), 4u);
  EXPECT_GE(Metric(server, PolicySeries("shadowed", "shadow_denied")), 3u);
}

// Multi-part keys: each distinct combination of the parts has its own state.
TEST(E2ePoliciesTest, MultiPartKeysSeparateEveryCombination) {
  Sluiced server(
      Config("  - name: combo\n    key: [ip, header:x-user, method, path]\n    rate: 1/h\n"
             "    burst: 1\n"));
  START_OR_SKIP(server);
  const auto status = [&](const std::string& method, const std::string& path,
                          const std::string& user) {
    auto r = Get(server.port(),
                 method + " " + path + " HTTP/1.1\r\nHost: t\r\nx-user: " + user + "\r\n\r\n");
    return r.has_value() ? r->status : -1;
  };
  EXPECT_EQ(status("GET", "/a", "u1"), 200);
  EXPECT_EQ(status("GET", "/a", "u1"), 429);
  EXPECT_EQ(status("POST", "/a", "u1"), 200);  // another method
  EXPECT_EQ(status("GET", "/b", "u1"), 200);   // another path
  EXPECT_EQ(status("GET", "/a", "u2"), 200);   // another user
  EXPECT_EQ(status("POST", "/a", "u1"), 429);
  EXPECT_EQ(status("GET", "/b", "u1"), 429);
  EXPECT_EQ(status("GET", "/a", "u2"), 429);
}

bool HaveIpv6Loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// IPv6: ip and ip/64 keys of a client on ::1, seen through the decision log.
TEST(E2ePoliciesTest, Ipv6KeysByAddressAndPrefix) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config("  - name: net64\n    match: {path_prefix: /net/}\n"
             "    key: [ip/64, header:x-user]\n    rate: 1/h\n    burst: 2\n"
             "  - name: host\n    match: {path_prefix: /host/}\n    key: ip\n"
             "    rate: 1/h\n    burst: 1\n",
             "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1, "[::1]:0"));
  START_OR_SKIP(server);
  Client c(server.port(), 5s, Family::kV6);
  ASSERT_TRUE(c.connected());
  const auto status = [&](const std::string& path, const std::string& user) {
    if (!c.Send(Request(path, "x-user: " + user + "\r\n"))) return -1;
    auto r = c.Read();
    return r.has_value() ? r->status : -1;
  };
  EXPECT_EQ(status("/net/1", "u1"), 200);
  EXPECT_EQ(status("/net/2", "u1"), 200);
  EXPECT_EQ(status("/net/3", "u1"), 429);
  EXPECT_EQ(status("/net/4", "u2"), 200);  // same /64, other user: its own key
  EXPECT_EQ(status("/host/1", "u1"), 200);
  EXPECT_EQ(status("/host/2", "u2"), 429);  // key ip only: the user does not matter

  std::vector<std::string> lines = log.WaitForLines(2);
  ASSERT_GE(lines.size(), 2u) << lines.size() << " lines";
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(JsonField(lines[0], "policy"), "\"net64\"") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "client"), "\"::1\"") << lines[0];
  const std::string net_key = JsonField(lines[0], "key");
  EXPECT_NE(net_key.find("::/64"), std::string::npos) << "the /64 prefix, not ::1: " << lines[0];
  EXPECT_NE(net_key.find("u1"), std::string::npos) << lines[0];
  EXPECT_EQ(JsonField(lines[1], "policy"), "\"host\"") << lines[1];
  EXPECT_NE(JsonField(lines[1], "key").find("::1"), std::string::npos) << lines[1];
}

}  // namespace
}  // namespace sluice::e2e
