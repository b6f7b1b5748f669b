// Proxy mode's config (upstreams, routes, proxy, limits.body_bytes, match.host): DESIGN.md's
// example parses to exactly its meaning, defaults, the ToYaml round trip, every error with its
// line, and configs without routes unchanged.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/net/config/config.h"

namespace sluice::net {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kPolicies = R"(policies:
  - {name: p, key: ip, rate: 10/s, burst: 5}
)";

std::string WithPolicies(std::string_view rest) {
  return std::string(kPolicies) + std::string(rest);
}

TEST(ProxyConfigTest, DesignExampleParses) {
  const std::string yaml = WithPolicies(R"(upstreams:
  - name: app
    servers: [127.0.0.1:9000, "[::1]:9001"]
    balance: least_in_flight
    pool: {idle_per_shard: 32, max_requests: 10000, idle_timeout_ms: 50000}
    timeouts: {connect_ms: 1000, response_header_ms: 30000, idle_ms: 60000}
    retry: {attempts: 1}
    eject: {failures: 5, for_ms: 30000}
routes:
  - match: {host: API.example.com, path_prefix: /ws/}
    upstream: app
    websocket: true
  - upstream: app
proxy:
  x_forwarded_for: append
  x_real_ip: true
  ratelimit_headers: true
limits: {body_bytes: 1048576}
)");
  auto config = ParseConfig(yaml, "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->upstreams.size(), 1u);
  const UpstreamConfig& u = config->upstreams[0];
  EXPECT_EQ(u.name, "app");
  ASSERT_EQ(u.servers.size(), 2u);
  EXPECT_EQ(u.servers[0].ToString(), "127.0.0.1:9000");
  EXPECT_EQ(u.servers[1].ToString(), "[::1]:9001");
  EXPECT_EQ(u.balance, Balance::kLeastInFlight);
  EXPECT_EQ(u.pool.idle_per_shard, 32u);
  EXPECT_EQ(u.pool.max_requests, 10000u);
  EXPECT_EQ(u.pool.idle_timeout, milliseconds(50000));
  EXPECT_EQ(u.timeouts.connect, milliseconds(1000));
  EXPECT_EQ(u.timeouts.response_header, milliseconds(30000));
  EXPECT_EQ(u.timeouts.idle, milliseconds(60000));
  EXPECT_EQ(u.retry_attempts, 1u);
  EXPECT_EQ(u.eject_failures, 5u);
  EXPECT_EQ(u.eject_for, milliseconds(30000));
  EXPECT_EQ(u.line, 4);
  ASSERT_EQ(config->routes.size(), 2u);
  EXPECT_EQ(config->routes[0].match.host, "api.example.com");  // case-insensitive: lowered
  EXPECT_EQ(config->routes[0].match.path_prefix, "/ws/");
  EXPECT_TRUE(config->routes[0].websocket);
  EXPECT_EQ(config->routes[0].line, 12);
  EXPECT_EQ(config->routes[1].upstream, "app");
  EXPECT_FALSE(config->routes[1].websocket);
  EXPECT_EQ(config->proxy, ProxyConfig{});
  EXPECT_EQ(config->limits.max_body_bytes, 1048576u);

  // What /config shows reads back to the same config.
  auto again = ParseConfig(ToYaml(*config), "again.yaml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << ToYaml(*config);
  again->source = config->source;
  for (auto& x : again->upstreams) x.line = 0;
  for (auto& x : again->routes) x.line = 0;
  for (auto& x : again->policies) x.line = 0;
  ServerConfig expected = *config;
  for (auto& x : expected.upstreams) x.line = 0;
  for (auto& x : expected.routes) x.line = 0;
  for (auto& x : expected.policies) x.line = 0;
  EXPECT_EQ(*again, expected);
  const std::string summary = Summary(*config);
  EXPECT_NE(summary.find("upstream app: 127.0.0.1:9000 [::1]:9001, least_in_flight"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("route api.example.com * /ws/* -> app (websocket)"), std::string::npos)
      << summary;
}

TEST(ProxyConfigTest, DefaultsAndOtherSpellings) {
  auto config = ParseConfig(WithPolicies(R"(upstreams:
  - {name: a, servers: 10.0.0.1:80}
routes:
  - {match: {method: POST, path_prefix: /api/}, upstream: a}
  - {upstream: a}
proxy: {x_forwarded_for: replace, x_real_ip: false, ratelimit_headers: false}
)"),
                            "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  const UpstreamConfig& u = config->upstreams.at(0);
  EXPECT_EQ(u.servers.size(), 1u);  // a single server without brackets
  EXPECT_EQ(u.balance, Balance::kRoundRobin);
  EXPECT_EQ(u.pool, UpstreamPool{});
  EXPECT_EQ(u.timeouts, UpstreamTimeouts{});
  EXPECT_EQ(u.retry_attempts, 1u);
  EXPECT_EQ(config->routes.at(0).match.method, "POST");
  EXPECT_EQ(config->proxy.x_forwarded_for, XForwardedFor::kReplace);
  EXPECT_FALSE(config->proxy.x_real_ip);
  EXPECT_FALSE(config->proxy.ratelimit_headers);
  EXPECT_EQ(config->limits.max_body_bytes, std::uint64_t{1} << 20);
}

TEST(ProxyConfigTest, PoliciesMatchOnHostToo) {
  auto config = ParseConfig(R"(policies:
  - {name: p, match: {host: Shop.Example.com}, key: ip, rate: 1/s, burst: 1}
)",
                            "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->policies[0].match.host, "shop.example.com");
  EXPECT_NE(ToYaml(*config).find("host: \"shop.example.com\""), std::string::npos);
}

TEST(ProxyConfigTest, WithoutRoutesNothingChanges) {
  auto config = ParseConfig(std::string(kPolicies), "t.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->routes.empty());
  const std::string yaml = ToYaml(*config);
  EXPECT_EQ(yaml.find("upstreams"), std::string::npos);
  EXPECT_EQ(yaml.find("routes"), std::string::npos);
  EXPECT_EQ(yaml.find("proxy"), std::string::npos);
}

struct ErrorCase {
  std::string yaml;     // after the policies
  std::string message;  // "t.yaml:LINE: ..." (policies take lines 1-2)
};

TEST(ProxyConfigTest, EveryErrorWithItsLine) {
  const std::string up = "upstreams:\n  - {name: a, servers: [127.0.0.1:9000]}\n";
  const std::vector<ErrorCase> cases = {
      {"upstreams:\n  - {name: a, servers: [127.0.0.1:1], weight: 2}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: unknown key 'weight' in upstream #1 (expected name, servers, balance, pool, "
       "timeouts, retry, eject)"},
      {"upstreams:\n  - {name: a, servers: [localhost:80]}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a' servers: "},
      {"upstreams:\n  - {name: a, servers: [127.0.0.1]}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a' servers: "},
      {"upstreams:\n  - {name: a, servers: [127.0.0.1:0]}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a' servers: '127.0.0.1:0' needs a port"},
      {"upstreams:\n  - {name: a, servers: [127.0.0.1:1, 127.0.0.1:1]}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a' servers: '127.0.0.1:1' is listed twice"},
      {"upstreams:\n  - {name: a, servers: []}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a' servers: at least one server is needed"},
      {"upstreams:\n  - {name: a}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a': missing key 'servers'"},
      {"upstreams:\n  - {servers: [127.0.0.1:1]}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream #1: missing key 'name'"},
      {up + "  - {name: a, servers: [127.0.0.1:2]}\nroutes: [{upstream: a}]\n",
       "t.yaml:5: upstream 'a' is defined twice (first at line 4)"},
      {"upstreams:\n  - {name: 'a b', servers: [127.0.0.1:2]}\nroutes: [{upstream: a}]\n",
       "t.yaml:4: upstream #1: name 'a b' must be"},
      {"upstreams:\n  - {name: a, servers: [127.0.0.1:2], balance: random}\n"
       "routes: [{upstream: a}]\n",
       "t.yaml:4: upstream 'a': balance 'random' is not one of round_robin, least_in_flight"},
      {"upstreams:\n  - name: a\n    servers: [127.0.0.1:2]\n    pool: {idle_per_shard: 5000}\n"
       "routes: [{upstream: a}]\n",
       "t.yaml:6: upstream 'a' pool idle_per_shard: 5000 is out of range [0, 4096]"},
      {"upstreams:\n  - name: a\n    servers: [127.0.0.1:2]\n    timeouts: {connect_ms: 0}\n"
       "routes: [{upstream: a}]\n",
       "t.yaml:6: upstream 'a' timeouts connect_ms: 0 is out of range [1, 86400000]"},
      {"upstreams:\n  - name: a\n    servers: [127.0.0.1:2]\n    timeouts: {read_ms: 1}\n"
       "routes: [{upstream: a}]\n",
       "t.yaml:6: unknown key 'read_ms' in upstream 'a' timeouts"},
      {"upstreams:\n  - name: a\n    servers: [127.0.0.1:2]\n    retry: {attempts: 11}\n"
       "routes: [{upstream: a}]\n",
       "t.yaml:6: upstream 'a' retry attempts: 11 is out of range [0, 10]"},
      {"upstreams:\n  - name: a\n    servers: [127.0.0.1:2]\n    eject: {failures: 1, for: 2}\n"
       "routes: [{upstream: a}]\n",
       "t.yaml:6: unknown key 'for' in upstream 'a' eject (expected failures, for_ms)"},
      {up, "t.yaml:4: upstreams are used only by routes"},
      {"routes: [{upstream: a}]\n", "t.yaml:3: route #1: upstream 'a' is not defined in upstreams"},
      {up + "routes: []\n", "t.yaml:5: routes: at least one route is needed"},
      {up + "routes:\n  - {upstream: a}\n  - {upstream: a, match: {method: GET}}\n",
       "t.yaml:7: route #2 is never used: the route at line 6 matches every request"},
      {up + "routes:\n  - {upstream: a, match: {host: 'a.com:80'}}\n",
       "t.yaml:6: route #1 match: host 'a.com:80' must be a host name or IP address without a "
       "port"},
      {up + "routes:\n  - {upstream: a, match: {path: /x}}\n",
       "t.yaml:6: unknown key 'path' in route #1 match (expected host, path_prefix, method, "
       "case_insensitive)"},
      {up + "routes:\n  - {upstream: a, websocket: yes please}\n", "t.yaml:6: route #1 websocket"},
      {up + "routes:\n  - {match: {method: GET}}\n", "t.yaml:6: route #1: missing key 'upstream'"},
      {up + "routes: [{upstream: a}]\nproxy: {x_forwarded_for: prepend}\n",
       "t.yaml:6: proxy: x_forwarded_for 'prepend' is not one of append, replace, off"},
      {up + "routes: [{upstream: a}]\nproxy: {via: true}\n",
       "t.yaml:6: unknown key 'via' in proxy (expected x_forwarded_for, x_real_ip, "
       "ratelimit_headers)"},
      {"limits: {body_bytes: 1099511627777}\n",
       "t.yaml:3: limits body_bytes: 1099511627777 is out of range [0, 1099511627776]"},
  };
  for (const ErrorCase& c : cases) {
    const auto config = ParseConfig(WithPolicies(c.yaml), "t.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_NE(std::string(config.status().message()).find(c.message), std::string::npos)
        << "want: " << c.message << "\ngot:  " << config.status().message();
  }
}

}  // namespace
}  // namespace sluice::net
