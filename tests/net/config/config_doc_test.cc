// docs/config.md against the code: every key the loader writes back (GET /config) is
// documented, and each documented default is the one config.h holds.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "sluice/net/config/config.h"

#ifndef SLUICE_SOURCE_DIR
#error "SLUICE_SOURCE_DIR must name the source tree"
#endif

namespace sluice::net {
namespace {

std::string Doc() {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/docs/config.md");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first table row of the doc for `key` ("| `key` | ...").
std::string Row(const std::string& doc, const std::string& key) {
  const std::size_t at = doc.find("\n| `" + key + "` |");
  if (at == std::string::npos) return "";
  return doc.substr(at + 1, doc.find('\n', at + 1) - at - 1);
}

void Keys(const YAML::Node& node, std::set<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      out.insert(entry.first.Scalar());
      Keys(entry.second, out);
    }
  } else if (node.IsSequence()) {
    for (const auto& entry : node) Keys(entry, out);
  }
}

// Every optional part present, so ToYaml() writes every key it knows.
constexpr std::string_view kEverything = R"(log: {denials: /tmp/x, sample_admits: 0.5}
forwarded: {trusted: [127.0.0.1], client_ip: x-f, hops: 2, uri: x-u, method: x-m}
policies:
  - name: p
    match: {path_prefix: /a, method: GET}
    key: ip
    when_missing: deny
    rate: 1/s
    burst: 1
    mode: shadow
    forwarded: {trusted: [10.0.0.0/8], client_ip: x-r}
  - name: q
    match: {host: example.com}
    key: ip
    rate: 1/s
    burst: 1
upstreams:
  - name: app
    servers: [127.0.0.1:9000]
routes:
  - match: {host: example.com, path_prefix: /ws/, method: GET}
    upstream: app
    websocket: true
proxy: {x_forwarded_for: replace}
)";

TEST(ConfigDocTest, EveryKeyIsDocumented) {
  const std::string doc = Doc();
  ASSERT_FALSE(doc.empty()) << "docs/config.md not found";
  auto config = ParseConfig(kEverything, "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  std::set<std::string> keys;
  Keys(YAML::Load(ToYaml(*config)), keys);
  EXPECT_GE(keys.size(), 30u);
  for (const std::string& key : keys) {
    EXPECT_NE(doc.find("`" + key + "`"), std::string::npos)
        << "docs/config.md lacks `" << key << "`";
  }
}

TEST(ConfigDocTest, DocumentedDefaultsAreTheCodes) {
  const std::string doc = Doc();
  const ServerConfig d;
  const auto expect = [&](const std::string& key, const std::string& value) {
    const std::string row = Row(doc, key);
    EXPECT_NE(row.find("`" + value + "`"), std::string::npos)
        << "docs/config.md: the row of `" << key << "` should give the default `" << value
        << "`: " << row;
  };
  expect("listen", d.listen.ToString());
  expect("admin", d.admin.ToString());
  expect("threads", "auto");
  expect("capacity", absl::StrCat(d.table_capacity));
  expect("when_full", "evict");
  expect("deny_status", absl::StrCat(d.deny_status));
  expect("legacy_headers", d.legacy_headers ? "true" : "false");
  expect("header_bytes", absl::StrCat(d.limits.http.max_header_bytes));
  expect("headers", absl::StrCat(d.limits.http.max_headers));
  expect("uri_bytes", absl::StrCat(d.limits.http.max_uri_bytes));
  expect("idle_timeout_ms", absl::StrCat(d.limits.idle_timeout.count()));
  expect("header_timeout_ms", absl::StrCat(d.limits.header_timeout.count()));
  expect("connections_per_shard", absl::StrCat(d.limits.max_connections_per_shard));
  expect("output_bytes", absl::StrCat(d.limits.max_output_bytes));
  expect("body_bytes", absl::StrCat(d.limits.max_body_bytes));
  const UpstreamConfig u;
  expect("balance", "round_robin");
  expect("idle_per_shard", absl::StrCat(u.pool.idle_per_shard));
  expect("max_requests", absl::StrCat(u.pool.max_requests));
  expect("connect_ms", absl::StrCat(u.timeouts.connect.count()));
  expect("response_header_ms", absl::StrCat(u.timeouts.response_header.count()));
  expect("idle_ms", absl::StrCat(u.timeouts.idle.count()));
  expect("attempts", absl::StrCat(u.retry_attempts));
  expect("failures", absl::StrCat(u.eject_failures));
  expect("for_ms", absl::StrCat(u.eject_for.count()));
  expect("websocket", "false");
  expect("x_forwarded_for", "append");
  expect("x_real_ip", "true");
  expect("ratelimit_headers", "true");
  expect("sample_admits", absl::StrCat(d.log.sample_admits));
  expect("hops", absl::StrCat(ForwardedConfig{}.hops));
  expect("when_missing", "skip");
  expect("mode", "enforce");
  // Bounds stated in the rows.
  EXPECT_NE(Row(doc, "headers").find(absl::StrCat("1..", kMaxHeaders)), std::string::npos);
  EXPECT_NE(Row(doc, "hops").find(absl::StrCat("1..", kMaxForwardedHops)), std::string::npos);
  EXPECT_NE(Row(doc, "trusted").find(absl::StrCat("1..", kMaxTrustedPrefixes)), std::string::npos);
  EXPECT_NE(Row(doc, "policies").find(absl::StrCat("1..", kMaxPolicies)), std::string::npos);
  // The embedded default policy.
  const ServerConfig embedded = EmbeddedDefault();
  const ServerPolicy& p = embedded.policies.at(0);
  EXPECT_NE(doc.find(absl::StrCat("{name: ", p.name, ", key: ip, rate: ", p.rate.ToString(),
                                  ", burst: ", p.burst, "}")),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::net
