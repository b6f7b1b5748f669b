#include "sluice/net/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::net {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The example of DESIGN.md, verbatim.
constexpr std::string_view kDesignExample = R"(listen: 0.0.0.0:8080
admin: 127.0.0.1:9901
threads: auto
table: {capacity: 1048576, when_full: evict}
response: {deny_status: 429, legacy_headers: false}
policies:
  - name: per-ip
    key: ip                      # ip | ip/64 (IPv6 prefix) | header:NAME | path | method | a list of these
    rate: 100/s                  # N/s | N/m | N/h | N/d
    burst: 50
  - name: api-key
    match: {path_prefix: /api/, method: POST}
    key: [header:x-api-key]
    when_missing: skip           # skip | deny | ip
    rate: 1000/m
    burst: 100
    mode: enforce                # enforce | shadow (count, never deny)
)";

// The error lines of a config that must not load.
std::vector<std::string> Errors(std::string_view yaml) {
  auto config = ParseConfig(yaml, "t.yaml");
  EXPECT_FALSE(config.ok()) << "loaded:\n" << yaml;
  if (config.ok()) return {};
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(std::string(config.status().message()), '\n');
}

// A valid one-policy config with `extra` spliced in at the top level (line 1 onwards).
std::string WithPolicy(const std::string& extra) {
  return absl::StrCat(extra, "policies:\n  - {name: p, key: ip, rate: 1/s, burst: 1}\n");
}

ServerConfig WithoutLines(ServerConfig c) {
  c.source.clear();
  for (ServerPolicy& p : c.policies) p.line = 0;
  return c;
}

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

TEST(ConfigTest, ListenAddressParse) {
  EXPECT_EQ(*ListenAddress::Parse("127.0.0.1:8080"), (ListenAddress{"127.0.0.1", 8080}));
  EXPECT_EQ(*ListenAddress::Parse("0.0.0.0:0"), (ListenAddress{"0.0.0.0", 0}));
  EXPECT_EQ(*ListenAddress::Parse("[::1]:65535"), (ListenAddress{"::1", 65535}));
  EXPECT_EQ(*ListenAddress::Parse("[::]:80"), (ListenAddress{"::", 80}));
  for (const char* bad :
       {"", "8080", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:80a", "127.0.0.1: 80", "::1:80", "[::1]", "[::1]80", "[::1:80", "[]:80",
        "[127.0.0.1]:80", "localhost:80", "256.0.0.1:80", "127.0.0.1:99999999999999999999999"}) {
    EXPECT_FALSE(ListenAddress::Parse(bad).ok()) << bad;
  }
  EXPECT_EQ((ListenAddress{"::1", 8080}).ToString(), "[::1]:8080");
  EXPECT_EQ((ListenAddress{"10.1.2.3", 1}).ToString(), "10.1.2.3:1");
}

TEST(ConfigTest, KeyPartParseAndToString) {
  for (const char* text : {"ip", "ip/64", "path", "method", "header:x-api-key"}) {
    auto part = KeyPart::Parse(text);
    ASSERT_TRUE(part.ok()) << text;
    EXPECT_EQ(part->ToString(), text);
  }
  EXPECT_EQ(*KeyPart::Parse("header:X-Api-Key"), (KeyPart{KeyPartKind::kHeader, "x-api-key"}));
  for (const char* bad : {"", "IP", "ip/48", "header:", "header:a:b", "header:a b", "cookie"}) {
    EXPECT_FALSE(KeyPart::Parse(bad).ok()) << bad;
  }
}

TEST(ConfigTest, EmbeddedDefault) {
  const ServerConfig c = EmbeddedDefault();
  EXPECT_EQ(c.listen, (ListenAddress{"127.0.0.1", 8080}));
  EXPECT_EQ(c.admin, (ListenAddress{"127.0.0.1", 9901}));
  EXPECT_EQ(c.threads, 0u);
  ASSERT_EQ(c.policies.size(), 1u);
  EXPECT_EQ(c.policies[0].name, "per-ip");
  EXPECT_THAT(c.policies[0].key, ElementsAre(KeyPart{KeyPartKind::kIp, ""}));
  EXPECT_EQ(c.policies[0].rate, (Rate{10, seconds(1)}));
  EXPECT_EQ(c.policies[0].burst, 20u);
  EXPECT_EQ(c.policies[0].mode, PolicyMode::kEnforce);
  // It is a config like any other: it survives its own YAML.
  auto back = ParseConfig(ToYaml(c), "default");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(WithoutLines(*back), WithoutLines(c));
}

TEST(ConfigTest, ToYamlRoundTrips) {
  auto design = ParseConfig(kDesignExample, "design.yaml");
  ASSERT_TRUE(design.ok());
  ServerConfig c = *design;
  c.listen = {"::", 0};
  c.threads = 12;
  c.table_capacity = 1000;
  c.when_full = WhenFull::kAllow;
  c.deny_status = 503;
  c.legacy_headers = true;
  c.limits.http = {1000, 17, 300};
  c.limits.idle_timeout = milliseconds(1234);
  c.limits.header_timeout = milliseconds(99);
  c.limits.max_connections_per_shard = 7;
  c.limits.max_output_bytes = 4096;
  c.log = {"/tmp/with space/and \"quotes\" #hash: colon.jsonl", 0.1};
  c.policies[0].key = {KeyPart{KeyPartKind::kIp64, ""}, KeyPart{KeyPartKind::kMethod, ""}};
  c.policies[0].when_missing = WhenMissing::kDeny;
  c.policies[0].mode = PolicyMode::kShadow;
  c.policies[1].match = {"/a:b,[c]{d}&e='f'*!%", ""};
  c.policies[1].rate = Rate{3, hours(24)};
  c.policies[1].when_missing = WhenMissing::kIp;

  const std::string yaml = ToYaml(c);
  auto back = ParseConfig(yaml, "roundtrip");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(WithoutLines(*back), WithoutLines(c)) << yaml;
  EXPECT_EQ(ToYaml(*back), yaml);
}

// Found by fuzz/config_fuzz: yaml-cpp reads invalid UTF-8 as raw bytes but writes U+FFFD for
// it, so such a log path loaded fine and GET /config then showed (and re-read) another path.
TEST(ConfigTest, InvalidUtf8IsRefusedAndValidUtf8RoundTrips) {
  EXPECT_THAT(Errors(WithPolicy("log: {denials: /tmp/d\xe9v}\n")),
              ElementsAre(HasSubstr("t.yaml:1: log denials: not valid UTF-8 text")));
  for (const char* bad : {"\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_FALSE(ParseConfig(WithPolicy(absl::StrCat("log: {denials: /x", bad, "y}\n")), "t").ok())
        << bad;
  }
  // "/t/\u00e9\u20ac\U0001F600" in UTF-8: accepted, and the same bytes come back from ToYaml().
  auto good =
      ParseConfig(WithPolicy("log: {denials: \"/t/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n"), "t");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->log.denials_path, "/t/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  auto back = ParseConfig(ToYaml(*good), "roundtrip");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->log.denials_path, good->log.denials_path);
}

TEST(ConfigTest, OverridesReplaceFields) {
  ServerConfig c = EmbeddedDefault();
  CliOverrides o;
  o.listen = "0.0.0.0:0";
  o.admin = "[::1]:9";
  o.threads = "3";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.listen, (ListenAddress{"0.0.0.0", 0}));
  EXPECT_EQ(c.admin, (ListenAddress{"::1", 9}));
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.policies, EmbeddedDefault().policies);

  o = {};
  o.threads = "auto";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  EXPECT_EQ(c.threads, 0u);

  o = {};
  o.rate = "5/m";
  o.burst = 2;
  o.key = "ip, header:X-User";
  ASSERT_TRUE(ApplyOverrides(o, c).ok());
  ASSERT_EQ(c.policies.size(), 1u);
  EXPECT_EQ(c.policies[0].name, "cli");
  EXPECT_EQ(c.policies[0].rate, (Rate{5, minutes(1)}));
  EXPECT_EQ(c.policies[0].burst, 2u);
  EXPECT_THAT(c.policies[0].key,
              ElementsAre(KeyPart{KeyPartKind::kIp, ""}, KeyPart{KeyPartKind::kHeader, "x-user"}));
}

TEST(ConfigTest, OverrideErrorsLeaveTheConfigUnchanged) {
  const ServerConfig original = EmbeddedDefault();
  ServerConfig c = original;
  CliOverrides o;
  o.rate = "5/s";
  absl::Status s = ApplyOverrides(o, c);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("--rate, --burst and --key go together: missing --burst, --key"));
  EXPECT_EQ(c, original);

  o = {};
  o.listen = "nowhere";
  o.threads = "0";
  o.rate = "5/x";
  o.burst = 0;
  o.key = "ip,bogus";
  s = ApplyOverrides(o, c);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(absl::StrSplit(std::string(s.message()), '\n'),
              ElementsAre(HasSubstr("--listen: address 'nowhere'"), HasSubstr("--threads: '0'"),
                          HasSubstr("--rate: rate '5/x'"), "--burst: must be at least 1",
                          HasSubstr("--key: 'bogus' is not a key part")));
  EXPECT_EQ(c, original);

  o = {};
  o.rate = "1/d";
  o.burst = 1'000'000;
  o.key = "ip";
  EXPECT_FALSE(ApplyOverrides(o, c).ok());  // the engine's window bound
  EXPECT_EQ(c, original);
}

TEST(ConfigTest, LoadConfigFile) {
  const std::string path = ::testing::TempDir() + "/sluice_config_test.yaml";
  {
    std::ofstream out(path);
    out << kDesignExample;
  }
  auto c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->source, path);
  EXPECT_EQ(c->policies.size(), 2u);
  {
    std::ofstream out(path);
    out << "policies: []\n";
  }
  c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), path + ":1: policies: at least one policy is needed");
  std::remove(path.c_str());
  c = LoadConfigFile(path);
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(path));
}

TEST(ConfigTest, SummaryNamesEveryPolicy) {
  auto c = ParseConfig(kDesignExample, "design.yaml");
  ASSERT_TRUE(c.ok());
  const std::string s = Summary(*c);
  EXPECT_THAT(s, HasSubstr("listen 0.0.0.0:8080"));
  EXPECT_THAT(s, HasSubstr("admin 127.0.0.1:9901"));
  EXPECT_THAT(s, HasSubstr("policy per-ip: * /*, key ip, 100/s burst 50, enforce"));
  EXPECT_THAT(s, HasSubstr("policy api-key: POST /api/*, key header:x-api-key (when missing: "
                           "skip), 1000/m burst 100, enforce"));
}

}  // namespace
}  // namespace sluice::net

namespace sluice::net {
namespace {

// yaml-cpp 0.7's LoadAll() never returns on these (issue 1040): ParseConfig refuses them first,
// so --check-config and SIGHUP reloads cannot hang on a stray comma.
TEST(ConfigTest, StrayLeadingCommaIsASyntaxErrorNotAHang) {
  for (const char* text : {",", ", a", ",\npolicies: []\n", "  , b"}) {
    const auto config = ParseConfig(text, "t.yaml");
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_NE(config.status().message().find("t.yaml:1: YAML syntax error"), std::string::npos)
        << config.status().message();
  }
}

}  // namespace
}  // namespace sluice::net
