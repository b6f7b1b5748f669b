// The config file: DESIGN.md's example and every field parse; every error names its line.
#include "sluice/net/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "net/config/config_test_support.h"

namespace sluice::net {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::Errors;
using testing_support::kDesignExample;
using testing_support::WithPolicy;

TEST(ConfigTest, DesignExampleParses) {
  auto parsed = ParseConfig(kDesignExample, "design.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ServerConfig& c = *parsed;
  EXPECT_EQ(c.source, "design.yaml");
  EXPECT_EQ(c.listen, (ListenAddress{"0.0.0.0", 8080}));
  EXPECT_EQ(c.admin, (ListenAddress{"127.0.0.1", 9901}));
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.table_capacity, 1048576u);
  EXPECT_EQ(c.when_full, WhenFull::kEvict);
  EXPECT_EQ(c.deny_status, 429);
  EXPECT_FALSE(c.legacy_headers);
  EXPECT_EQ(c.limits, ServerLimits{});
  EXPECT_EQ(c.log, LogConfig{});
  ASSERT_EQ(c.policies.size(), 2u);

  ServerPolicy per_ip;
  per_ip.name = "per-ip";
  per_ip.key = {KeyPart{KeyPartKind::kIp, ""}};
  per_ip.rate = Rate{100, seconds(1)};
  per_ip.burst = 50;
  per_ip.line = 7;
  EXPECT_EQ(c.policies[0], per_ip);

  ServerPolicy api;
  api.name = "api-key";
  api.match = {"/api/", "POST"};
  api.key = {KeyPart{KeyPartKind::kHeader, "x-api-key"}};
  api.when_missing = WhenMissing::kSkip;
  api.rate = Rate{1000, minutes(1)};
  api.burst = 100;
  api.mode = PolicyMode::kEnforce;
  api.line = 11;
  EXPECT_EQ(c.policies[1], api);
}

TEST(ConfigTest, EveryFieldParses) {
  constexpr std::string_view kYaml = R"(listen: "[::1]:0"
admin: "[::]:9000"
threads: 4
table:
  capacity: 256
  when_full: deny
response:
  deny_status: 503
  legacy_headers: true
limits:
  header_bytes: 4096
  headers: 32
  uri_bytes: 1024
  idle_timeout_ms: 5000
  header_timeout_ms: 2000
  connections_per_shard: 100
  output_bytes: 8192
log:
  denials: /var/log/sluice/denials.jsonl
  sample_admits: 0.01
policies:
  - name: combo
    match:
      path_prefix: /v1/
    key: [ip/64, header:X-Tenant, path, method]
    when_missing: ip
    rate: 5/h
    burst: 3
    mode: shadow
  - name: daily
    key: [ip]
    when_missing: deny
    rate: 7/d
    burst: 7
)";
  auto parsed = ParseConfig(kYaml, "all.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ServerConfig& c = *parsed;
  EXPECT_EQ(c.listen, (ListenAddress{"::1", 0}));
  EXPECT_EQ(c.admin, (ListenAddress{"::", 9000}));
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.table_capacity, 256u);
  EXPECT_EQ(c.when_full, WhenFull::kDeny);
  EXPECT_EQ(c.deny_status, 503);
  EXPECT_TRUE(c.legacy_headers);
  EXPECT_EQ(c.limits.http.max_header_bytes, 4096u);
  EXPECT_EQ(c.limits.http.max_headers, 32u);
  EXPECT_EQ(c.limits.http.max_uri_bytes, 1024u);
  EXPECT_EQ(c.limits.idle_timeout, milliseconds(5000));
  EXPECT_EQ(c.limits.header_timeout, milliseconds(2000));
  EXPECT_EQ(c.limits.max_connections_per_shard, 100u);
  EXPECT_EQ(c.limits.max_output_bytes, 8192u);
  EXPECT_EQ(c.log.denials_path, "/var/log/sluice/denials.jsonl");
  EXPECT_EQ(c.log.sample_admits, 0.01);
  ASSERT_EQ(c.policies.size(), 2u);
  const ServerPolicy& p = c.policies[0];
  EXPECT_EQ(p.match, (PolicyMatch{"/v1/", ""}));
  EXPECT_THAT(p.key,
              ElementsAre(KeyPart{KeyPartKind::kIp64, ""},
                          KeyPart{KeyPartKind::kHeader, "x-tenant"},  // lower-cased
                          KeyPart{KeyPartKind::kPath, ""}, KeyPart{KeyPartKind::kMethod, ""}));
  EXPECT_EQ(p.when_missing, WhenMissing::kIp);
  EXPECT_EQ(p.rate, (Rate{5, hours(1)}));
  EXPECT_EQ(p.burst, 3u);
  EXPECT_EQ(p.mode, PolicyMode::kShadow);
  EXPECT_EQ(p.line, 22);
  EXPECT_EQ(c.policies[1].when_missing, WhenMissing::kDeny);
  EXPECT_EQ(c.policies[1].rate, (Rate{7, hours(24)}));
  EXPECT_EQ(c.policies[1].line, 30);
}

TEST(ConfigTest, SyntaxErrorReportsItsLine) {
  EXPECT_THAT(Errors("listen: 127.0.0.1:1\n\tthreads: 2\n"),
              ElementsAre(HasSubstr("t.yaml:2: YAML syntax error: illegal tab")));
  EXPECT_THAT(Errors("listen: 127.0.0.1:1\npolicies:\n  - name: a\n   key: ip\n"),
              ElementsAre(HasSubstr("t.yaml:4: YAML syntax error: ")));
}

TEST(ConfigTest, EmptyAndNonMappingDocuments) {
  EXPECT_THAT(Errors(""), ElementsAre(HasSubstr("t.yaml:1: the config is empty")));
  EXPECT_THAT(Errors("# only a comment\n"),
              ElementsAre(HasSubstr("t.yaml:1: the config is empty")));
  EXPECT_THAT(Errors("- a\n- b\n"),
              ElementsAre("t.yaml:1: the config must be a mapping (key: value)"));
  EXPECT_THAT(Errors("listen: 127.0.0.1:1\n"),
              ElementsAre("t.yaml:1: missing key 'policies' (at least one policy is needed)"));
  EXPECT_THAT(Errors(WithPolicy("---\n") + "---\nlisten: x\n"),
              ElementsAre(HasSubstr("only one YAML document")));
}

TEST(ConfigTest, UnknownKeysAreErrorsAtEveryLevel) {
  EXPECT_THAT(Errors(WithPolicy("lisen: 0.0.0.0:1\n")),
              ElementsAre(HasSubstr("t.yaml:1: unknown key 'lisen' in the config (expected listen, "
                                    "admin, threads")));
  EXPECT_THAT(Errors(WithPolicy("table: {capacity: 5, when_ful: evict}\n")),
              ElementsAre("t.yaml:1: unknown key 'when_ful' in table (expected capacity, "
                          "when_full)"));
  EXPECT_THAT(Errors(WithPolicy("response:\n  deny: 429\n")),
              ElementsAre(HasSubstr("t.yaml:2: unknown key 'deny' in response")));
  EXPECT_THAT(Errors(WithPolicy("limits:\n  headers: 10\n  header_byte: 1000\n")),
              ElementsAre(HasSubstr("t.yaml:3: unknown key 'header_byte' in limits")));
  EXPECT_THAT(Errors(WithPolicy("log: {denial: /tmp/x}\n")),
              ElementsAre(HasSubstr("t.yaml:1: unknown key 'denial' in log")));
  EXPECT_THAT(Errors("policies:\n  - name: a\n    key: ip\n    rate: 1/s\n    burst: 2\n"
                     "    brust: 3\n"),
              ElementsAre(HasSubstr("t.yaml:6: unknown key 'brust' in policy #1")));
  EXPECT_THAT(Errors("policies:\n  - name: a\n    match: {path: /x}\n    key: ip\n    rate: 1/s\n"
                     "    burst: 2\n"),
              ElementsAre(HasSubstr("t.yaml:3: unknown key 'path' in policy 'a' match")));
}

TEST(ConfigTest, DuplicateKeysAreErrors) {
  EXPECT_THAT(Errors(WithPolicy("threads: 2\nthreads: 3\n")),
              ElementsAre("t.yaml:2: duplicate key 'threads' in the config (first at line 1)"));
}

TEST(ConfigTest, ServerSettingErrorsNameTheirLine) {
  EXPECT_THAT(Errors(WithPolicy("listen: 0.0.0.0\n")),
              ElementsAre(HasSubstr("t.yaml:1: listen: address '0.0.0.0': missing ':PORT'")));
  EXPECT_THAT(Errors(WithPolicy("\nadmin: 127.0.0.1:70000\n")),
              ElementsAre(HasSubstr("t.yaml:2: admin: address '127.0.0.1:70000': port must be")));
  EXPECT_THAT(Errors(WithPolicy("listen:\n")), ElementsAre("t.yaml:1: listen: missing value"));
  EXPECT_THAT(Errors(WithPolicy("threads: 0\n")),
              ElementsAre(HasSubstr("t.yaml:1: threads (auto or a number): 0 is out of range "
                                    "[1, 1024]")));
  EXPECT_THAT(Errors(WithPolicy("threads: many\n")),
              ElementsAre(HasSubstr("'many' is not a whole number")));
  EXPECT_THAT(Errors(WithPolicy("table: {capacity: 0}\n")),
              ElementsAre(HasSubstr("t.yaml:1: table capacity: 0 is out of range")));
  EXPECT_THAT(Errors(WithPolicy("table: {when_full: drop}\n")),
              ElementsAre(HasSubstr("t.yaml:1: table when_full: 'drop' is not one of")));
  EXPECT_THAT(Errors(WithPolicy("table: 5\n")),
              ElementsAre("t.yaml:1: table must be a mapping (key: value)"));
  EXPECT_THAT(Errors(WithPolicy("response: {deny_status: 200}\n")),
              ElementsAre(HasSubstr("t.yaml:1: response deny_status: 200 is out of range "
                                    "[400, 599]")));
  EXPECT_THAT(Errors(WithPolicy("response: {legacy_headers: maybe}\n")),
              ElementsAre(HasSubstr("'maybe' is not true or false")));
  EXPECT_THAT(Errors(WithPolicy("limits: {header_bytes: 100}\n")),
              ElementsAre(HasSubstr("limits header_bytes: 100 is out of range [256, 1048576]")));
  EXPECT_THAT(Errors(WithPolicy("limits: {headers: 1000}\n")),
              ElementsAre(HasSubstr("limits headers: 1000 is out of range [1, 128]")));
  EXPECT_THAT(Errors(WithPolicy("limits: {idle_timeout_ms: -1}\n")),
              ElementsAre(HasSubstr("limits idle_timeout_ms: '-1' is not a whole number")));
  EXPECT_THAT(Errors(WithPolicy("log: {sample_admits: 1.5}\n")),
              ElementsAre(HasSubstr("log sample_admits: '1.5' is not a number in [0, 1]")));
  EXPECT_THAT(Errors(WithPolicy("log: {sample_admits: nan}\n")),
              ElementsAre(HasSubstr("log sample_admits: 'nan'")));
}

TEST(ConfigTest, PolicyErrorsNameThePolicyAndLine) {
  const auto policy = [](const std::string& body) {
    return absl::StrCat("policies:\n  - name: a\n", body);
  };
  EXPECT_THAT(Errors(policy("    key: ip\n    rate: 10/x\n    burst: 2\n")),
              ElementsAre(HasSubstr("t.yaml:4: policy 'a': rate '10/x': unknown unit 'x'")));
  EXPECT_THAT(Errors(policy("    key: ip\n    rate: 1/s\n    burst: 0\n")),
              ElementsAre(HasSubstr("t.yaml:5: policy 'a' burst: 0 is out of range")));
  EXPECT_THAT(Errors(policy("    key: ip\n    rate: 2000000000/s\n    burst: 1\n")),
              ElementsAre(HasSubstr("t.yaml:4: policy 'a': ")));
  // b*T above the engine's 73 years: caught at load, so a loaded config always builds.
  EXPECT_THAT(Errors(policy("    key: ip\n    rate: 1/d\n    burst: 100000\n")),
              ElementsAre(HasSubstr("t.yaml:4: policy 'a': ")));
  EXPECT_THAT(Errors(policy("    key: [ip, cookie]\n    rate: 1/s\n    burst: 1\n")),
              ElementsAre(HasSubstr("t.yaml:3: policy 'a' key: 'cookie' is not a key part")));
  EXPECT_THAT(Errors(policy("    key: 'header:x y'\n    rate: 1/s\n    burst: 1\n")),
              ElementsAre(HasSubstr("is not a valid header name")));
  EXPECT_THAT(Errors(policy("    key: []\n    rate: 1/s\n    burst: 1\n")),
              ElementsAre(HasSubstr("t.yaml:3: policy 'a' key: at least one part")));
  EXPECT_THAT(Errors(policy("    key: ip\n    when_missing: allow\n    rate: 1/s\n    burst: 1\n")),
              ElementsAre(HasSubstr("t.yaml:4: policy 'a': when_missing 'allow' is not one of")));
  EXPECT_THAT(Errors(policy("    key: ip\n    mode: dry-run\n    rate: 1/s\n    burst: 1\n")),
              ElementsAre(HasSubstr("t.yaml:4: policy 'a': mode 'dry-run' is not one of")));
  EXPECT_THAT(Errors(policy("    match: {path_prefix: api/}\n    key: ip\n    rate: 1/s\n"
                            "    burst: 1\n")),
              ElementsAre(HasSubstr("t.yaml:3: policy 'a' match: path_prefix 'api/' must start "
                                    "with '/'")));
  EXPECT_THAT(Errors(policy("    match: {method: post}\n    key: ip\n    rate: 1/s\n"
                            "    burst: 1\n")),
              ElementsAre(HasSubstr("HTTP methods are case-sensitive (use 'POST')")));
  EXPECT_THAT(Errors(policy("    rate: 1/s\n")),
              ElementsAre("t.yaml:2: policy 'a': missing key 'key'",
                          "t.yaml:2: policy 'a': missing key 'burst'"));
  EXPECT_THAT(Errors("policies:\n  - key: ip\n    rate: 1/s\n    burst: 1\n"),
              ElementsAre("t.yaml:2: policy #1: missing key 'name'"));
  EXPECT_THAT(Errors("policies:\n  - name: 'a b'\n    key: ip\n    rate: 1/s\n    burst: 1\n"),
              ElementsAre(HasSubstr("t.yaml:2: policy #1: name 'a b' must be")));
}

TEST(ConfigTest, PolicyListErrors) {
  EXPECT_THAT(Errors("policies: []\n"),
              ElementsAre("t.yaml:1: policies: at least one policy is needed"));
  EXPECT_THAT(Errors("policies: {name: a}\n"), ElementsAre(HasSubstr("t.yaml:1: policies must be "
                                                                     "a list")));
  EXPECT_THAT(Errors("policies:\n  - {name: a, key: ip, rate: 1/s, burst: 1}\n"
                     "  - {name: b, key: ip, rate: 1/s, burst: 1}\n"
                     "  - {name: a, key: ip, rate: 2/s, burst: 1}\n"),
              ElementsAre("t.yaml:4: policy 'a' is defined twice (first at line 2)"));
  std::string many = "policies:\n";
  for (std::size_t i = 0; i <= kMaxPolicies; ++i) {
    absl::StrAppend(&many, "  - {name: p", i, ", key: ip, rate: 1/s, burst: 1}\n");
  }
  EXPECT_THAT(Errors(many), ElementsAre(HasSubstr("t.yaml:2: policies: 65 policies, at most 64")));
}

TEST(ConfigTest, AllErrorsAreReportedInLineOrder) {
  constexpr std::string_view kYaml = R"(listen: 0.0.0.0:99999
threads: -3
table: {capacity: 10, when_full: evict, extra: 1}
response: {deny_status: 700}
policies:
  - name: ok
    key: ip
    rate: 10/s
    burst: 5
  - name: bad
    key: [ip, nope]
    rate: 10/fortnight
    burst: 0
  - name: ok
    key: ip
    rate: 1/s
    burst: 1
)";
  EXPECT_THAT(
      Errors(kYaml),
      ElementsAre(HasSubstr("t.yaml:1: listen: address '0.0.0.0:99999'"),
                  HasSubstr("t.yaml:2: threads (auto or a number): '-3' is not a whole number"),
                  HasSubstr("t.yaml:3: unknown key 'extra' in table"),
                  HasSubstr("t.yaml:4: response deny_status: 700 is out of range"),
                  HasSubstr("t.yaml:11: policy 'bad' key: 'nope' is not a key part"),
                  HasSubstr("t.yaml:12: policy 'bad': rate '10/fortnight'"),
                  HasSubstr("t.yaml:13: policy 'bad' burst: 0 is out of range"),
                  "t.yaml:14: policy 'ok' is defined twice (first at line 6)"));
}

}  // namespace
}  // namespace sluice::net
