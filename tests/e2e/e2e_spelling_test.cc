// End-to-end: a limit cannot be walked around by spelling a request differently (DESIGN.md
// "What a policy sees of a request"), and what the headers and counters tell about it: every
// spelling of issue #11 against the real sluiced, the 400/501 answers and their counters,
// shadow policies kept out of the headers, refunded admissions counted apart, and the admin
// listener's reason phrases. Every wait polls; nothing asserts a timing.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"
#include "start_or_skip.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

std::string Config(const std::string& policies, const std::string& extra = "") {
  return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n" + extra + "policies:\n" + policies;
}

std::string Line(const std::string& method, const std::string& target,
                 const std::string& headers = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n";
}

std::string ParseErrors(const std::string& kind) {
  return "sluice_parse_errors_total{kind=\"" + kind + "\"}";
}

// A malformed request is answered with `status` and the connection closed, nothing after it.
void ExpectRefusedAndClosed(const Sluiced& server, const std::string& raw, int status) {
  SCOPED_TRACE(raw);
  Client c(server.port());
  ASSERT_TRUE(c.Send(raw + Line("GET", "/after")));
  const auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, status);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.ReadsEof()) << "the pipelined request after it was answered";
}

// The issue's first table: after /api/x used the one request of `match: {path_prefix: /api/}`,
// every other spelling of that path is the same path and is denied too.
TEST(E2eSpellingTest, EverySpellingOfAPathMatchesItsPolicy) {
  Sluiced server(
      Config("  - {name: api, match: {path_prefix: /api/}, key: ip, rate: 1/m, burst: 1}\n"));
  START_OR_SKIP(server);
  const auto first = Get(server.port(), Line("GET", "/api/x"));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->Header("ratelimit-policy"), "\"api\";q=1;w=60");
  for (const std::string target : {"/%61pi/x", "//api/x", "/./api/x", "/x/../api/x", "/api%2Fx",
                                   "/api%2fx", "/%2e/api/x", "http://t/%61pi/x", "/api/x?q=1"}) {
    SCOPED_TRACE(target);
    const auto r = Get(server.port(), Line("GET", target));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->Header("ratelimit-policy"), "\"api\";q=1;w=60");
  }
  // Another path is another matter (no policy: 200 without headers).
  const auto other = Get(server.port(), Line("GET", "/apix"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->headers.count("ratelimit-policy"), 0u);
  EXPECT_EQ(WaitForMetric(server, PolicySeries("api", "denied"), 9), 9u);
}

// Paths that cannot be normalised, fragments, bad authorities and methods: 400 and a close,
// each counted under its kind; a coding sluiced does not implement: 501.
TEST(E2eSpellingTest, UnreadableRequestsAreRefusedAndCounted) {
  Sluiced server(Config(
      "  - {name: post, match: {method: POST}, key: ip, rate: 1/h, burst: 1}\n"
      "  - {name: login, match: {path_prefix: /login}, key: [ip, path], rate: 1/h, burst: 1}\n"));
  START_OR_SKIP(server);
  const std::vector<std::string> bad_path = {
      "/%zz", "/a%00b", "/..", "/a/../..", "/%2e%2e/x", "/a%0d%0aSet-Cookie:x", "/x%7f"};
  for (const std::string& target : bad_path)
    ExpectRefusedAndClosed(server, Line("GET", target), 400);
  const std::vector<std::string> bad_line = {Line("post", "/"),
                                             Line("Post", "/"),
                                             Line("GET", "/login#1"),
                                             Line("GET", "http://h#x/login2"),
                                             Line("GET", "http://[::1"),
                                             Line("GET", "http://u@h/"),
                                             Line("GET", "http://h:99999/"),
                                             Line("CONNECT", "h")};
  for (const std::string& raw : bad_line) ExpectRefusedAndClosed(server, raw, 400);
  ExpectRefusedAndClosed(
      server, Line("POST", "/up", "Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n", 501);

  EXPECT_EQ(WaitForMetric(server, ParseErrors("bad_path"), bad_path.size()), bad_path.size());
  EXPECT_EQ(server.Metric(ParseErrors("bad_request_line")), bad_line.size());
  EXPECT_EQ(server.Metric(ParseErrors("unsupported_transfer_coding")), 1u);
  // None of them reached a policy.
  EXPECT_EQ(server.Metric("sluice_policy_decisions_total"), 0u);

  // The issue's runs: `post` used to slip past `method: POST`; POST /login#N made a new key
  // per N. Now POST is limited once, and the fragments are refused before any policy.
  EXPECT_EQ(StatusOf(server.port(), Line("POST", "/")), 200);
  EXPECT_EQ(StatusOf(server.port(), Line("POST", "/")), 429);
  int refused = 0;
  for (int n = 0; n < 20; ++n) {
    refused += StatusOf(server.port(), Line("POST", "/login#" + std::to_string(n))) == 400;
  }
  EXPECT_EQ(refused, 20);
}

// A header a key is made of, sent twice: which one a backend reads is anyone's guess. 400,
// counted as ambiguous_key, and neither value is charged.
TEST(E2eSpellingTest, ARepeatedKeyHeaderIsAmbiguous) {
  Sluiced server(Config("  - {name: per-k, key: 'header:x-k', rate: 1/h, burst: 1}\n"));
  START_OR_SKIP(server);
  ExpectRefusedAndClosed(server, Line("GET", "/", "X-K: b\r\nX-K: a\r\n"), 400);
  ExpectRefusedAndClosed(server, Line("GET", "/", "x-k: b\r\nX-K: b\r\n"), 400);
  EXPECT_EQ(WaitForMetric(server, ParseErrors("ambiguous_key"), 2), 2u);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/", "X-K: b\r\n")), 200);  // b was not charged
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/", "X-K: b\r\n")), 429);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/", "X-K: a\r\n")), 200);
  // A header no policy keys on may repeat.
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/", "X-K: c\r\nAccept: a\r\nAccept: b\r\n")), 200);
}

// match.case_insensitive: "/API/x" and "/api/x" are one match and one key; GET /config shows
// the setting.
TEST(E2eSpellingTest, CaseInsensitiveMatch) {
  Sluiced server(
      Config("  - name: ci\n    match: {path_prefix: /api/, case_insensitive: true}\n"
             "    key: [ip, path]\n    rate: 1/h\n    burst: 1\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/API/x")), 200);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/api/X")), 429);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/Api/%78")), 429);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/api/y")), 200);
  const auto config = Get(server.admin_port(), Line("GET", "/config"));
  ASSERT_TRUE(config.has_value());
  EXPECT_NE(config->body.find("case_insensitive: true"), std::string::npos) << config->body;
}

// A trusted proxy's X-Original-URI goes through the same normaliser; one it sends that cannot
// be read is refused (fail closed: the proxy's client gets no free pass).
TEST(E2eSpellingTest, AForwardedUriIsNormalisedToo) {
  Sluiced server(Config(
      "  - {name: api, match: {path_prefix: /api/}, key: ip, rate: 1/h, burst: 1}\n",
      "forwarded: {trusted: [127.0.0.1], uri: x-original-uri, method: x-original-method}\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/auth", "X-Original-URI: /api/x\r\n")), 200);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/auth", "X-Original-URI: /%61pi//x\r\n")), 429);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/auth", "X-Original-URI: /x/../api/y?q\r\n")),
            429);
  ExpectRefusedAndClosed(server, Line("GET", "/auth", "X-Original-URI: /api/%zz\r\n"), 400);
  ExpectRefusedAndClosed(server, Line("GET", "/auth", "X-Original-URI: /api/x#f\r\n"), 400);
  ExpectRefusedAndClosed(server, Line("GET", "/auth", "X-Original-Method: post\r\n"), 400);
  EXPECT_EQ(WaitForMetric(server, ParseErrors("bad_forwarded"), 3), 3u);
}

// An enforcing A (burst 100) and a shadow S (1/h, burst 1): the headers clients obey name A
// only; S shows in its counters and in the decision log.
TEST(E2eSpellingTest, ShadowPoliciesStayOutOfTheHeaders) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config("  - {name: A, key: ip, rate: 100/s, burst: 100}\n"
             "  - {name: S, key: ip, rate: 1/h, burst: 1, mode: shadow}\n",
             "log: {denials: \"" + log.path() + "\"}\n"));
  START_OR_SKIP(server);
  Client c(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Line("GET", "/")));
    const auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->Header("ratelimit-policy").rfind("\"A\";q=100;", 0), 0u) << i;
    EXPECT_EQ(r->Header("ratelimit").rfind("\"A\";r=", 0), 0u) << i;
  }
  EXPECT_EQ(WaitForMetric(server, PolicySeries("S", "shadow_denied"), 2), 2u);
  EXPECT_EQ(server.Metric(PolicySeries("S", "admitted")), 1u);
  // A shadow policy alone decides nothing a client sees: no headers at all.
  const std::vector<std::string> lines = log.WaitForLines(2);
  ASSERT_GE(lines.size(), 2u);
  for (const std::string& line : lines) {
    EXPECT_EQ(JsonField(line, "policy"), "\"S\"") << line;
    EXPECT_EQ(JsonField(line, "mode"), "\"shadow\"") << line;
    EXPECT_EQ(JsonField(line, "status"), "200") << line;
  }

  Sluiced alone(Config("  - {name: S, key: ip, rate: 1/h, burst: 1, mode: shadow}\n"));
  START_OR_SKIP(alone);
  for (int i = 0; i < 2; ++i) {
    const auto r = Get(alone.port(), Line("GET", "/"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->headers.count("ratelimit-policy"), 0u) << r->Header("ratelimit-policy");
    EXPECT_EQ(r->headers.count("ratelimit"), 0u);
  }
}

// P admits, Q (after it) denies: P's admission is given back and counted as refunded, not as
// admitted.
TEST(E2eSpellingTest, RefundedAdmissionsAreCountedApart) {
  Sluiced server(
      Config("  - {name: P, key: ip, rate: 1/h, burst: 10}\n"
             "  - {name: Q, key: ip, rate: 1/h, burst: 1}\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/")), 200);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/")), 429);
  EXPECT_EQ(StatusOf(server.port(), Line("GET", "/")), 429);
  EXPECT_EQ(WaitForMetric(server, PolicySeries("P", "refunded"), 2), 2u);
  EXPECT_EQ(server.Metric(PolicySeries("P", "admitted")), 1u);
  EXPECT_EQ(server.Metric(PolicySeries("Q", "admitted")), 1u);
  EXPECT_EQ(server.Metric(PolicySeries("Q", "denied")), 2u);
  EXPECT_EQ(server.Metric(PolicySeries("Q", "refunded")), 0u);
}

// The admin listener answers each error with its own status and reason phrase.
TEST(E2eSpellingTest, AdminErrorsCarryTheirOwnReasonPhrases) {
  Sluiced server(Config("  - {name: p, key: ip, rate: 1/s, burst: 1}\n"));
  START_OR_SKIP(server);
  const auto status_line = [&](const std::string& raw) {
    Client c(server.admin_port());
    c.Send(raw);
    const auto all = c.ReadToEof();
    return all ? all->substr(0, all->find("\r\n")) : std::string("no answer");
  };
  EXPECT_EQ(status_line("GET /" + std::string(5000, 'u') + " HTTP/1.1\r\nHost: a\r\n\r\n"),
            "HTTP/1.1 414 URI Too Long");
  EXPECT_EQ(status_line("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(9000, 'x') + "\r\n\r\n"),
            "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(status_line("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            "HTTP/1.1 505 HTTP Version Not Supported");
  EXPECT_EQ(status_line("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_line("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            "HTTP/1.1 501 Not Implemented");
}

}  // namespace
}  // namespace sluice::e2e
