// What a policy sees of a request (DESIGN.md), at PolicySet::Evaluate(): requests parsed by the
// real parser, so the spellings of issue #11 reach the policies as a client sends them. Each
// spelling matches as the plain path does; a repeated key header is refused before anything is
// charged; case_insensitive; a trusted proxy's uri and method read by the request line's rules;
// shadow policies out of the reported (header) policy; refunds flagged. And a seeded property:
// random re-spellings of a path always match, and key, as the plain path.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"
#include "support/policy_eval.h"

namespace sluice::net {
namespace {

using testing::EvalHarness;
using testing::PeerOf;

const testing::Peer kClient = PeerOf("198.51.100.7");
const testing::Peer kProxy = PeerOf("127.0.0.1");

// A request head parsed by ParseRequestHead; owns its bytes.
class Parsed {
 public:
  explicit Parsed(std::string head) : head_(std::move(head)) {
    result_ = ParseRequestHead(head_, HttpLimits{}, *request_);
  }
  [[nodiscard]] bool ok() const { return result_.status == ParseResult::Status::kComplete; }
  [[nodiscard]] ParseError error() const { return result_.error; }
  const HttpRequest& operator*() const { return *request_; }

 private:
  std::string head_;
  std::unique_ptr<HttpRequest> request_ = std::make_unique<HttpRequest>();
  ParseResult result_;
};

std::string Head(std::string_view method, std::string_view target, std::string_view headers = "") {
  return std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n" +
         std::string(headers) + "\r\n";
}

TEST(RequestViewTest, EverySpellingOfTheIssueMatchesThePolicy) {
  EvalHarness h(testing::ConfigFromYaml(
      "policies:\n  - {name: api, match: {path_prefix: /api/}, key: ip, rate: 1/m, burst: 1}\n"));
  const Parsed first(Head("GET", "/api/x"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(h.Eval(*first, kClient).allowed);
  for (const std::string_view target :
       {"/%61pi/x", "//api/x", "/./api/x", "/x/../api/x", "/api%2Fx", "http://h/%61pi//x"}) {
    SCOPED_TRACE(target);
    const Parsed p(Head("GET", target));
    ASSERT_TRUE(p.ok()) << LabelFor(p.error());
    const EvalOutcome& o = h.Eval(*p, kClient);
    EXPECT_TRUE(o.matched);
    EXPECT_FALSE(o.allowed);
    EXPECT_EQ(o.reported, 0);
  }
}

TEST(RequestViewTest, TheParserRefusesWhatWouldStepAroundALimit) {
  const std::pair<std::string, ParseError> cases[] = {
      {Head("post", "/"), ParseError::kBadRequestLine},
      {Head("POST", "/login#3"), ParseError::kBadRequestLine},
      {Head("GET", "http://h#x/login2"), ParseError::kBadRequestLine},
      {Head("GET", "http://[::1"), ParseError::kBadRequestLine},
      {Head("GET", "/%zz"), ParseError::kBadPath},
      {Head("GET", "/%00"), ParseError::kBadPath},
      {Head("GET", "/../api/x"), ParseError::kBadPath},
      {Head("POST", "/", "Transfer-Encoding: gzip, chunked\r\n"),
       ParseError::kUnsupportedTransferCoding},
  };
  for (const auto& [head, error] : cases) {
    const Parsed p(head);
    EXPECT_FALSE(p.ok()) << head;
    EXPECT_EQ(p.error(), error) << head;
  }
}

// X-K: b then X-K: a used to be counted under b. Now it is refused, and nothing is charged in
// any policy, also not in one decided before the ambiguous one.
TEST(RequestViewTest, ARepeatedKeyHeaderIsRefusedBeforeAnythingIsCharged) {
  EvalHarness h(
      testing::ConfigFromYaml("policies:\n  - {name: by-ip, key: ip, rate: 1/h, burst: 1}\n"
                              "  - {name: by-k, key: 'header:x-k', rate: 1/h, burst: 1}\n"));
  for (const std::string_view headers :
       {"X-K: b\r\nX-K: a\r\n", "x-k: b\r\nX-K: b\r\n", "X-K: b\r\nx-k:\r\n"}) {
    const Parsed p(Head("GET", "/", headers));
    ASSERT_TRUE(p.ok());
    const EvalOutcome& o = h.Eval(*p, kClient);
    EXPECT_EQ(o.refusal, Refusal::kAmbiguousKey) << headers;
    EXPECT_FALSE(o.matched);
    EXPECT_EQ(o.result_count, 0u);
  }
  const Parsed once(Head("GET", "/", "X-K: b\r\n"));
  EXPECT_TRUE(h.Eval(*once, kClient).allowed);  // neither by-ip nor b was charged
  EXPECT_FALSE(h.Eval(*once, kClient).allowed);
  // A header no matching policy keys on may repeat.
  const Parsed other(Head("GET", "/", "X-K: c\r\nAccept: a\r\nAccept: b\r\n"));
  EXPECT_EQ(h.Eval(*other, PeerOf("198.51.100.8")).refusal, Refusal::kNone);
}

TEST(RequestViewTest, CaseInsensitiveMatchAndKey) {
  EvalHarness h(testing::ConfigFromYaml(
      "policies:\n  - name: ci\n    match: {path_prefix: /Login, case_insensitive: true}\n"
      "    key: [path]\n    rate: 1/h\n    burst: 1\n"
      "  - {name: cs, match: {path_prefix: /Login}, key: path, rate: 1/h, burst: 5}\n"));
  const Parsed upper(Head("GET", "/LOGIN/x"));
  const Parsed lower(Head("GET", "/login/%58"));
  const Parsed exact(Head("GET", "/Login/x"));
  const EvalOutcome& a = h.Eval(*upper, kClient);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.result_count, 1u);  // only ci: cs is case-sensitive
  EXPECT_EQ(h.Key(*upper, kClient), "path=/login/x");
  const EvalOutcome& b = h.Eval(*lower, kClient);  // one key with /LOGIN/x
  EXPECT_FALSE(b.allowed);
  const EvalOutcome& c = h.Eval(*exact, kClient);  // ci denies; cs would have matched
  EXPECT_FALSE(c.allowed);
  EXPECT_EQ(c.reported, 0);
}

TEST(RequestViewTest, ATrustedProxysUriAndMethodFollowTheRequestLinesRules) {
  EvalHarness h(testing::ConfigFromYaml(
      "forwarded: {trusted: [127.0.0.1], uri: x-original-uri, method: x-original-method}\n"
      "policies:\n  - {name: api, match: {path_prefix: /api/, method: POST}, key: [ip, path],"
      " rate: 1/h, burst: 1}\n"));
  const Parsed first(Head("GET", "/auth", "X-Original-URI: /api/x\r\nX-Original-Method: POST\r\n"));
  EXPECT_TRUE(h.Eval(*first, kProxy).allowed);
  EXPECT_NE(h.Key(*first, kProxy).find("path=/api/x"), std::string::npos);  // now denied
  for (const std::string_view uri :
       {"/%61pi/x", "//api/./x", "/y/../api/x?q", "http://h/api%2Fx"}) {
    SCOPED_TRACE(uri);
    const Parsed p(Head("GET", "/auth",
                        "X-Original-URI: " + std::string(uri) + "\r\nX-Original-Method: POST\r\n"));
    ASSERT_TRUE(p.ok());
    const EvalOutcome& o = h.Eval(*p, kProxy);
    EXPECT_TRUE(o.matched);
    EXPECT_FALSE(o.allowed);  // the same key as /api/x
  }
  for (const std::string_view headers :
       {"X-Original-URI: /api/%zz\r\n", "X-Original-URI: /api/x#f\r\n",
        "X-Original-URI: /../api/x\r\n", "X-Original-URI: api/x\r\n",
        "X-Original-URI: /api/x\r\nX-Original-Method: post\r\n"}) {
    const Parsed p(Head("GET", "/auth", headers));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(h.Eval(*p, kProxy).refusal, Refusal::kBadForwarded) << headers;
    // From an untrusted peer the headers are not read at all.
    EXPECT_EQ(h.Eval(*p, kClient).refusal, Refusal::kNone) << headers;
  }
}

// An enforcing A (burst 100) and a shadow S (burst 1): the reported policy, the one the
// headers name, is A; S is what the decision log names once it would have denied.
TEST(RequestViewTest, ShadowPoliciesAreNeverReported) {
  EvalHarness h(
      testing::ConfigFromYaml("policies:\n  - {name: A, key: ip, rate: 100/s, burst: 100}\n"
                              "  - {name: S, key: ip, rate: 1/h, burst: 1, mode: shadow}\n"));
  const Parsed p(Head("GET", "/"));
  for (int i = 0; i < 3; ++i) {
    const EvalOutcome& o = h.Eval(*p, kClient);
    EXPECT_TRUE(o.allowed);
    EXPECT_EQ(o.reported, 0) << i;
    EXPECT_EQ(o.shadow_denied, i > 0) << i;
    EXPECT_EQ(o.log_policy, i > 0 ? 1 : 0) << i;
    EXPECT_EQ(o.log_shadow, i > 0) << i;
  }
  EvalHarness alone(testing::ConfigFromYaml(
      "policies:\n  - {name: S, key: ip, rate: 1/h, burst: 1, mode: shadow}\n"));
  for (int i = 0; i < 2; ++i) {
    const EvalOutcome& o = alone.Eval(*p, kClient);
    EXPECT_TRUE(o.matched && o.allowed);
    EXPECT_EQ(o.reported, -1);  // no headers
    EXPECT_EQ(o.log_policy, 0);
    EXPECT_TRUE(o.log_shadow);
  }
}

TEST(RequestViewTest, AdmissionsGivenBackAreFlaggedRefunded) {
  EvalHarness h(
      testing::ConfigFromYaml("policies:\n  - {name: P, key: ip, rate: 1/h, burst: 10}\n"
                              "  - {name: S, key: ip, rate: 1/h, burst: 10, mode: shadow}\n"
                              "  - {name: Q, key: ip, rate: 1/h, burst: 1}\n"));
  const Parsed p(Head("GET", "/"));
  const EvalOutcome& first = h.Eval(*p, kClient);
  ASSERT_TRUE(first.allowed);
  for (std::size_t i = 0; i < first.result_count; ++i) EXPECT_FALSE(first.results[i].refunded);
  const EvalOutcome& second = h.Eval(*p, kClient);
  ASSERT_FALSE(second.allowed);
  ASSERT_EQ(second.result_count, 3u);
  EXPECT_TRUE(second.results[0].refunded);   // P admitted, given back
  EXPECT_TRUE(second.results[1].refunded);   // so did the shadow S
  EXPECT_FALSE(second.results[2].refunded);  // Q denied
  EXPECT_FALSE(second.results[2].allowed);
}

// Property: a plain path and random re-spellings of it (each byte percent-encoded or not, "./"
// and "z/../" inserted, slashes doubled, some encoded) match the same policies and give the
// same path key. Seeded; 2000 paths.
TEST(RequestViewTest, RandomRespellingsMatchAndKeyAsThePlainPath) {
  EvalHarness h(testing::ConfigFromYaml(
      "table: {capacity: 65536}\npolicies:\n"
      "  - {name: a, match: {path_prefix: /a/}, key: path, rate: 1000/s, burst: 1000000}\n"
      "  - {name: ab, match: {path_prefix: /a/b}, key: path, rate: 1000/s, burst: 1000000}\n"
      "  - {name: c, match: {path_prefix: /c/d/}, key: path, rate: 1000/s, burst: 1000000}\n"));
  std::mt19937 rng(20261201);
  constexpr std::string_view kBytes = "abcd-._~";
  const auto encode = [](char c) {
    static constexpr char kHex[] = "0123456789abcdef";
    const auto u = static_cast<unsigned char>(c);
    return std::string{'%', kHex[u >> 4], kHex[u & 15]};
  };
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string plain;
    for (int s = 1 + static_cast<int>(rng() % 4); s > 0; --s) {
      std::string segment;
      do {
        segment.clear();
        for (int n = 1 + static_cast<int>(rng() % 3); n > 0; --n) {
          segment += kBytes[rng() % kBytes.size()];
        }
      } while (segment == "." || segment == "..");
      plain += "/" + segment;
    }
    std::string spelt;
    for (std::size_t i = 0; i < plain.size(); ++i) {
      const char c = plain[i];
      if (c == '/') {
        spelt += i == 0 || rng() % 4 != 0 ? "/" : encode('/');
        if (rng() % 4 == 0) spelt += "/";
        if (rng() % 4 == 0) spelt += "./";
        if (rng() % 5 == 0) spelt += "z/%2e%2e/";
      } else {
        spelt += rng() % 3 == 0 ? encode(c) : std::string(1, c);
      }
    }
    SCOPED_TRACE(spelt);
    const Parsed a(Head("GET", plain));
    const Parsed b(Head("GET", spelt));
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ((*b).path, plain);
    const EvalOutcome& oa = h.Eval(*a, kClient);
    const std::size_t matched = oa.result_count;
    const std::string key_a = h.Key(*a, kClient);
    const EvalOutcome& ob = h.Eval(*b, kClient);
    ASSERT_EQ(ob.result_count, matched);
    ASSERT_EQ(h.Key(*b, kClient), key_a);
  }
}

}  // namespace
}  // namespace sluice::net
