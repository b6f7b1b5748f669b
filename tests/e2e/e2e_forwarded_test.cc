// End-to-end: forwarded headers from a trusted proxy (as nginx auth_request sends them) limit
// each claimed client; the same headers from an untrusted peer are ignored and counted. The
// untrusted peer is a client socket bound to 127.0.0.2 (all of 127/8 is loopback on Linux).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "harness.h"
#include "start_or_skip.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

std::string Config(const std::string& trusted, const std::string& policies) {
  return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n"
         "table: {capacity: 65536, when_full: evict}\n"
         "forwarded:\n  trusted: [" +
         trusted +
         "]\n  client_ip: x-real-ip\n  uri: x-original-uri\n  method: x-original-method\n"
         "policies:\n" +
         policies;
}

const std::string kPolicies =
    "  - {name: per-client, key: ip, rate: 1/h, burst: 3}\n"
    "  - name: api-post\n    match: {path_prefix: /api/, method: POST}\n"
    "    key: [ip, path]\n    rate: 1/h\n    burst: 1\n";

// One request on a fresh connection from `source` (an IPv4 loopback address) to 127.0.0.1:port.
// The status code and the RateLimit-Policy value, or nullopt (no answer, or bind refused).
struct Answer {
  int status = 0;
  std::string policy;
};
std::optional<Answer> From(const char* source, std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string in;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 &&
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (;;) {
      const std::size_t head = in.find("\r\n\r\n");
      if (head != std::string::npos) {
        const std::size_t cl = in.find("Content-Length: ");
        const std::size_t body = cl != std::string::npos && cl < head
                                     ? std::strtoul(in.c_str() + cl + 16, nullptr, 10)
                                     : 0;
        if (in.size() >= head + 4 + body) break;
      }
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got <= 0) break;
      in.append(buf, static_cast<std::size_t>(got));
    }
  }
  ::close(fd);
  if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) return std::nullopt;
  Answer a;
  a.status = std::atoi(in.c_str() + 9);
  const std::size_t p = in.find("RateLimit-Policy: ");
  if (p != std::string::npos) a.policy = in.substr(p + 18, in.find("\r\n", p) - p - 18);
  return a;
}

std::string Subrequest(const std::string& client, const std::string& uri = "",
                       const std::string& method = "") {
  std::string headers = "X-Real-IP: " + client + "\r\n";
  if (!uri.empty()) headers += "X-Original-URI: " + uri + "\r\n";
  if (!method.empty()) headers += "X-Original-Method: " + method + "\r\n";
  return Request("/auth", headers);
}

int Status(const char* source, std::uint16_t port, const std::string& request) {
  const auto a = From(source, port, request);
  return a ? a->status : -1;
}

std::uint64_t Metric(const Sluiced& server, const std::string& series) {
  const auto text = server.Metrics();
  return text ? MetricSum(*text, series) : ~std::uint64_t{0};
}

TEST(E2eForwardedTest, TrustedProxyLimitsEachClaimedClient) {
  Sluiced server(Config("127.0.0.1", kPolicies));
  START_OR_SKIP(server);
  const std::uint16_t port = server.port();
  // Client A: the original request (POST /api/v1) matches api-post, burst 1.
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.1", "/api/v1?x=1", "POST")), 200);
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.1", "/api/v1", "POST")), 429);
  // Its other requests only meet per-client (burst 3, one used): two more, then 429.
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.1", "/home", "GET")), 200);
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.1", "/home", "GET")), 200);
  const auto fourth = From("127.0.0.1", port, Subrequest("198.51.100.1", "/home", "GET"));
  ASSERT_TRUE(fourth.has_value());
  EXPECT_EQ(fourth->status, 429);
  EXPECT_EQ(fourth->policy, "\"per-client\";q=3;w=10800");
  // Client B behind the same proxy has its own limits.
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.2", "/api/v1", "POST")), 200);
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("[2001:db8::7]", "/home")), 200);
  // Without X-Real-IP the client is missing: when_missing skip, so no policy applies.
  const auto anonymous = From("127.0.0.1", port, Request("/auth"));
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 200);
  EXPECT_EQ(anonymous->policy, "");
  EXPECT_EQ(Metric(server, "sluice_forwarded_client_missing_total{reason=\"absent\"}"), 1u);
  EXPECT_EQ(Metric(server, "sluice_forwarded_untrusted_total"), 0u);
}

TEST(E2eForwardedTest, UntrustedPeerHeadersAreIgnoredAndCounted) {
  Sluiced server(Config("127.0.0.1", kPolicies));
  START_OR_SKIP(server);
  const std::uint16_t port = server.port();
  // 127.0.0.2 is not trusted: every claim is the peer itself, and the request line (GET /auth)
  // decides matching, so api-post never applies.
  const auto first = From("127.0.0.2", port, Subrequest("198.51.100.1", "/api/v1", "POST"));
  if (!first.has_value()) GTEST_SKIP() << "cannot connect from 127.0.0.2";
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->policy, "\"per-client\";q=3;w=10800");
  EXPECT_EQ(Status("127.0.0.2", port, Subrequest("198.51.100.2", "/api/v1", "POST")), 200);
  EXPECT_EQ(Status("127.0.0.2", port, Subrequest("198.51.100.3", "/api/v1", "POST")), 200);
  EXPECT_EQ(Status("127.0.0.2", port, Subrequest("198.51.100.4", "/api/v1", "POST")), 429);
  EXPECT_EQ(Metric(server, "sluice_forwarded_untrusted_total"), 4u);
  // The trusted proxy's clients are untouched by all that.
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.1", "/api/v1", "POST")), 200);
  // A request without forwarded headers is not counted.
  EXPECT_EQ(Status("127.0.0.3", port, Request("/")), 200);
  EXPECT_EQ(Metric(server, "sluice_forwarded_untrusted_total"), 4u);
}

TEST(E2eForwardedTest, ReloadChangesWhoIsTrusted) {
  const std::string policy = "  - {name: per-client, key: ip, rate: 1/h, burst: 1}\n";
  Sluiced server(Config("127.0.0.2", policy));
  START_OR_SKIP(server);
  const std::uint16_t port = server.port();
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.1")), 200);
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.2")), 429);  // both are 127.0.0.1
  server.WriteConfig(Config("127.0.0.0/24", policy));
  server.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Get(server.admin_port(), Request("/config"));
        return r.has_value() && r->body.find("127.0.0.0/24") != std::string::npos;
      },
      10s))
      << server.DrainOutput();
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.3")), 200);
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.3")), 429);
  EXPECT_EQ(Status("127.0.0.1", port, Subrequest("198.51.100.4")), 200);
}

}  // namespace
}  // namespace sluice::e2e
