// ngx_http_sluice_module in Debian's nginx: limit_req's own behaviours (nginx-tests
// limit_req.t, limit_req_delay.t, limit_req_dry_run.t) ported as cases, plus what sluice adds
// (429 with an exact Retry-After, the RateLimit fields, keys of any length). One nginx process
// (master_process off) per test on a free loopback port; rates of 1r/m make counts exact, and
// nothing asserts a timing except lower bounds that delays guarantee.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "module_nginx.h"

namespace sluice::nginx_test {
namespace {

using namespace std::chrono_literals;
using e2e::Response;

#define START_OR_SKIP(nginx)                                     \
  do {                                                           \
    if (!Find().missing.empty()) GTEST_SKIP() << Find().missing; \
    ASSERT_TRUE((nginx).ok()) << (nginx).Log();                  \
  } while (0)

// A server with a key from X-Key, `extra` in the location, and the status in X-Status.
std::string Server(const std::string& zone_args, const std::string& location,
                   const std::string& more = "") {
  return "  sluice_req_zone $http_x_key " + zone_args +
         ";\n"
         "  server {\n"
         "    listen 127.0.0.1:@PORT@;\n"
         "    add_header X-Status \"$sluice_req_status\" always;\n"
         "    add_header X-Numbers \"$sluice_req_remaining $sluice_req_retry_after "
         "$sluice_req_reset $sluice_req_zone\" always;\n"
         "    location / {\n" +
         location +
         "\n      empty_gif;\n    }\n"
         "    location = /stats { sluice_req_stats; }\n" +
         more + "  }\n";
}

int Status(std::uint16_t port, const std::string& key, const std::string& path = "/") {
  auto r = Get(port, path, KeyHeader(key));
  return r ? r->status : -1;
}

TEST(NginxModule, ModuleLoadsAndExportsOnlyNginxSymbols) {
  if (!Find().missing.empty()) GTEST_SKIP() << Find().missing;
  auto [status, out] = TestConfig(Server("zone=one:1m rate=1r/m", "sluice_req zone=one;"));
  EXPECT_EQ(status, 0) << out;
  // load_module dlopens with RTLD_GLOBAL: the engine must not leak into nginx's namespace.
  auto [nm_status, symbols] = e2e::RunShell("nm -D --defined-only " + Find().module);
  ASSERT_EQ(nm_status, 0) << symbols;
  std::vector<std::string> names;
  std::size_t at = 0;
  while (at < symbols.size()) {
    const std::size_t eol = symbols.find('\n', at);
    const std::string line = symbols.substr(at, eol - at);
    at = eol == std::string::npos ? symbols.size() : eol + 1;
    const std::size_t space = line.rfind(' ');
    if (space != std::string::npos) names.push_back(line.substr(space + 1));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"ngx_http_sluice_module", "ngx_module_names",
                                             "ngx_module_order", "ngx_modules"}))
      << symbols;
  // The engine is linked in: no libsluice at run time.
  auto [re_status, dynamic] = e2e::RunShell("readelf -d " + Find().module);
  ASSERT_EQ(re_status, 0) << dynamic;
  EXPECT_EQ(dynamic.find("libsluice"), std::string::npos) << dynamic;
}

TEST(NginxModule, BadConfigurationsAreRefusedWithTheirLine) {
  if (!Find().missing.empty()) GTEST_SKIP() << Find().missing;
  const struct {
    std::string body;
    std::string message;
  } cases[] = {
      {Server("zone=one:1m rate=1r/m", "sluice_req zone=two;"), "unknown sluice_req_zone \"two\""},
      {Server("zone=one:1m rate=fast", "sluice_req zone=one;"), "invalid rate \"rate=fast\""},
      {Server("zone=one:1m", "sluice_req zone=one;"), "must have \"rate\" parameter"},
      {Server("zone=one:1k rate=1r/s", "sluice_req zone=one;"), "is too small"},
      {Server("zone=one:1m rate=1r/s when_full=maybe", "sluice_req zone=one;"),
       "when_full=evict, deny or allow"},
      {Server("zone=one:1m rate=1r/s", "sluice_req zone=one; sluice_req zone=one;"),
       "is duplicate"},
      {Server("zone=one:1m rate=1r/s", "sluice_req zone=one burst=0;"), "invalid burst value"},
      {Server("zone=one:1m rate=1r/s", "sluice_req zone=one; sluice_req_status 200;"),
       "value must be between 400 and 599"},
      {Server("zone=one:1m rate=1r/s", "sluice_req zone=one; sluice_req_headers maybe;"),
       "invalid value \"maybe\""},
  };
  for (const auto& c : cases) {
    auto [status, out] = TestConfig(c.body);
    EXPECT_NE(status, 0) << c.body;
    EXPECT_NE(out.find(c.message), std::string::npos) << out;
    EXPECT_NE(out.find("nginx.conf:"), std::string::npos) << "no line in: " << out;
  }
}

// limit_req.t: reject status (here 429 by default), and a configured one.
TEST(NginxModule, RejectsWith429ByDefaultAndTheConfiguredStatus) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m", "sluice_req zone=one;",
                           "    location /custom { sluice_req zone=one; sluice_req_status 501; "
                           "empty_gif; }\n"));
  START_OR_SKIP(nginx);
  EXPECT_EQ(Status(nginx.port(), "a"), 200);
  EXPECT_EQ(Status(nginx.port(), "a"), 429);
  EXPECT_EQ(Status(nginx.port(), "b", "/custom"), 200);
  EXPECT_EQ(Status(nginx.port(), "b", "/custom"), 501);
}

// sluiced's own header sequence (tests/e2e/e2e_test.cc RetryAfterAndRateLimitHeaders): 1/s,
// capacity 2 (limit_req burst=1), headers on every answer.
TEST(NginxModule, RetryAfterAndRateLimitHeadersAsSluicedWritesThem) {
  ModuleNginx nginx(Server("zone=per-key:1m rate=1r/s",
                           "sluice_req zone=per-key burst=1 nodelay; sluice_req_headers always;"));
  START_OR_SKIP(nginx);
  e2e::Client c(nginx.port());
  const std::string req = e2e::Request("/", KeyHeader("alice"));
  ASSERT_TRUE(c.Send(req));
  auto first = c.Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->Header("ratelimit-policy"), "\"per-key\";q=2;w=2");
  EXPECT_EQ(first->Header("ratelimit"), "\"per-key\";r=1;t=1");
  EXPECT_EQ(first->Header("retry-after"), "");
  EXPECT_EQ(first->Header("x-numbers"), "1 0 1 per-key");  // remaining, retry after, reset
  ASSERT_TRUE(c.Send(req));
  auto second = c.Read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->Header("ratelimit"), "\"per-key\";r=0;t=2");
  ASSERT_TRUE(c.Send(req));
  auto third = c.Read();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 429);
  EXPECT_EQ(third->Header("retry-after"), "1");
  EXPECT_EQ(third->Header("ratelimit"), "\"per-key\";r=0;t=2");
  EXPECT_EQ(third->Header("x-status"), "REJECTED");
  EXPECT_EQ(third->Header("x-numbers"), "0 1 2 per-key");
  EXPECT_FALSE(third->body.empty());
  // Another key is unaffected.
  EXPECT_EQ(Status(nginx.port(), "bob"), 200);
}

// Every denial: 429, Retry-After equal to the GCRA wait rounded up (1r/m, capacity 3: the 4th
// request waits one emission interval, 60 s), and with `on` the fields parse as RFC 8941.
TEST(NginxModule, EveryDenialCarriesAnExactRetryAfterAndWellFormedFields) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m",
                           "sluice_req zone=one burst=2 nodelay; sluice_req_headers on;"));
  START_OR_SKIP(nginx);
  e2e::Client c(nginx.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(e2e::Request("/", KeyHeader("k"))));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("ratelimit"), "") << "headers on: denials only";
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send(e2e::Request("/", KeyHeader("k"))));
    auto r = c.Read();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 429);
    EXPECT_EQ(r->Header("retry-after"), "60");
    auto policy = ParseRateLimitField(r->Header("ratelimit-policy"), {"q", "w"});
    ASSERT_TRUE(policy) << r->Header("ratelimit-policy");
    EXPECT_EQ((*policy)[""], "one");
    EXPECT_EQ((*policy)["q"], "3");
    EXPECT_EQ((*policy)["w"], "180");
    auto fields = ParseRateLimitField(r->Header("ratelimit"), {"r", "t"});
    ASSERT_TRUE(fields) << r->Header("ratelimit");
    EXPECT_EQ((*fields)[""], "one");
    EXPECT_EQ((*fields)["r"], "0");
    EXPECT_EQ((*fields)["t"], "180");
  }
  // Headers off (the default): the denial still carries Retry-After, nothing else.
  ModuleNginx quiet(Server("zone=one:1m rate=1r/m", "sluice_req zone=one;"));
  ASSERT_TRUE(quiet.ok()) << quiet.Log();
  EXPECT_EQ(Status(quiet.port(), "k"), 200);
  auto r = Get(quiet.port(), "/", KeyHeader("k"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->Header("retry-after"), "60");
  EXPECT_EQ(r->Header("ratelimit"), "");
  EXPECT_EQ(r->Header("ratelimit-policy"), "");
}

// limit_req.t "rejects not counted": after a storm of denials the key is admitted again one
// emission interval after its last admission, not after the storm's worth.
TEST(NginxModule, RejectedRequestsAreNotCounted) {
  ModuleNginx nginx(Server("zone=one:1m rate=2r/s", "sluice_req zone=one;"));
  START_OR_SKIP(nginx);
  // Taken before the request: its admission, and so the next one, can only come later.
  const auto admitted_at = std::chrono::steady_clock::now();
  ASSERT_EQ(Status(nginx.port(), "a"), 200);
  int denied = 0;
  for (int i = 0; i < 50; ++i) denied += Status(nginx.port(), "a") == 429;
  // 50 requests inside 500 ms on loopback: most are denials; charging them would push the
  // key 25 s out. Poll: admitted again well within 5 s.
  EXPECT_GT(denied, 0);
  EXPECT_TRUE(e2e::PollUntil([&] { return Status(nginx.port(), "a") == 200; }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - admitted_at, 500ms - 1ms);
}

// limit_req.t burst: burst=B admits B + 1 at once, like limit_req.
TEST(NginxModule, BurstAdmitsBurstPlusOneAtOnce) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m", "sluice_req zone=one burst=5 nodelay;"));
  START_OR_SKIP(nginx);
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += Status(nginx.port(), "b") == 200;
  EXPECT_EQ(admitted, 6);
}

// limit_req_delay.t: without nodelay, requests past the first wait excess / rate; delay=D
// lets D excess requests through at once and delays the rest. Requests go out together on
// their own connections; the statuses tell PASSED from DELAYED.
std::vector<std::string> Together(std::uint16_t port, int n, const std::string& key,
                                  const std::string& path = "/") {
  std::vector<std::unique_ptr<e2e::Client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<e2e::Client>(port, 10s));
    clients.back()->Send(e2e::Request(path, KeyHeader(key)));
  }
  std::vector<std::string> statuses;
  for (auto& c : clients) {
    auto r = c->Read();
    statuses.push_back(r ? std::to_string(r->status) + " " + r->Header("x-status") : "none");
  }
  std::sort(statuses.begin(), statuses.end());
  return statuses;
}

TEST(NginxModule, DelayWithoutNodelayAndWithDelayParameter) {
  ModuleNginx nginx(
      Server("zone=one:1m rate=10r/s", "sluice_req zone=one burst=3;",
             "    location /d { sluice_req zone=one burst=4 delay=2; empty_gif; }\n"
             "    location /n { sluice_req zone=one burst=3 nodelay; empty_gif; }\n"));
  START_OR_SKIP(nginx);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Together(nginx.port(), 4, "plain"),
            (std::vector<std::string>{"200 DELAYED", "200 DELAYED", "200 DELAYED", "200 PASSED"}));
  // The third excess request waits 3 emission intervals (300 ms) at least.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 290ms);

  std::vector<std::unique_ptr<e2e::Client>> clients;
  std::vector<std::string> statuses;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(std::make_unique<e2e::Client>(nginx.port(), 10s));
    clients.back()->Send(e2e::Request("/d", KeyHeader("delay2")));
  }
  int passed = 0;
  int delayed = 0;
  for (auto& c : clients) {
    auto r = c->Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    passed += r->Header("x-status") == "PASSED";
    delayed += r->Header("x-status") == "DELAYED";
  }
  EXPECT_EQ(passed, 3);  // the first and 2 excess requests
  EXPECT_EQ(delayed, 2);

  // nodelay: all four at once, none delayed; the fifth rejected.
  EXPECT_EQ(Together(nginx.port(), 5, "nodelay", "/n"),
            (std::vector<std::string>{"200 PASSED", "200 PASSED", "200 PASSED", "200 PASSED",
                                      "429 REJECTED"}));
}

// limit_req_dry_run.t: accounted as usual, never delayed or rejected; the variable says what
// would have happened.
TEST(NginxModule, DryRunDecidesButNeverDelaysOrRejects) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m",
                           "sluice_req zone=one burst=1 nodelay; sluice_req_dry_run on;",
                           "    location /delay { sluice_req zone=one burst=2; "
                           "sluice_req_dry_run on; empty_gif; }\n"));
  START_OR_SKIP(nginx);
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto r = Get(nginx.port(), "/", KeyHeader("dry"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("retry-after"), "");
    seen.push_back(r->Header("x-status"));
  }
  EXPECT_EQ(seen,
            (std::vector<std::string>{"PASSED", "PASSED", "REJECTED_DRY_RUN", "REJECTED_DRY_RUN"}));
  auto a = Get(nginx.port(), "/delay", KeyHeader("dd"));
  auto b = Get(nginx.port(), "/delay", KeyHeader("dd"));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->Header("x-status"), "PASSED");
  EXPECT_EQ(b->Header("x-status"), "DELAYED_DRY_RUN");
  EXPECT_EQ(b->status, 200);
}

// error_page 429 redirects internally: the denial's headers and $sluice_req_status survive.
TEST(NginxModule, ErrorPageKeepsTheDenialsHeaders) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m",
                           "sluice_req zone=one; sluice_req_headers on; "
                           "error_page 429 /limited;",
                           "    location = /limited { internal; default_type text/plain; "
                           "add_header X-Page \"$sluice_req_status\" always; "
                           "return 429 \"slow down\\n\"; }\n"));
  START_OR_SKIP(nginx);
  EXPECT_EQ(Status(nginx.port(), "e"), 200);
  auto r = Get(nginx.port(), "/", KeyHeader("e"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->body, "slow down\n");
  EXPECT_EQ(r->Header("retry-after"), "60");
  EXPECT_EQ(r->Header("ratelimit"), "\"one\";r=0;t=60");
  EXPECT_EQ(r->Header("x-page"), "REJECTED");
}

// Subrequests are decided with their main request, once (auth_request here): capacity 2
// admits two main requests, whatever their subrequests do.
TEST(NginxModule, SubrequestsAreDecidedOnceWithTheMainRequest) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m",
                           "sluice_req zone=one burst=1 nodelay; "
                           "auth_request /auth;",
                           "    location = /auth { internal; sluice_req zone=one burst=1 "
                           "nodelay; empty_gif; }\n"));
  START_OR_SKIP(nginx);
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(Status(nginx.port(), "s"));
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 429, 429}));
}

// limit_req: an empty key is not accounted.
TEST(NginxModule, EmptyKeyIsNotLimited) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m", "sluice_req zone=one;"));
  START_OR_SKIP(nginx);
  for (int i = 0; i < 10; ++i) {
    auto r = Get(nginx.port(), "/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("x-status"), "");
  }
  auto stats = Get(nginx.port(), "/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(e2e::MetricSum(stats->body,
                           "sluice_nginx_requests_total{zone=\"one\",outcome=\"empty_key\"}"),
            10u)
      << stats->body;
}

// limit_req skips keys over 65535 bytes; sluice hashes keys, so a 64 KiB key is limited like
// any other, and two that differ only in their last byte are two keys.
TEST(NginxModule, SixtyFourKibKeysAreLimitedAndKeptApart) {
  ModuleNginx nginx("  large_client_header_buffers 4 256k;\n" +
                    Server("zone=one:1m rate=1r/m", "sluice_req zone=one;"));
  START_OR_SKIP(nginx);
  std::string a(65536, 'k');
  std::string b = a;
  b.back() = 'j';
  EXPECT_EQ(Status(nginx.port(), a), 200);
  EXPECT_EQ(Status(nginx.port(), a), 429);
  EXPECT_EQ(Status(nginx.port(), b), 200);
  EXPECT_EQ(Status(nginx.port(), b), 429);
}

// Inheritance is limit_req's: a level without sluice_req takes the outer level's; one of its
// own replaces them all.
TEST(NginxModule, LimitsInheritLikeLimitReq) {
  ModuleNginx nginx(
      "  sluice_req_zone $http_x_key zone=one:1m rate=1r/m;\n"
      "  sluice_req_zone $http_x_other zone=two:1m rate=1r/m;\n"
      "  sluice_req zone=one;\n"
      "  server {\n"
      "    listen 127.0.0.1:@PORT@;\n"
      "    location /inherit { empty_gif; }\n"
      "    location /own { sluice_req zone=two; empty_gif; }\n"
      "  }\n");
  START_OR_SKIP(nginx);
  EXPECT_EQ(Status(nginx.port(), "i", "/inherit"), 200);
  EXPECT_EQ(Status(nginx.port(), "i", "/inherit"), 429);
  // /own is limited by zone two only (key X-Other), not by zone one.
  auto r = Get(nginx.port(), "/own", KeyHeader("i") + "X-Other: o\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = Get(nginx.port(), "/own", KeyHeader("i") + "X-Other: o\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
}

// Several sluice_req in one location: all must admit; a request one zone denies consumes
// nothing in the others.
TEST(NginxModule, SeveralZonesDecideTogetherWithoutDoubleSpend) {
  ModuleNginx nginx(
      "  sluice_req_zone $http_x_key zone=per_key:1m rate=1r/m;\n"
      "  sluice_req_zone $server_name zone=per_server:1m rate=1r/m;\n"
      "  server {\n"
      "    listen 127.0.0.1:@PORT@;\n"
      "    server_name s;\n"
      "    add_header X-Zone \"$sluice_req_zone\" always;\n"
      "    location / { sluice_req zone=per_key burst=1 nodelay; "
      "sluice_req zone=per_server burst=3 nodelay; empty_gif; }\n"
      "    location = /stats { sluice_req_stats; }\n"
      "  }\n");
  START_OR_SKIP(nginx);
  // per_key admits 2 per key, per_server 4 in all.
  EXPECT_EQ(Status(nginx.port(), "a"), 200);
  EXPECT_EQ(Status(nginx.port(), "a"), 200);
  // Key a is out: denied by per_key, and per_server is not charged for it.
  for (int i = 0; i < 5; ++i) {
    auto r = Get(nginx.port(), "/", KeyHeader("a"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->Header("x-zone"), "per_key");
  }
  EXPECT_EQ(Status(nginx.port(), "b"), 200);
  EXPECT_EQ(Status(nginx.port(), "c"), 200);
  auto r = Get(nginx.port(), "/", KeyHeader("d"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->Header("x-zone"), "per_server");
  auto stats = Get(nginx.port(), "/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(e2e::MetricSum(stats->body,
                           "sluice_nginx_requests_total{zone=\"per_server\",outcome=\"passed\"}"),
            4u)
      << stats->body;
  EXPECT_EQ(e2e::MetricSum(stats->body,
                           "sluice_nginx_requests_total{zone=\"per_key\",outcome=\"rejected\"}"),
            5u);
}

TEST(NginxModule, StatsArePrometheusText) {
  ModuleNginx nginx(Server("zone=one:1m rate=1r/m", "sluice_req zone=one;"));
  START_OR_SKIP(nginx);
  for (int i = 0; i < 3; ++i) Status(nginx.port(), "x");
  auto r = Get(nginx.port(), "/stats");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(e2e::MetricSum(r->body, "sluice_nginx_requests_total{zone=\"one\",outcome=\"passed\"}"),
            1u)
      << r->body;
  EXPECT_EQ(
      e2e::MetricSum(r->body, "sluice_nginx_requests_total{zone=\"one\",outcome=\"rejected\"}"),
      2u);
  EXPECT_EQ(e2e::MetricSum(r->body, "sluice_nginx_zone_capacity_keys{zone=\"one\"}"), 65536u);
  // Every sample line is "name{labels} value" under a # TYPE of its family.
  std::size_t at = 0;
  while (at < r->body.size()) {
    const std::size_t eol = r->body.find('\n', at);
    ASSERT_NE(eol, std::string::npos) << "last line without newline";
    const std::string line = r->body.substr(at, eol - at);
    at = eol + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    EXPECT_NE(line.find("{zone=\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"} "), std::string::npos) << line;
  }
  if (::access("/usr/bin/promtool", X_OK) == 0) {
    e2e::WriteFile(nginx.dir() / "metrics.txt", r->body);
    auto [status, out] =
        e2e::RunShell("promtool check metrics < " + (nginx.dir() / "metrics.txt").string());
    EXPECT_EQ(status, 0) << out;
  }
}

}  // namespace
}  // namespace sluice::nginx_test
