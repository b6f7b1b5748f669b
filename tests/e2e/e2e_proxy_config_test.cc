// Proxy mode's config through the real binary: --check-config shows upstreams and routes,
// sluiced starts with routes and a reload switches decision mode to proxy mode; match.host and
// limits.body_bytes work in decision mode and appear in GET /config.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "harness.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kBase[] =
    "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\ntable: {capacity: 4096}\n"
    "limits: {body_bytes: 4096}\n"
    "policies:\n"
    "  - {name: shop, match: {host: shop.example}, key: ip, rate: 1/m, burst: 1}\n";

constexpr char kProxy[] =
    "upstreams:\n  - {name: app, servers: [127.0.0.1:9], balance: least_in_flight}\n"
    "routes:\n  - {match: {path_prefix: /api/}, upstream: app}\n  - {upstream: app}\n";

struct Outcome {
  int exit_code = -1;
  std::string out;
};

Outcome CheckConfig(const std::string& yaml) {
  char path[] = "/tmp/sluice-proxy-config-XXXXXX";
  const int fd = mkstemp(path);
  Outcome r;
  if (fd < 0) return r;
  { std::ofstream(path) << yaml; }
  const std::string command = std::string(SLUICED_PATH) + " --check-config " + path + " 2>&1";
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  close(fd);
  unlink(path);
  return r;
}

TEST(E2eProxyConfigTest, CheckConfigShowsUpstreamsAndRoutes) {
  const Outcome ok = CheckConfig(std::string(kBase) + kProxy);
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("upstream app: 127.0.0.1:9, least_in_flight"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("route * /api/* -> app"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("proxy mode: admitted requests go to the route's upstream"),
            std::string::npos)
      << ok.out;

  const Outcome bad = CheckConfig(std::string(kBase) +
                                  "upstreams:\n  - {name: app, servers: [127.0.0.1:9]}\n"
                                  "routes:\n  - {upstream: other}\n");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find(":11: route #1: upstream 'other' is not defined in upstreams"),
            std::string::npos)
      << bad.out;
}

TEST(E2eProxyConfigTest, StartsWithRoutes) {
  Sluiced server(std::string(kBase) + kProxy);
  if (server.io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
  ASSERT_TRUE(server.ok()) << server.output();
  // GET /config shows the routes in force (forwarding itself: e2e_proxy_forward_test.cc).
  auto config = Get(server.admin_port(), "GET /config HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(config);
  EXPECT_NE(config->body.find("routes"), std::string::npos) << config->body;
}

TEST(E2eProxyConfigTest, HostMatchBodyBytesAndAReloadToProxyMode) {
  Sluiced server(kBase);
  if (server.io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
  ASSERT_TRUE(server.ok()) << server.output();
  // match.host: only requests for shop.example (any case, any port) count against the policy.
  for (int i = 0; i < 3; ++i) {
    auto other = Get(server.port(), "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 200);
    EXPECT_TRUE(other->Header("ratelimit").empty());
  }
  auto first = Get(server.port(), "GET / HTTP/1.1\r\nHost: SHOP.example:8080\r\n\r\n");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  auto second = Get(server.port(), "GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);

  auto config = Get(server.admin_port(), "GET /config HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(config);
  EXPECT_NE(config->body.find("body_bytes: 4096"), std::string::npos) << config->body;
  EXPECT_NE(config->body.find("host: \"shop.example\""), std::string::npos) << config->body;
  EXPECT_EQ(config->body.find("routes"), std::string::npos) << config->body;

  // A reload to proxy mode: the routes are in force from then on.
  server.WriteConfig(std::string(kBase) + kProxy);
  server.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto c = Get(server.admin_port(), "GET /config HTTP/1.1\r\nHost: a\r\n\r\n");
        return c && c->body.find("routes") != std::string::npos;
      },
      10s))
      << server.DrainOutput();
}

}  // namespace
}  // namespace sluice::e2e
