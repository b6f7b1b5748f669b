// `forwarded:` in the config file: parsing, every error with its line, the canonical form of
// trusted prefixes, and the round trip through ToYaml() (GET /config).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "net/config/config_test_support.h"
#include "sluice/net/config/config.h"

namespace sluice::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing_support::Errors;

ServerConfig Parse(std::string_view yaml) {
  auto config = ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(config.ok()) << config.status() << "\n" << yaml;
  return config.ok() ? *config : ServerConfig{};
}

IpPrefix Prefix(std::string_view text) {
  auto p = IpPrefix::Parse(text);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : IpPrefix{};
}

constexpr std::string_view kFull = R"(forwarded:
  trusted: [127.0.0.1, "::1", 10.0.0.0/8, 2001:db8::/32]
  client_ip: X-Forwarded-For
  hops: 2
  uri: x-original-uri
  method: X-Original-Method
policies:
  - name: inherits
    key: ip
    rate: 1/s
    burst: 1
  - name: off
    key: [ip, path]
    rate: 1/s
    burst: 1
    forwarded: off
  - name: own
    key: ip
    rate: 1/s
    burst: 1
    forwarded: {trusted: 192.168.0.0/16, client_ip: x-real-ip}
)";

TEST(ForwardedConfigTest, ParsesTheListenerSettingAndPolicyOverrides) {
  const ServerConfig c = Parse(kFull);
  ASSERT_TRUE(c.forwarded.has_value());
  const ForwardedConfig& f = *c.forwarded;
  ASSERT_EQ(f.trusted.size(), 4u);
  EXPECT_EQ(f.trusted[0].ToString(), "127.0.0.1");
  EXPECT_EQ(f.trusted[1].ToString(), "::1");
  EXPECT_EQ(f.trusted[2].ToString(), "10.0.0.0/8");
  EXPECT_EQ(f.trusted[3].ToString(), "2001:db8::/32");
  EXPECT_EQ(f.client_ip, "x-forwarded-for");  // header names are lower-cased
  EXPECT_EQ(f.hops, 2u);
  EXPECT_EQ(f.uri, "x-original-uri");
  EXPECT_EQ(f.method, "x-original-method");
  ASSERT_EQ(c.policies.size(), 3u);
  EXPECT_EQ(c.policies[0].forwarded_mode, ForwardedMode::kInherit);
  EXPECT_EQ(c.policies[1].forwarded_mode, ForwardedMode::kOff);
  EXPECT_EQ(c.policies[2].forwarded_mode, ForwardedMode::kOwn);
  const ForwardedConfig& own = c.policies[2].forwarded;
  ASSERT_EQ(own.trusted.size(), 1u);  // a single value is a list of one
  EXPECT_EQ(own.trusted[0].ToString(), "192.168.0.0/16");
  EXPECT_EQ(own.client_ip, "x-real-ip");
  EXPECT_EQ(own.hops, 1u);  // the default
  EXPECT_TRUE(own.uri.empty());
  EXPECT_TRUE(own.method.empty());
}

TEST(ForwardedConfigTest, AbsentMeansNoForwardedHeaders) {
  const ServerConfig c = Parse("policies:\n  - {name: p, key: ip, rate: 1/s, burst: 1}\n");
  EXPECT_FALSE(c.forwarded.has_value());
  EXPECT_EQ(c.policies[0].forwarded_mode, ForwardedMode::kInherit);
  EXPECT_FALSE(EmbeddedDefault().forwarded.has_value());
}

TEST(ForwardedConfigTest, UriOrMethodAloneIsEnough) {
  const ServerConfig c = Parse(
      "forwarded: {trusted: [127.0.0.1], uri: x-original-uri}\n"
      "policies:\n  - {name: p, key: path, rate: 1/s, burst: 1}\n");
  ASSERT_TRUE(c.forwarded.has_value());
  EXPECT_TRUE(c.forwarded->client_ip.empty());
  EXPECT_EQ(c.forwarded->uri, "x-original-uri");
}

TEST(ForwardedConfigTest, ErrorsNameTheirLine) {
  EXPECT_THAT(Errors(R"(forwarded:
  trusted: [127.0.0.1, 10.0.0.0/33, 10.0.0.1/8, localhost, "::1/129", 1.2.3.4/x]
  client_ip: "x real ip"
  hops: 0
  colour: blue
policies:
  - {name: p, key: ip, rate: 1/s, burst: 1}
)"),
              ElementsAre(HasSubstr("t.yaml:2: forwarded trusted: '10.0.0.0/33': the prefix length "
                                    "must be a number in 0..32"),
                          HasSubstr("t.yaml:2: forwarded trusted: '10.0.0.1/8': bits are set after "
                                    "the /8 prefix (did you mean 10.0.0.0/8?)"),
                          HasSubstr("t.yaml:2: forwarded trusted: 'localhost': not an IPv4"),
                          HasSubstr("t.yaml:2: forwarded trusted: '::1/129': the prefix length "
                                    "must be a number in 0..128"),
                          HasSubstr("t.yaml:2: forwarded trusted: '1.2.3.4/x'"),
                          HasSubstr("t.yaml:3: forwarded: client_ip 'x real ip' is not a valid "
                                    "header name"),
                          HasSubstr("t.yaml:4: forwarded hops: 0 is out of range [1, 64]"),
                          HasSubstr("t.yaml:5: unknown key 'colour' in forwarded")));
}

TEST(ForwardedConfigTest, MissingAndInconsistentKeys) {
  const std::string policy = "policies:\n  - {name: p, key: ip, rate: 1/s, burst: 1}\n";
  EXPECT_THAT(Errors("forwarded: {client_ip: x-real-ip}\n" + policy),
              ElementsAre(HasSubstr("t.yaml:1: forwarded: missing key 'trusted'")));
  EXPECT_THAT(Errors("forwarded: {trusted: [], client_ip: x-real-ip}\n" + policy),
              ElementsAre(HasSubstr("t.yaml:1: forwarded trusted: at least one address")));
  EXPECT_THAT(Errors("forwarded:\n  trusted:\n  client_ip: x-real-ip\n" + policy),
              ElementsAre(HasSubstr("t.yaml:2: forwarded trusted: at least one address")));
  EXPECT_THAT(Errors("forwarded:\n  trusted: [127.0.0.1]\n  hops: 2\n  uri: x-u\n" + policy),
              ElementsAre(HasSubstr("t.yaml:3: forwarded: hops needs client_ip")));
  EXPECT_THAT(Errors("forwarded:\n  trusted: [127.0.0.1]\n  client_ip: x-f\n  hops: 65\n" + policy),
              ElementsAre(HasSubstr("t.yaml:4: forwarded hops: 65 is out of range [1, 64]")));
  EXPECT_THAT(
      Errors("forwarded:\n  trusted: [127.0.0.1]\n  client_ip: x-f\n  hops: two\n" + policy),
      ElementsAre(HasSubstr("t.yaml:4: forwarded hops: 'two' is not a whole number")));
  EXPECT_THAT(Errors("forwarded: {trusted: [127.0.0.1]}\n" + policy),
              ElementsAre(HasSubstr("t.yaml:1: forwarded: set at least one of client_ip, uri, "
                                    "method")));
  EXPECT_THAT(Errors("forwarded: off\n" + policy),
              ElementsAre(HasSubstr("t.yaml:1: forwarded: 'off' is for a policy")));
  EXPECT_THAT(Errors("forwarded: [127.0.0.1]\n" + policy),
              ElementsAre(HasSubstr("t.yaml:1: forwarded must be a mapping")));
  EXPECT_THAT(Errors("forwarded: {trusted: [127.0.0.1], uri: \"x/uri\", method: \"\"}\n" + policy),
              ElementsAre(HasSubstr("t.yaml:1: forwarded: uri 'x/uri' is not a valid header name"),
                          HasSubstr("t.yaml:1: forwarded: method '' is not a valid header")));
}

TEST(ForwardedConfigTest, PolicyErrorsNameThePolicy) {
  EXPECT_THAT(Errors(R"(policies:
  - name: a
    key: ip
    rate: 1/s
    burst: 1
    forwarded: on
  - name: b
    key: ip
    rate: 1/s
    burst: 1
    forwarded:
      trusted: [300.0.0.1]
      client_ip: x-real-ip
      via: nginx
)"),
              ElementsAre(HasSubstr("t.yaml:6: policy 'a': forwarded 'on' is neither off nor a "
                                    "mapping"),
                          HasSubstr("t.yaml:12: policy 'b' forwarded trusted: '300.0.0.1'"),
                          HasSubstr("t.yaml:14: unknown key 'via' in policy 'b' forwarded")));
}

TEST(ForwardedConfigTest, PrefixCanonicalForm) {
  EXPECT_EQ(Prefix("127.0.0.1/32").ToString(), "127.0.0.1");
  EXPECT_EQ(Prefix("0.0.0.0/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(Prefix("::/0").ToString(), "::/0");
  EXPECT_EQ(Prefix("2001:DB8:0::/48").ToString(), "2001:db8::/48");
  // IPv4-mapped IPv6 is IPv4, as peers are.
  EXPECT_EQ(Prefix("::ffff:10.0.0.0/104"), Prefix("10.0.0.0/8"));
  EXPECT_EQ(Prefix("::ffff:127.0.0.1"), Prefix("127.0.0.1"));
  EXPECT_EQ(Prefix("::ffff:0:0/96"), Prefix("0.0.0.0/0"));
  EXPECT_EQ(Prefix("::/80").size, 16u);  // zeros, not the mapped range: stays IPv6
  EXPECT_FALSE(IpPrefix::Parse("").ok());
  EXPECT_FALSE(IpPrefix::Parse("/8").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/+8").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/8/8").ok());
  EXPECT_FALSE(IpPrefix::Parse("[::1]").ok());
  EXPECT_FALSE(IpPrefix::Parse("fe80::1%eth0").ok());
  EXPECT_FALSE(IpPrefix::Parse("2001:db8::1/64").ok());  // host bits
}

bool In(std::string_view prefix, const char* ip) {
  unsigned char bytes[16];
  const bool v6 = std::string_view(ip).find(':') != std::string_view::npos;
  EXPECT_EQ(inet_pton(v6 ? AF_INET6 : AF_INET, ip, bytes), 1) << ip;
  return Prefix(prefix).Contains(bytes, v6 ? 16 : 4);
}

TEST(ForwardedConfigTest, PrefixBoundaries) {
  EXPECT_TRUE(In("10.0.0.0/8", "10.0.0.0"));
  EXPECT_TRUE(In("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(In("10.0.0.0/8", "11.0.0.0"));
  EXPECT_FALSE(In("10.0.0.0/8", "9.255.255.255"));
  EXPECT_TRUE(In("192.168.1.128/25", "192.168.1.128"));
  EXPECT_TRUE(In("192.168.1.128/25", "192.168.1.255"));
  EXPECT_FALSE(In("192.168.1.128/25", "192.168.1.127"));
  EXPECT_TRUE(In("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(In("127.0.0.1", "127.0.0.2"));
  EXPECT_TRUE(In("0.0.0.0/0", "255.255.255.255"));
  EXPECT_FALSE(In("0.0.0.0/0", "::1"));  // families never mix
  EXPECT_FALSE(In("::/0", "127.0.0.1"));
  EXPECT_TRUE(In("::/0", "2001:db8::1"));
  EXPECT_TRUE(In("2001:db8::/126", "2001:db8::3"));
  EXPECT_FALSE(In("2001:db8::/126", "2001:db8::4"));
  EXPECT_TRUE(In("2001:db8:8000::/33", "2001:db8:ffff::1"));
  EXPECT_FALSE(In("2001:db8:8000::/33", "2001:db8:7fff::1"));
  EXPECT_TRUE(In("::1", "::1"));
  EXPECT_FALSE(In("::1", "::2"));
}

TEST(ForwardedConfigTest, ToYamlRoundTrips) {
  const ServerConfig c = Parse(kFull);
  const std::string yaml = ToYaml(c);
  auto back = ParseConfig(yaml, "roundtrip");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  ServerConfig a = c;
  ServerConfig b = *back;
  a.source = b.source = "";
  for (ServerPolicy& p : a.policies) p.line = 0;
  for (ServerPolicy& p : b.policies) p.line = 0;
  EXPECT_EQ(a, b) << yaml;
  EXPECT_EQ(ToYaml(*back), yaml);
  EXPECT_THAT(yaml, HasSubstr("forwarded: off"));
  EXPECT_THAT(yaml, HasSubstr("\"10.0.0.0/8\""));

  // Without forwarded headers nothing is written, and hops only with client_ip.
  const ServerConfig plain = Parse("policies:\n  - {name: p, key: ip, rate: 1/s, burst: 1}\n");
  EXPECT_THAT(ToYaml(plain), ::testing::Not(HasSubstr("forwarded")));
  const ServerConfig uri_only = Parse(
      "forwarded: {trusted: [127.0.0.1], uri: x-u}\n"
      "policies:\n  - {name: p, key: ip, rate: 1/s, burst: 1}\n");
  EXPECT_THAT(ToYaml(uri_only), ::testing::Not(HasSubstr("hops")));
  auto again = ParseConfig(ToYaml(uri_only), "r");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->forwarded, uri_only.forwarded);
}

TEST(ForwardedConfigTest, SummaryShowsTheSettings) {
  const std::string s = Summary(Parse(kFull));
  EXPECT_THAT(s, HasSubstr("forwarded headers from 127.0.0.1 ::1 10.0.0.0/8 2001:db8::/32: client "
                           "x-forwarded-for hop 2 uri x-original-uri method x-original-method"));
  EXPECT_THAT(s, HasSubstr("policy off: * /*, key ip,path, 1/s burst 1, enforce, forwarded "
                           "headers off"));
  EXPECT_THAT(s, HasSubstr("forwarded headers from 192.168.0.0/16: client x-real-ip hop 1"));
  EXPECT_THAT(s, HasSubstr("policy inherits: * /*, key ip (when missing: skip)"));
}

}  // namespace
}  // namespace sluice::net
