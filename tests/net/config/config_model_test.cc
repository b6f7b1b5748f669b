// Beyond the parse: addresses and key parts, the embedded default, the YAML round trip,
// command-line overrides, loading a file, the summary.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "net/config/config_test_support.h"
#include "sluice/net/config/config.h"

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

ServerConfig WithoutLines(ServerConfig c) {
  c.source.clear();
  for (ServerPolicy& p : c.policies) p.line = 0;
  return c;
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
