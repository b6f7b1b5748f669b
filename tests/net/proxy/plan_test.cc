// Proxy mode's routes (DESIGN.md "Proxy mode"): a request goes to the first route whose match
// holds (host exact and case-insensitive with its port ignored, path prefix, method); none: -1,
// which the proxy answers 404. Requests are parsed by the real parser, as the pipeline does.
#include "sluice/net/proxy/plan.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"

namespace sluice::net {
namespace {

constexpr std::string_view kConfig = R"(policies:
  - {name: p, key: ip, rate: 10/s, burst: 5}
upstreams:
  - {name: api, servers: [127.0.0.1:9000]}
  - {name: shop, servers: [127.0.0.1:9001, "[::1]:9002"]}
  - {name: rest, servers: [127.0.0.1:9003]}
routes:
  - {match: {host: api.example.com, path_prefix: /v1/}, upstream: api}
  - {match: {method: POST, path_prefix: /v1/}, upstream: shop}
  - {match: {host: Shop.Example.com}, upstream: shop}
  - {match: {path_prefix: /static/}, upstream: rest}
)";

class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = ParseConfig(kConfig, "t.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    auto plan = ProxyPlan::Build(*config);
    ASSERT_TRUE(plan.ok()) << plan.status();
    plan_ = *std::move(plan);
    ASSERT_NE(plan_, nullptr);
  }
  // The route index for `head`, parsed as the pipeline parses it.
  int RouteOf(const std::string& head) {
    const ParseResult r = ParseRequestHead(head, HttpLimits{}, request_);
    EXPECT_EQ(r.status, ParseResult::Status::kComplete) << head;
    return plan_->Match(request_);
  }
  std::unique_ptr<ProxyPlan> plan_;
  HttpRequest request_;
};

TEST_F(PlanTest, TheFirstMatchingRouteWins) {
  // Both the first and the second route match: the first wins.
  EXPECT_EQ(RouteOf("POST /v1/x HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n"),
            0);
  EXPECT_EQ(RouteOf("POST /v1/x HTTP/1.1\r\nHost: other\r\nContent-Length: 0\r\n\r\n"), 1);
  EXPECT_EQ(RouteOf("GET /v1/x HTTP/1.1\r\nHost: api.example.com\r\n\r\n"), 0);
}

TEST_F(PlanTest, HostIsExactCaseInsensitiveAndIgnoresThePort) {
  EXPECT_EQ(RouteOf("GET /v1/x HTTP/1.1\r\nHost: API.Example.COM:8080\r\n\r\n"), 0);
  EXPECT_EQ(RouteOf("GET /a HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"), 2);
  EXPECT_EQ(RouteOf("GET /a HTTP/1.1\r\nHost: shop.example.com:443\r\n\r\n"), 2);
  // Not a suffix or prefix match.
  EXPECT_EQ(RouteOf("GET /a HTTP/1.1\r\nHost: www.shop.example.com\r\n\r\n"), -1);
  EXPECT_EQ(RouteOf("GET /a HTTP/1.1\r\nHost: shop.example.co\r\n\r\n"), -1);
  // An absolute-form target's authority is the host (RFC 9112 section 3.2.2).
  EXPECT_EQ(RouteOf("GET http://shop.example.com/a HTTP/1.1\r\nHost: x\r\n\r\n"), 2);
}

TEST_F(PlanTest, MethodAndPathPrefix) {
  EXPECT_EQ(RouteOf("GET /v1/x HTTP/1.1\r\nHost: other\r\n\r\n"), -1);  // method is POST only
  EXPECT_EQ(RouteOf("GET /static/app.js HTTP/1.1\r\nHost: other\r\n\r\n"), 3);
  EXPECT_EQ(RouteOf("GET /static HTTP/1.1\r\nHost: other\r\n\r\n"), -1);  // prefix is /static/
  // The normalised path is what matches (a dot segment cannot step out of or into a route).
  EXPECT_EQ(RouteOf("GET /x/../static/a HTTP/1.1\r\nHost: other\r\n\r\n"), 3);
}

TEST_F(PlanTest, NoMatchingRouteIsNone) {
  EXPECT_EQ(RouteOf("GET / HTTP/1.1\r\nHost: other\r\n\r\n"), -1);
  EXPECT_EQ(RouteOf("GET / HTTP/1.0\r\n\r\n"), -1);
}

TEST_F(PlanTest, UpstreamsAndCounts) {
  ASSERT_EQ(plan_->upstreams().size(), 3u);
  EXPECT_EQ(plan_->routes()[2].upstream, 1u);
  EXPECT_EQ(plan_->routes()[3].upstream, 2u);
  EXPECT_EQ(plan_->server_count(), 4u);
  EXPECT_EQ(plan_->upstreams()[1].servers[1].text, "[::1]:9002");
}

TEST(PlanBuildTest, NoRoutesIsDecisionMode) {
  auto config = ParseConfig("policies:\n  - {name: p, key: ip, rate: 10/s, burst: 5}\n", "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto plan = ProxyPlan::Build(*config);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(*plan, nullptr);
}

}  // namespace
}  // namespace sluice::net
