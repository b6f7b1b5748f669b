// Forwarded headers in PolicySet::Evaluate(): the client address, path and method a trusted
// proxy names (nginx auth_request, Envoy ext_authz, Traefik forwardAuth), ignored from anyone
// else.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "sluice/net/config/config.h"
#include "sluice/net/policy/policy_set.h"
#include "support/alloc_counter.h"

namespace sluice::net {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr nanoseconds kNow = seconds(1'000);

struct Peer {
  sockaddr_storage storage{};
  [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

Peer P(const char* ip) {
  Peer p;
  if (std::string_view(ip).find(':') == std::string_view::npos) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    EXPECT_EQ(inet_pton(AF_INET, ip, &a.sin_addr), 1) << ip;
    std::memcpy(&p.storage, &a, sizeof(a));
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    EXPECT_EQ(inet_pton(AF_INET6, ip, &a.sin6_addr), 1) << ip;
    std::memcpy(&p.storage, &a, sizeof(a));
  }
  return p;
}

HttpRequest Request(std::string_view method, std::string_view target,
                    std::initializer_list<HttpHeader> headers = {}) {
  HttpRequest r;
  r.method = method;
  r.target = target;
  r.path = target.substr(0, target.find('?'));
  for (const HttpHeader& h : headers) r.headers[r.header_count++] = h;
  return r;
}

// A policy set from YAML text, evaluating at kNow.
class Set {
 public:
  explicit Set(std::string_view yaml) {
    auto config = ParseConfig(yaml, "t.yaml");
    EXPECT_TRUE(config.ok()) << config.status();
    auto set = PolicySet::Build(*config);
    EXPECT_TRUE(set.ok()) << set.status();
    set_ = *std::move(set);
    scratch_ = std::make_unique<KeyScratch>(set_->scratch_bytes());
  }
  const EvalOutcome& Eval(const HttpRequest& r, const Peer& peer) {
    set_->Evaluate(r, peer.get(), kNow, *scratch_, outcome_);
    return outcome_;
  }
  // The key the reported policy decided under, rendered.
  std::string Key(const HttpRequest& r, const Peer& peer) {
    const EvalOutcome& o = Eval(r, peer);
    char text[256];
    return std::string(text, FormatKey(o.key, text, sizeof(text)));
  }
  PolicySet& set() { return *set_; }

 private:
  std::unique_ptr<PolicySet> set_;
  std::unique_ptr<KeyScratch> scratch_;
  EvalOutcome outcome_;
};

std::string OnePolicy(std::string_view forwarded, std::string_view key = "ip",
                      std::string_view extra = "") {
  const bool burst = extra.find("burst") != std::string_view::npos;
  return std::string(forwarded) + "policies:\n  - {name: p, key: " + std::string(key) +
         ", rate: 1/s" + (burst ? "" : ", burst: 1") + std::string(extra) + "}\n";
}

const Peer kProxy = P("127.0.0.1");
const Peer kStranger = P("192.0.2.99");

TEST(ForwardedTest, TrustedPeerIsKeyedByTheClaimedClient) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n"));
  const HttpRequest a = Request("GET", "/auth", {{"X-Real-IP", "198.51.100.1"}});
  const HttpRequest b = Request("GET", "/auth", {{"x-real-ip", "198.51.100.2"}});
  EXPECT_EQ(s.Key(a, kProxy), "ip=198.51.100.1");
  EXPECT_FALSE(s.Eval(a, kProxy).allowed);  // burst 1: the same client again
  const EvalOutcome& o = s.Eval(b, kProxy);
  EXPECT_TRUE(o.allowed);  // another client behind the same proxy
  EXPECT_FALSE(o.forwarded_untrusted);
  EXPECT_EQ(o.forwarded_missing, ForwardedMissing::kNone);
}

TEST(ForwardedTest, ForwardedClientNamesTheClientForLogs) {
  Set s(
      "forwarded: {trusted: [127.0.0.1], client_ip: x-forwarded-for, hops: 2}\n"
      "policies:\n"
      "  - {name: fwd, key: ip, rate: 1/s, burst: 1}\n"
      "  - {name: direct, key: ip, rate: 1/s, burst: 1, forwarded: off}\n"
      "  - {name: uri-only, key: path, rate: 1/s, burst: 1,\n"
      "     forwarded: {trusted: [127.0.0.1], uri: x-original-uri}}\n");
  const HttpRequest r = Request("GET", "/", {{"X-Forwarded-For", "2001:db8::9, 10.0.0.2"}});
  unsigned char out[16] = {};
  ASSERT_EQ(s.set().ForwardedClient(0, r, kProxy.get(), out), 16u);
  unsigned char want[16];
  ASSERT_EQ(inet_pton(AF_INET6, "2001:db8::9", want), 1);
  EXPECT_EQ(std::memcmp(out, want, 16), 0);
  const HttpRequest v4 = Request("GET", "/", {{"X-Forwarded-For", "198.51.100.3, 10.0.0.2"}});
  ASSERT_EQ(s.set().ForwardedClient(0, v4, kProxy.get(), out), 4u);
  EXPECT_EQ(std::memcmp(out, "\xc6\x33\x64\x03", 4), 0);
  // None: an untrusted peer, a policy with forwarded: off or without client_ip, a list too
  // short for hops, an index past the policies.
  EXPECT_EQ(s.set().ForwardedClient(0, r, kStranger.get(), out), 0u);
  EXPECT_EQ(s.set().ForwardedClient(1, r, kProxy.get(), out), 0u);
  EXPECT_EQ(s.set().ForwardedClient(2, r, kProxy.get(), out), 0u);
  const HttpRequest short_list = Request("GET", "/", {{"X-Forwarded-For", "198.51.100.3"}});
  EXPECT_EQ(s.set().ForwardedClient(0, short_list, kProxy.get(), out), 0u);
  EXPECT_EQ(s.set().ForwardedClient(3, r, kProxy.get(), out), 0u);
}

TEST(ForwardedTest, UntrustedPeerCannotSpoofAndIsCounted) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n"));
  const HttpRequest spoof = Request("GET", "/", {{"X-Real-IP", "198.51.100.1"}});
  EXPECT_EQ(s.Key(spoof, kStranger), "ip=192.0.2.99");
  EXPECT_TRUE(s.Eval(spoof, kStranger).forwarded_untrusted);
  const HttpRequest other = Request("GET", "/", {{"X-Real-IP", "198.51.100.2"}});
  EXPECT_FALSE(s.Eval(other, kStranger).allowed);  // a new claim is still the same peer
  const HttpRequest plain = Request("GET", "/");
  EXPECT_FALSE(s.Eval(plain, P("192.0.2.98")).forwarded_untrusted);  // nothing to ignore
  EXPECT_FALSE(s.Eval(plain, kProxy).forwarded_untrusted);
  // No peer address at all (not a socket): never trusted.
  EvalOutcome o;
  KeyScratch scratch(s.set().scratch_bytes());
  s.set().Evaluate(spoof, nullptr, kNow, scratch, o);
  EXPECT_TRUE(o.forwarded_untrusted);
}

TEST(ForwardedTest, ForwardedForHops) {
  const HttpRequest r = Request(
      "GET", "/", {{"X-Forwarded-For", "203.0.113.9, 198.51.100.1,192.0.2.1"}, {"Host", "h"}});
  const auto key = [&](int hops) {
    Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-forwarded-for, hops: " +
                    std::to_string(hops) + "}\n"));
    return s.Key(r, kProxy);
  };
  EXPECT_EQ(key(1), "ip=192.0.2.1");
  EXPECT_EQ(key(2), "ip=198.51.100.1");
  EXPECT_EQ(key(3), "ip=203.0.113.9");

  Set four(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-forwarded-for, hops: 4}\n",
                     "ip", ", when_missing: deny"));
  const EvalOutcome& o = four.Eval(r, kProxy);
  EXPECT_FALSE(o.allowed);
  ASSERT_EQ(o.result_count, 1u);
  EXPECT_TRUE(o.results[0].missing_key);
  EXPECT_EQ(o.forwarded_missing, ForwardedMissing::kTooFewHops);
}

TEST(ForwardedTest, SeveralHeaderLinesAreOneListInOrder) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-forwarded-for, hops: 2}\n"));
  // "203.0.113.9" + "198.51.100.1, 192.0.2.1": the second from the right is in the 2nd line.
  EXPECT_EQ(s.Key(Request("GET", "/",
                          {{"X-Forwarded-For", "203.0.113.9"},
                           {"Host", "h"},
                           {"x-forwarded-for", "198.51.100.1, 192.0.2.1"}}),
                  kProxy),
            "ip=198.51.100.1");
  // ... and across lines.
  EXPECT_EQ(s.Key(Request("GET", "/",
                          {{"X-Forwarded-For", "203.0.113.8"}, {"X-Forwarded-For", "192.0.2.1"}}),
                  kProxy),
            "ip=203.0.113.8");
  // Empty elements and empty lines are ignored; spaces and tabs around entries are trimmed.
  EXPECT_EQ(s.Key(Request("GET", "/",
                          {{"X-Forwarded-For", " \t203.0.113.7\t ,, "},
                           {"X-Forwarded-For", ""},
                           {"X-Forwarded-For", " , 192.0.2.1 ,"}}),
                  kProxy),
            "ip=203.0.113.7");
}

TEST(ForwardedTest, EntriesThatAreNotAddressesAreMissing) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n", "ip",
                  ", when_missing: deny"));
  for (const char* bad : {"unknown", "192.0.2.1:8080", "[2001:db8::1]:443", "example.com", "1.2.3",
                          "1.2.3.4.5", "fe80::1%eth0", "[192.0.2.1]", "2001:db8::1]",
                          "[2001:db8::1", "[]", "0x7f.0.0.1", "01.2.3.4 5", "256.1.1.1", "_hidden",
                          "2001:db8:::1", "1111:2222:3333:4444:5555:6666:7777:8888:9999"}) {
    const EvalOutcome& o = s.Eval(Request("GET", "/", {{"X-Real-IP", bad}}), kProxy);
    EXPECT_FALSE(o.allowed) << bad;
    EXPECT_EQ(o.forwarded_missing, ForwardedMissing::kInvalid) << bad;
  }
  const EvalOutcome& absent = s.Eval(Request("GET", "/"), kProxy);
  EXPECT_FALSE(absent.allowed);
  EXPECT_EQ(absent.forwarded_missing, ForwardedMissing::kAbsent);
  const EvalOutcome& empty = s.Eval(Request("GET", "/", {{"X-Real-IP", ""}}), kProxy);
  EXPECT_EQ(empty.forwarded_missing, ForwardedMissing::kAbsent);
  const EvalOutcome& commas = s.Eval(Request("GET", "/", {{"X-Real-IP", " , ,"}}), kProxy);
  EXPECT_EQ(commas.forwarded_missing, ForwardedMissing::kAbsent);
}

TEST(ForwardedTest, Ipv6ClientsBracketsAndMappedAddresses) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n", "ip", ", burst: 1"));
  EXPECT_EQ(s.Key(Request("GET", "/", {{"X-Real-IP", "2001:DB8::1"}}), kProxy), "ip=2001:db8::1");
  EXPECT_EQ(s.Key(Request("GET", "/", {{"X-Real-IP", "[2001:db8::2]"}}), kProxy), "ip=2001:db8::2");
  // "[2001:db8::1]" is the same client as "2001:db8::1": already used its burst.
  EXPECT_FALSE(s.Eval(Request("GET", "/", {{"X-Real-IP", "[2001:db8::1]"}}), kProxy).allowed);
  // IPv4-mapped IPv6 is the IPv4 address, in the key as from a socket.
  EXPECT_EQ(s.Key(Request("GET", "/", {{"X-Real-IP", "::ffff:198.51.100.7"}}), kProxy),
            "ip=198.51.100.7");
  EXPECT_FALSE(s.Eval(Request("GET", "/", {{"X-Real-IP", "198.51.100.7"}}), kProxy).allowed);

  Set net(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n", "ip/64"));
  EXPECT_TRUE(net.Eval(Request("GET", "/", {{"X-Real-IP", "2001:db8:1:2::1"}}), kProxy).allowed);
  EXPECT_FALSE(
      net.Eval(Request("GET", "/", {{"X-Real-IP", "2001:db8:1:2:ffff::9"}}), kProxy).allowed);
  EXPECT_TRUE(net.Eval(Request("GET", "/", {{"X-Real-IP", "2001:db8:1:3::1"}}), kProxy).allowed);
}

TEST(ForwardedTest, TrustMatchesPeersByPrefixAndFamily) {
  Set s(
      OnePolicy("forwarded: {trusted: [10.0.0.0/8, 192.168.1.128/25, \"::1\", \"2001:db8::/126\"], "
                "client_ip: x-real-ip}\n",
                "ip", ", burst: 1000"));
  const HttpRequest r = Request("GET", "/", {{"X-Real-IP", "198.51.100.1"}});
  const auto trusted = [&](const char* peer) { return s.Key(r, P(peer)) == "ip=198.51.100.1"; };
  EXPECT_TRUE(trusted("10.0.0.0"));
  EXPECT_TRUE(trusted("10.255.255.255"));
  EXPECT_FALSE(trusted("11.0.0.0"));
  EXPECT_FALSE(trusted("9.255.255.255"));
  EXPECT_TRUE(trusted("192.168.1.128"));
  EXPECT_TRUE(trusted("192.168.1.255"));
  EXPECT_FALSE(trusted("192.168.1.127"));
  EXPECT_TRUE(trusted("::ffff:10.1.2.3"));  // an IPv4-mapped peer is its IPv4 address
  EXPECT_FALSE(trusted("::ffff:11.1.2.3"));
  EXPECT_TRUE(trusted("::1"));
  EXPECT_FALSE(trusted("::2"));
  EXPECT_TRUE(trusted("2001:db8::3"));
  EXPECT_FALSE(trusted("2001:db8::4"));
  EXPECT_FALSE(trusted("127.0.0.1"));
}

TEST(ForwardedTest, UriAndMethodFeedKeysAndMatching) {
  Set s(R"(forwarded:
  trusted: [127.0.0.1]
  uri: x-original-uri
  method: x-original-method
policies:
  - name: api-post
    match: {path_prefix: /api/, method: POST}
    key: [path, method]
    rate: 1/s
    burst: 1
)");
  const HttpRequest sub =
      Request("GET", "/auth?x=1",
              {{"X-Original-URI", "/api/v1/items?id=7"}, {"X-Original-Method", "POST"}});
  EXPECT_EQ(s.Key(sub, kProxy), "path=/api/v1/items method=POST");
  EXPECT_FALSE(s.Eval(sub, kProxy).allowed);
  // The same headers from an untrusted peer: the request line decides (GET /auth: no match).
  const EvalOutcome& u = s.Eval(sub, kStranger);
  EXPECT_FALSE(u.matched);
  EXPECT_TRUE(u.forwarded_untrusted);
  // A fragment ends the path too; an absolute-form target gives its path.
  EXPECT_EQ(s.Key(Request("GET", "/auth",
                          {{"X-Original-URI", "/api/frag#x?y"}, {"X-Original-Method", "POST"}}),
                  kProxy),
            "path=/api/frag method=POST");
  EXPECT_EQ(s.Key(Request("GET", "/auth",
                          {{"X-Original-URI", "http://example.com/api/abs?q"},
                           {"X-Original-Method", "POST"}}),
                  kProxy),
            "path=/api/abs method=POST");
  // An absent header falls back to the request line, each on its own.
  EXPECT_EQ(s.Key(Request("POST", "/api/line", {{"X-Original-Method", "POST"}}), kProxy),
            "path=/api/line method=POST");
  EXPECT_FALSE(
      s.Eval(Request("GET", "/api/line2", {{"X-Original-URI", "/api/x"}}), kProxy).matched);
  EXPECT_EQ(s.Key(Request("POST", "/x", {{"X-Original-URI", "/api/from-header"}}), kProxy),
            "path=/api/from-header method=POST");
  // The last line of a repeated header counts.
  EXPECT_EQ(s.Key(Request("GET", "/auth",
                          {{"X-Original-URI", "/api/first"},
                           {"X-Original-Method", "PUT"},
                           {"X-Original-URI", "/api/last"},
                           {"X-Original-Method", "POST"}}),
                  kProxy),
            "path=/api/last method=POST");
}

TEST(ForwardedTest, PolicyOffAndOwnSettings) {
  Set s(R"(forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}
policies:
  - name: inherits
    match: {path_prefix: /a}
    key: ip
    rate: 1/s
    burst: 1
  - name: off
    match: {path_prefix: /b}
    key: ip
    rate: 1/s
    burst: 1
    forwarded: off
  - name: own
    match: {path_prefix: /c}
    key: ip
    rate: 1/s
    burst: 1
    forwarded: {trusted: [10.0.0.0/8], client_ip: x-forwarded-for, hops: 2}
)");
  const std::initializer_list<HttpHeader> headers = {{"X-Real-IP", "198.51.100.1"},
                                                     {"X-Forwarded-For", "198.51.100.2, 10.0.0.5"}};
  EXPECT_EQ(s.Key(Request("GET", "/a", headers), kProxy), "ip=198.51.100.1");
  EXPECT_EQ(s.Key(Request("GET", "/b", headers), kProxy), "ip=127.0.0.1");
  // The policy's own setting replaces the listener's: 127.0.0.1 is not trusted there.
  EXPECT_EQ(s.Key(Request("GET", "/c", headers), kProxy), "ip=127.0.0.1");
  EXPECT_TRUE(s.Eval(Request("GET", "/c", headers), kProxy).forwarded_untrusted);
  EXPECT_EQ(s.Key(Request("GET", "/c", headers), P("10.1.1.1")), "ip=198.51.100.2");
  EXPECT_EQ(s.Key(Request("GET", "/a", headers), P("10.1.1.1")), "ip=10.1.1.1");
}

TEST(ForwardedTest, WhenMissingDecidesForAMissingClient) {
  const std::string fwd = "forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n";
  const HttpRequest none = Request("GET", "/");
  {
    Set s(OnePolicy(fwd, "ip", ", when_missing: skip"));
    const EvalOutcome& o = s.Eval(none, kProxy);
    EXPECT_FALSE(o.matched);
    EXPECT_TRUE(o.allowed);
    EXPECT_EQ(o.forwarded_missing, ForwardedMissing::kAbsent);
  }
  {
    Set s(OnePolicy(fwd, "[ip, path]", ", when_missing: deny"));
    const EvalOutcome& o = s.Eval(none, kProxy);
    EXPECT_FALSE(o.allowed);
    ASSERT_EQ(o.result_count, 1u);
    EXPECT_TRUE(o.results[0].missing_key);
  }
  {
    // ip: the peer's address (the proxy's): every such request shares one key.
    Set s(OnePolicy(fwd, "ip", ", when_missing: ip"));
    EXPECT_EQ(s.Key(none, kProxy), "ip=127.0.0.1");
    EXPECT_FALSE(s.Eval(Request("GET", "/", {{"X-Real-IP", "bogus"}}), kProxy).allowed);
    EXPECT_TRUE(s.Eval(Request("GET", "/", {{"X-Real-IP", "198.51.100.1"}}), kProxy).allowed);
  }
  {
    // A missing header part with the client known: the fallback is the client's address.
    Set s(OnePolicy(fwd, "header:x-api-key", ", when_missing: ip"));
    EXPECT_EQ(s.Key(Request("GET", "/", {{"X-Real-IP", "198.51.100.1"}}), kProxy),
              "ip=198.51.100.1");
    EXPECT_EQ(s.Key(Request("GET", "/", {{"X-Real-IP", "nope"}}), kProxy), "ip=127.0.0.1");
    EXPECT_EQ(s.Key(Request("GET", "/", {{"X-Real-IP", "198.51.100.1"}}), kStranger),
              "ip=192.0.2.99");
  }
}

TEST(ForwardedTest, ClientIsOnlyLookedForWhenAPolicyNeedsIt) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip, uri: x-u}\n", "path"));
  const EvalOutcome& o = s.Eval(Request("GET", "/x", {{"X-U", "/y"}}), kProxy);
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.forwarded_missing, ForwardedMissing::kNone);  // no ip part: nothing missing
}

TEST(ForwardedTest, UntrustedCountsAnyConfiguredHeader) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.1], uri: x-original-uri}\n", "path"));
  EXPECT_TRUE(
      s.Eval(Request("GET", "/", {{"X-Original-URI", "/a"}}), kStranger).forwarded_untrusted);
  EXPECT_FALSE(
      s.Eval(Request("GET", "/", {{"X-Real-IP", "1.2.3.4"}}), kStranger).forwarded_untrusted);
}

TEST(ForwardedTest, RebuildPicksUpTheNewSetting) {
  Set s(OnePolicy("forwarded: {trusted: [127.0.0.2], client_ip: x-real-ip}\n"));
  const HttpRequest r = Request("GET", "/", {{"X-Real-IP", "198.51.100.1"}});
  EXPECT_EQ(s.Key(r, kProxy), "ip=127.0.0.1");
  auto next =
      ParseConfig(OnePolicy("forwarded: {trusted: [127.0.0.1], client_ip: x-real-ip}\n"), "t.yaml");
  ASSERT_TRUE(next.ok());
  auto rebuilt = s.set().Rebuild(*next);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  KeyScratch scratch((*rebuilt)->scratch_bytes());
  EvalOutcome o;
  (*rebuilt)->Evaluate(r, kProxy.get(), kNow, scratch, o);
  char text[64];
  EXPECT_EQ(std::string_view(text, FormatKey(o.key, text, sizeof(text))), "ip=198.51.100.1");
}

TEST(ForwardedTest, LongForwardedPathsFitTheScratch) {
  // A path from a header is bounded by header_bytes, not uri_bytes: the key must still fit.
  Set s(
      OnePolicy("limits: {header_bytes: 1024, uri_bytes: 16}\n"
                "forwarded: {trusted: [127.0.0.1], uri: x-u}\n",
                "path"));
  const std::string path = "/" + std::string(900, 'a');
  const EvalOutcome& o = s.Eval(Request("GET", "/", {{"X-U", path}}), kProxy);
  EXPECT_TRUE(o.matched);
  EXPECT_EQ(o.key.size(), 5 + path.size());
}

#ifdef SLUICE_COUNT_ALLOCATIONS
TEST(ForwardedTest, EvaluateNeverAllocates) {
  Set s(R"(forwarded:
  trusted: [127.0.0.1, "::1", 10.0.0.0/8]
  client_ip: x-forwarded-for
  hops: 2
  uri: x-original-uri
  method: x-original-method
policies:
  - {name: ip, key: ip, rate: 1/s, burst: 3}
  - {name: net, key: [ip/64, path, method], rate: 1/s, burst: 3, when_missing: deny}
  - {name: key, key: header:x-key, rate: 1/s, burst: 3, when_missing: ip}
  - {name: off, key: ip, rate: 1/s, burst: 3, forwarded: off}
  - name: own
    key: ip
    rate: 1/s
    burst: 3
    forwarded: {trusted: [192.0.2.0/24], client_ip: x-real-ip}
)");
  const HttpRequest good = Request("GET", "/auth",
                                   {{"X-Forwarded-For", "2001:db8::1, 10.0.0.9"},
                                    {"X-Original-URI", "/a?b"},
                                    {"X-Original-Method", "POST"}});
  const HttpRequest bad = Request("GET", "/auth", {{"X-Forwarded-For", "[::1]:80, x"}});
  const HttpRequest real = Request("GET", "/", {{"X-Real-IP", "198.51.100.4"}});
  const Peer peers[] = {kProxy, kStranger, P("::1"), P("::ffff:10.0.0.1")};
  const long before = sluice::testing::Allocations();
  for (int i = 0; i < 100; ++i) {
    const Peer& peer = peers[i % 4];
    s.Eval(good, peer);
    s.Eval(bad, peer);
    s.Eval(real, peer);
  }
  EXPECT_EQ(sluice::testing::Allocations(), before);
}
#endif

}  // namespace
}  // namespace sluice::net
