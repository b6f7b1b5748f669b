#include "sluice/net/policy/policy_set.h"

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
#include <vector>

#include "sluice/net/config/config.h"
#include "support/alloc_counter.h"
#include "support/policy_eval.h"

namespace sluice::net {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr nanoseconds kNow = seconds(1'000);

using testing::Peer;

Peer V4(const char* ip) { return testing::PeerOf(ip); }
Peer V6(const char* ip) { return testing::PeerOf(ip); }

std::unique_ptr<HttpRequest> Request(std::string_view method, std::string_view path,
                                     std::initializer_list<HttpHeader> headers = {}) {
  auto r = std::make_unique<HttpRequest>();
  testing::FillRequest(*r, method, path, headers);
  r->path = path;  // as given, query and all
  return r;
}

ServerPolicy Policy(std::string name, std::vector<std::string> key, std::uint64_t burst,
                    PolicyMatch match = {}, WhenMissing when_missing = WhenMissing::kSkip,
                    PolicyMode mode = PolicyMode::kEnforce) {
  ServerPolicy p;
  p.name = std::move(name);
  for (const std::string& k : key) p.key.push_back(*KeyPart::Parse(k));
  p.rate = Rate{1, seconds(1)};
  p.burst = burst;
  p.match = std::move(match);
  p.when_missing = when_missing;
  p.mode = mode;
  return p;
}

ServerConfig Config(std::vector<ServerPolicy> policies) {
  ServerConfig c;
  c.table_capacity = 4096;
  c.policies = std::move(policies);
  return c;
}

using Harness = testing::EvalHarness;

TEST(PolicySetTest, BuildRejectsWhatCannotRun) {
  EXPECT_FALSE(PolicySet::Build(Config({})).ok());
  ServerPolicy no_key = Policy("a", {"ip"}, 1);
  no_key.key.clear();
  EXPECT_FALSE(PolicySet::Build(Config({no_key})).ok());
  EXPECT_FALSE(PolicySet::Build(Config({Policy("a", {"ip"}, 0)})).ok());
  EXPECT_FALSE(PolicySet::Build(Config({Policy("a", {"ip"}, 1), Policy("a", {"ip"}, 1)})).ok());
  ServerConfig zero = Config({Policy("a", {"ip"}, 1)});
  zero.table_capacity = 0;
  EXPECT_FALSE(PolicySet::Build(zero).ok());
  std::vector<ServerPolicy> many;
  for (std::size_t i = 0; i <= kMaxPolicies; ++i)
    many.push_back(Policy("p" + std::to_string(i), {"ip"}, 1));
  EXPECT_FALSE(PolicySet::Build(Config(many)).ok());
  auto ok = PolicySet::Build(EmbeddedDefault());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->size(), 1u);
  EXPECT_EQ((*ok)->policy(0).name, "per-ip");
}

TEST(PolicySetTest, MatchesByPathPrefixAndMethod) {
  Harness h(Config({Policy("all", {"ip"}, 100), Policy("api-post", {"ip"}, 100, {"/api/", "POST"}),
                    Policy("api", {"ip"}, 100, {"/api/", ""}),
                    Policy("gets", {"ip"}, 100, {"", "GET"})}));
  const Peer peer = V4("10.0.0.1");
  const auto policies = [&](const HttpRequest& r) {
    std::vector<int> out;
    const EvalOutcome& o = h.Eval(r, peer);
    EXPECT_TRUE(o.matched);
    EXPECT_TRUE(o.allowed);
    for (std::size_t i = 0; i < o.result_count; ++i) out.push_back(o.results[i].policy);
    return out;
  };
  EXPECT_EQ(policies(*Request("POST", "/api/v1")), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(policies(*Request("GET", "/api/")), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(policies(*Request("POST", "/api")), (std::vector<int>{0}));       // prefix is "/api/"
  EXPECT_EQ(policies(*Request("post", "/api/x")), (std::vector<int>{0, 2}));  // methods: exact
  EXPECT_EQ(policies(*Request("GET", "/")), (std::vector<int>{0, 3}));
}

TEST(PolicySetTest, MatchesByHostWithoutPortInAnyCase) {
  Harness h(Config({Policy("shop", {"ip"}, 100, {"", "", false, "shop.example.com"}),
                    Policy("v6", {"ip"}, 100, {"", "", false, "[::1]"})}));
  const Peer peer = V4("10.0.0.1");
  const auto policies = [&](const HttpRequest& r) {
    std::vector<int> out;
    const EvalOutcome& o = h.Eval(r, peer);
    for (std::size_t i = 0; i < o.result_count; ++i) out.push_back(o.results[i].policy);
    return out;
  };
  EXPECT_EQ(policies(*Request("GET", "/", {{"Host", "Shop.Example.COM:8080"}})),
            (std::vector<int>{0}));
  EXPECT_EQ(policies(*Request("GET", "/", {{"Host", "shop.example.com"}})), (std::vector<int>{0}));
  EXPECT_EQ(policies(*Request("GET", "/", {{"Host", "shop.example.com.evil"}})),
            (std::vector<int>{}));
  EXPECT_EQ(policies(*Request("GET", "/", {{"Host", "[::1]:80"}})), (std::vector<int>{1}));
  EXPECT_EQ(policies(*Request("GET", "/")), (std::vector<int>{}));  // no Host: no host match
  // An absolute-form target's authority is the host, whatever Host says.
  auto absolute = Request("GET", "/", {{"Host", "other"}});
  absolute->target = "http://SHOP.example.com:81/x";
  EXPECT_EQ(policies(*absolute), (std::vector<int>{0}));
}

TEST(PolicySetTest, RequestMatchingNoPolicyIsAllowedWithoutHeaders) {
  Harness h(Config({Policy("api", {"ip"}, 1, {"/api/", ""})}));
  for (int i = 0; i < 3; ++i) {
    const EvalOutcome& o = h.Eval(*Request("GET", "/index.html"), V4("10.0.0.1"));
    EXPECT_FALSE(o.matched);
    EXPECT_TRUE(o.allowed);
    EXPECT_EQ(o.reported, -1);
    EXPECT_EQ(o.result_count, 0u);
  }
}

TEST(PolicySetTest, KeyPartsSeparateClients) {
  const Peer peer = V4("10.0.0.1");
  {
    Harness h(Config({Policy("user", {"header:x-user"}, 1)}));
    EXPECT_TRUE(h.Eval(*Request("GET", "/", {{"X-User", "alice"}}), peer).allowed);
    EXPECT_FALSE(h.Eval(*Request("GET", "/", {{"x-user", "alice"}}), peer).allowed);
    EXPECT_TRUE(h.Eval(*Request("GET", "/", {{"X-USER", "bob"}}), peer).allowed);
  }
  {
    Harness h(Config({Policy("path", {"path"}, 1)}));
    EXPECT_TRUE(h.Eval(*Request("GET", "/a"), peer).allowed);
    EXPECT_FALSE(h.Eval(*Request("POST", "/a"), peer).allowed);
    EXPECT_TRUE(h.Eval(*Request("GET", "/b"), peer).allowed);
  }
  {
    Harness h(Config({Policy("method", {"method"}, 1)}));
    EXPECT_TRUE(h.Eval(*Request("GET", "/a"), peer).allowed);
    EXPECT_FALSE(h.Eval(*Request("GET", "/b"), peer).allowed);
    EXPECT_TRUE(h.Eval(*Request("PUT", "/a"), peer).allowed);
  }
  {
    Harness h(Config({Policy("ip", {"ip"}, 1)}));
    EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.1")).allowed);
    EXPECT_FALSE(h.Eval(*Request("GET", "/x"), V4("10.0.0.1")).allowed);
    EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.2")).allowed);
    EXPECT_TRUE(h.Eval(*Request("GET", "/"), V6("2001:db8::1")).allowed);
    EXPECT_FALSE(h.Eval(*Request("GET", "/"), V6("2001:db8::1")).allowed);
    EXPECT_TRUE(h.Eval(*Request("GET", "/"), V6("2001:db8::2")).allowed);
  }
}

TEST(PolicySetTest, PartsNeverRunIntoEachOther) {
  // "x" + "yz" and "xy" + "z" concatenate alike; the keys must not.
  Harness h(Config({Policy("two", {"header:a", "header:b"}, 1)}));
  const Peer peer = V4("10.0.0.1");
  EXPECT_TRUE(h.Eval(*Request("GET", "/", {{"a", "x"}, {"b", "yz"}}), peer).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/", {{"a", "xy"}, {"b", "z"}}), peer).allowed);
  EXPECT_FALSE(h.Eval(*Request("GET", "/", {{"a", "x"}, {"b", "yz"}}), peer).allowed);
  // A path equal to a header value is another key too.
  Harness k(Config({Policy("mixed", {"path", "header:a"}, 1)}));
  EXPECT_TRUE(k.Eval(*Request("GET", "/a", {{"a", "/b"}}), peer).allowed);
  EXPECT_TRUE(k.Eval(*Request("GET", "/b", {{"a", "/a"}}), peer).allowed);
}

TEST(PolicySetTest, WhenMissingSkip) {
  Harness h(Config({Policy("ip", {"ip"}, 100), Policy("user", {"header:x-user"}, 1)}));
  const Peer peer = V4("10.0.0.1");
  for (int i = 0; i < 3; ++i) {
    const EvalOutcome& o = h.Eval(*Request("GET", "/"), peer);
    EXPECT_TRUE(o.allowed);
    ASSERT_EQ(o.result_count, 1u);
    EXPECT_EQ(o.results[0].policy, 0);
  }
  // An empty value is missing too.
  EXPECT_EQ(h.Eval(*Request("GET", "/", {{"x-user", ""}}), peer).result_count, 1u);
  // Only a header policy: no policy applies at all.
  Harness only(Config({Policy("user", {"header:x-user"}, 1)}));
  EXPECT_FALSE(only.Eval(*Request("GET", "/"), peer).matched);
}

TEST(PolicySetTest, WhenMissingDenyConsumesNothingElsewhere) {
  Harness h(Config(
      {Policy("ip", {"ip"}, 1), Policy("user", {"header:x-user"}, 5, {}, WhenMissing::kDeny)}));
  const Peer peer = V4("10.0.0.1");
  for (int i = 0; i < 3; ++i) {
    const EvalOutcome& o = h.Eval(*Request("GET", "/"), peer);
    EXPECT_TRUE(o.matched);
    EXPECT_FALSE(o.allowed);
    EXPECT_EQ(o.reported, 1);
    EXPECT_TRUE(o.decision.never());
    EXPECT_TRUE(o.key.empty());
    ASSERT_EQ(o.result_count, 1u);
    EXPECT_EQ(o.results[0].policy, 1);
    EXPECT_FALSE(o.results[0].allowed);
    EXPECT_TRUE(o.results[0].missing_key);
  }
  // The ip policy (burst 1) still has its whole burst.
  const EvalOutcome& o = h.Eval(*Request("GET", "/", {{"x-user", "a"}}), peer);
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.result_count, 2u);
}

TEST(PolicySetTest, WhenMissingDenyInShadowModeOnlyCounts) {
  Harness h(Config({Policy("ip", {"ip"}, 10), Policy("user", {"header:x-user"}, 5, {},
                                                     WhenMissing::kDeny, PolicyMode::kShadow)}));
  const EvalOutcome& o = h.Eval(*Request("GET", "/"), V4("10.0.0.1"));
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.reported, 0);
  ASSERT_EQ(o.result_count, 2u);
  EXPECT_EQ(o.results[0].policy, 0);
  EXPECT_TRUE(o.results[0].allowed);
  EXPECT_EQ(o.results[1].policy, 1);
  EXPECT_TRUE(o.results[1].missing_key);
  EXPECT_TRUE(o.results[1].shadow);
  // Alone, it matches but reports nothing: 200 without rate-limit headers.
  Harness alone(
      Config({Policy("user", {"header:x-user"}, 5, {}, WhenMissing::kDeny, PolicyMode::kShadow)}));
  const EvalOutcome& a = alone.Eval(*Request("GET", "/"), V4("10.0.0.1"));
  EXPECT_TRUE(a.matched);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.reported, -1);
  EXPECT_EQ(a.result_count, 1u);
}

TEST(PolicySetTest, WhenMissingIpFallsBackToThePeer) {
  Harness h(Config({Policy("user", {"header:x-user"}, 1, {}, WhenMissing::kIp)}));
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.1")).allowed);
  EXPECT_FALSE(h.Eval(*Request("GET", "/"), V4("10.0.0.1")).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.2")).allowed);
  // A client sending the header is keyed by it, not by its address.
  EXPECT_TRUE(h.Eval(*Request("GET", "/", {{"x-user", "u"}}), V4("10.0.0.1")).allowed);
}

TEST(PolicySetTest, ShadowNeverDenies) {
  Harness h(Config({Policy("shadow", {"ip"}, 1, {}, WhenMissing::kSkip, PolicyMode::kShadow)}));
  const Peer peer = V4("10.0.0.1");
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), peer).allowed);
  for (int i = 0; i < 5; ++i) {
    const EvalOutcome& o = h.Eval(*Request("GET", "/"), peer);
    EXPECT_TRUE(o.allowed);
    ASSERT_EQ(o.result_count, 1u);
    EXPECT_FALSE(o.results[0].allowed);
    EXPECT_TRUE(o.results[0].shadow);
  }
}

TEST(PolicySetTest, EnforcingDenialConsumesNothingInOtherPolicies) {
  // "wide" (burst 3) applies everywhere; "narrow" (burst 1) only under /b.
  Harness h(Config({Policy("wide", {"ip"}, 3), Policy("narrow", {"ip"}, 1, {"/b", ""})}));
  const Peer peer = V4("10.0.0.1");
  EXPECT_TRUE(h.Eval(*Request("GET", "/b"), peer).allowed);  // wide 1/3, narrow 1/1
  for (int i = 0; i < 5; ++i) {
    const EvalOutcome& o = h.Eval(*Request("GET", "/b"), peer);
    EXPECT_FALSE(o.allowed);
    EXPECT_EQ(o.reported, 1);
    EXPECT_EQ(h.set().policy(static_cast<std::size_t>(o.reported)).name, "narrow");
    EXPECT_GT(o.decision.retry_after, nanoseconds(0));
  }
  // The denials gave back what "wide" admitted: two of its three remain.
  EXPECT_EQ(h.AdmittedInARow(*Request("GET", "/a"), peer), 2);
}

TEST(PolicySetTest, MostRestrictivePolicyIsReported) {
  Harness h(Config(
      {Policy("roomy", {"ip"}, 10), Policy("tight", {"ip"}, 3), Policy("middle", {"ip"}, 5)}));
  const EvalOutcome& o = h.Eval(*Request("GET", "/"), V4("10.0.0.1"));
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.reported, 1);
  EXPECT_EQ(o.decision.remaining, 2);
  EXPECT_EQ(o.result_count, 3u);
  char text[64];
  EXPECT_EQ(std::string_view(text, FormatKey(o.key, text, sizeof(text))), "ip=10.0.0.1");
}

TEST(PolicySetTest, Ipv4MappedIpv6IsTheIpv4Address) {
  Harness h(Config({Policy("ip", {"ip"}, 1)}));
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("192.0.2.7")).allowed);
  EXPECT_FALSE(h.Eval(*Request("GET", "/"), V6("::ffff:192.0.2.7")).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V6("::ffff:192.0.2.8")).allowed);
  EXPECT_FALSE(h.Eval(*Request("GET", "/"), V4("192.0.2.8")).allowed);
}

TEST(PolicySetTest, Ip64GroupsAddressesSharingThePrefix) {
  Harness h(Config({Policy("net", {"ip/64"}, 2)}));
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V6("2001:db8:0:1::1")).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V6("2001:db8:0:1:ffff::2")).allowed);
  EXPECT_FALSE(h.Eval(*Request("GET", "/"), V6("2001:db8:0:1::3")).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V6("2001:db8:0:2::1")).allowed);
  // IPv4: the whole address.
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.1")).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.1")).allowed);
  EXPECT_FALSE(h.Eval(*Request("GET", "/"), V4("10.0.0.1")).allowed);
  EXPECT_TRUE(h.Eval(*Request("GET", "/"), V4("10.0.0.2")).allowed);
  const EvalOutcome& o = h.Eval(*Request("GET", "/"), V6("2001:db8:0:3::9"));
  char text[64];
  EXPECT_EQ(std::string_view(text, FormatKey(o.key, text, sizeof(text))),
            "ip/64=2001:db8:0:3::/64");
}

TEST(PolicySetTest, RebuildKeepsUnchangedPoliciesAndResetsChangedOnes) {
  ServerConfig config =
      Config({Policy("kept", {"ip"}, 1, {"/k", ""}), Policy("changed", {"ip"}, 1, {"/c", ""})});
  Harness h(config);
  const Peer peer = V4("10.0.0.1");
  EXPECT_EQ(h.AdmittedInARow(*Request("GET", "/k"), peer), 1);
  EXPECT_EQ(h.AdmittedInARow(*Request("GET", "/c"), peer), 1);

  config.policies[1].burst = 2;
  config.table_capacity = 1;  // ignored: a reload keeps the table
  auto next = h.set().Rebuild(config);
  ASSERT_TRUE(next.ok()) << next.status();
  h.Swap(*std::move(next));
  EXPECT_EQ(h.set().limiter().Stats().capacity, 4096u);
  EXPECT_EQ(h.AdmittedInARow(*Request("GET", "/k"), peer), 0);  // same name, rate, burst: kept
  EXPECT_EQ(h.AdmittedInARow(*Request("GET", "/c"), peer), 2);  // changed: starts afresh

  // A reload the engine refuses leaves the running set alone.
  config.policies[1].burst = 0;
  EXPECT_FALSE(h.set().Rebuild(config).ok());
  EXPECT_EQ(h.AdmittedInARow(*Request("GET", "/k"), peer), 0);
}

TEST(PolicySetTest, ScratchHoldsTheLongestKeys) {
  ServerConfig config = Config(
      {Policy("a", {"header:x-a", "path", "ip"}, 100), Policy("b", {"method", "header:x-b"}, 100)});
  config.limits.http.max_header_bytes = 1024;
  config.limits.http.max_uri_bytes = 512;
  Harness h(config);
  EXPECT_GE(h.set().scratch_bytes(), 4u * 1024 + 16);
  const std::string big(1000, 'v');
  const std::string path = "/" + std::string(500, 'p');
  const EvalOutcome& o =
      h.Eval(*Request(std::string_view(big).substr(0, 900), path, {{"x-a", big}, {"x-b", big}}),
             V6("2001:db8::1"));
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.result_count, 2u);  // both keys fitted

  // A scratch too small (a caller's bug) never overflows: the key counts as missing.
  auto set = PolicySet::Build(config);
  ASSERT_TRUE(set.ok());
  KeyScratch tiny(8);
  EvalOutcome out;
  (*set)->Evaluate(*Request("GET", "/", {{"x-a", "a"}, {"x-b", "b"}}), V4("10.0.0.1").get(), kNow,
                   tiny, out);
  EXPECT_FALSE(out.matched);
  EXPECT_TRUE(out.allowed);
}

TEST(PolicySetTest, NoPeerAddressIsOneKey) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/";
  EvalOutcome o;
  auto set = PolicySet::Build(Config({Policy("ip", {"ip"}, 1)}));
  ASSERT_TRUE(set.ok());
  KeyScratch scratch((*set)->scratch_bytes());
  (*set)->Evaluate(r, nullptr, kNow, scratch, o);
  EXPECT_TRUE(o.allowed);
  (*set)->Evaluate(r, nullptr, kNow, scratch, o);
  EXPECT_FALSE(o.allowed);
}

TEST(PolicySetTest, FormatKeyRendersEveryPart) {
  Harness h(Config({Policy("all", {"ip", "header:x-a", "path", "method"}, 5)}));
  const EvalOutcome& o = h.Eval(*Request("PUT", "/p", {{"x-a", "v\x01w"}}), V6("::ffff:10.1.2.3"));
  char text[128];
  EXPECT_EQ(std::string_view(text, FormatKey(o.key, text, sizeof(text))),
            "ip=10.1.2.3 header=v?w path=/p method=PUT");
  EXPECT_EQ(std::string_view(text, FormatKey(o.key, text, 9)), "ip=10.1.2");
  EXPECT_EQ(FormatKey("garbage", text, sizeof(text)), 0u);  // not a key: nothing
}

#ifdef SLUICE_COUNT_ALLOCATIONS
TEST(PolicySetTest, EvaluateNeverAllocates) {
  Harness h(Config({Policy("ip", {"ip"}, 3), Policy("user", {"header:x-user", "path"}, 2),
                    Policy("deny", {"header:x-key"}, 1, {"/d", ""}, WhenMissing::kDeny),
                    Policy("fallback", {"header:x-user"}, 1, {}, WhenMissing::kIp),
                    Policy("shadow", {"ip/64"}, 1, {}, WhenMissing::kSkip, PolicyMode::kShadow)}));
  const auto with = Request("GET", "/x", {{"x-user", "u"}});
  const auto without = Request("GET", "/d");
  const Peer v4 = V4("10.0.0.1");
  const Peer v6 = V6("2001:db8::1");
  const long before = sluice::testing::Allocations();
  for (int i = 0; i < 100; ++i) {
    h.Eval(*with, i % 2 ? v4 : v6, kNow + nanoseconds(i));
    h.Eval(*without, i % 2 ? v4 : v6, kNow + nanoseconds(i));
  }
  EXPECT_EQ(sluice::testing::Allocations(), before);
}
#endif

}  // namespace
}  // namespace sluice::net
