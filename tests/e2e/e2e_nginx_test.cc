// End-to-end through nginx auth_request: Debian's nginx runs the shipped snippets of
// examples/nginx/ (sluice.conf, sluice-server.conf, sluice-check.conf, sluice-protect.conf) in
// front of a real sluiced and of a local upstream (a second server block of the same nginx).
// nginx is started by hand on free loopback ports with everything in a temp dir, never through
// systemd. Policies refill at 1/m or slower, so counts are exact; nothing asserts a timing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "harness.h"
#include "nginx_process.h"

#ifndef SLUICE_EXAMPLES_DIR
#error "SLUICE_EXAMPLES_DIR must name the examples/ folder"
#endif

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const fs::path kExamples = fs::path(SLUICE_EXAMPLES_DIR) / "nginx";

// One request on a fresh connection from `source` (a 127/8 address; empty: 127.0.0.1).
std::optional<Response> Fetch(std::uint16_t port, const std::string& raw,
                              const std::string& source = "") {
  Client c(port, 5s, Family::kV4, source);
  if (!c.connected() || !c.Send(raw)) return std::nullopt;
  return c.Read();
}

// A listener that completes TCP handshakes (the kernel's backlog) but never answers: a sluiced
// that hangs.
class BlackHole {
 public:
  BlackHole() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 64) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~BlackHole() { ::close(fd_); }
  BlackHole(const BlackHole&) = delete;
  BlackHole& operator=(const BlackHole&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// The nginx in front: the shipped snippets, copied into a temp dir with sluice.conf's upstream
// pointed at `sluiced`, and a top-level nginx.conf of the test's own (temp paths in the dir, an
// upstream app, the protected locations).
class Front {
 public:
  Front(const std::string& binary, const std::string& sluiced) {
    std::string tmpl = (fs::temp_directory_path() / "sluice-nginx-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    for (const char* name :
         {"sluice.conf", "sluice-server.conf", "sluice-check.conf", "sluice-protect.conf"}) {
      std::string text = ReadFile(kExamples / name);
      if (text.empty()) {
        error_ = std::string("cannot read ") + (kExamples / name).string();
        return;
      }
      if (std::string(name) == "sluice.conf" &&
          !ReplaceAll(text, "server 127.0.0.1:8081", "server " + sluiced)) {
        error_ = "sluice.conf no longer names 127.0.0.1:8081";
        return;
      }
      WriteFile(dir_ / name, text);
    }
    fs::create_directories(dir_ / "www" / "static");
    WriteFile(dir_ / "www" / "static" / "index.html", "static page\n");
    // A lost race for a port makes nginx exit ("Address already in use"): try other ports.
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      const std::uint16_t port = FreeLoopbackPort();
      const std::uint16_t app = FreeLoopbackPort();
      WriteFile(dir_ / "nginx.conf", Conf(port, app));
      process_ = std::make_unique<NginxProcess>(binary, dir_, port);
      if (process_->ready()) {
        port_ = port;
      } else {
        error_ = process_->Log();
        process_.reset();
        if (error_.find("Address already in use") == std::string::npos) return;
      }
    }
  }
  ~Front() {
    process_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string Log() const { return process_ ? process_->Log() : error_; }

 private:
  std::string Conf(std::uint16_t port, std::uint16_t app) const {
    const std::string d = dir_.string();
    const std::string app_addr = "127.0.0.1:" + std::to_string(app);
    return "events { worker_connections 512; }\n"
           "http {\n"
           "  access_log " +
           d +
           "/access.log;\n"
           "  client_body_temp_path " +
           d + "/body; proxy_temp_path " + d +
           "/proxy;\n"
           "  fastcgi_temp_path " +
           d + "/fastcgi; uwsgi_temp_path " + d +
           "/uwsgi;\n"
           "  scgi_temp_path " +
           d +
           "/scgi;\n"
           "  include sluice.conf;\n"
           // The upstream app: echoes the request; its own 403 under /forbidden/.
           "  server {\n"
           "    listen " +
           app_addr +
           ";\n"
           "    default_type text/plain;\n"
           "    location / { return 200 \"app: $request_method $request_uri\\n\"; }\n"
           "    location /forbidden/ { return 403 \"app forbids\\n\"; }\n"
           "  }\n"
           "  upstream app { server " +
           app_addr +
           "; keepalive 4; }\n"
           "  server {\n"
           "    listen 127.0.0.1:" +
           std::to_string(port) +
           ";\n"
           "    include sluice-server.conf;\n"
           "    location / {\n"
           "      auth_request /_sluice;\n"
           "      include sluice-protect.conf;\n"
           "      proxy_pass http://app;\n"
           "      proxy_http_version 1.1;\n"
           "      proxy_set_header Connection \"\";\n"
           "    }\n"
           "    location /strict/ {\n"
           "      auth_request /_sluice_strict;\n"
           "      include sluice-protect.conf;\n"
           "      proxy_pass http://app;\n"
           "      proxy_http_version 1.1;\n"
           "      proxy_set_header Connection \"\";\n"
           "    }\n"
           // Static files with an index: GET /static/ is redirected internally to
           // /static/index.html, which runs the access phase (auth_request) again.
           "    location /static/ {\n"
           "      auth_request /_sluice;\n"
           "      include sluice-protect.conf;\n"
           "      root " +
           d +
           "/www;\n"
           "      index index.html;\n"
           "    }\n"
           // nginx's own 403 in a protected location (access module), not sluiced's.
           "    location /private/ {\n"
           "      auth_request /_sluice;\n"
           "      include sluice-protect.conf;\n"
           "      deny all;\n"
           "      proxy_pass http://app;\n"
           "    }\n"
           "  }\n"
           "}\n";
  }

  fs::path dir_;
  std::unique_ptr<NginxProcess> process_;
  std::uint16_t port_ = 0;
  std::string error_;
};

// sluiced as examples/nginx/sluiced.yaml sets it up (deny 403, trusted forwarded headers from
// nginx on loopback) with policies small enough to count: a fresh key gets `burst` at once and
// then one a minute, far slower than any test runs.
const std::string kSluicedYaml = R"(listen: 127.0.0.1:0
admin: 127.0.0.1:0
threads: 1
table: {capacity: 65536, when_full: evict}
response: {deny_status: 403, legacy_headers: false}
forwarded:
  trusted: [127.0.0.1, ::1]
  client_ip: x-real-ip
  hops: 1
  uri: x-original-uri
  method: x-original-method
policies:
  - name: by-key
    match: {path_prefix: /key/}
    key: header:x-api-key
    when_missing: deny
    rate: 1/m
    burst: 3
  - name: by-ip
    match: {path_prefix: /ip/}
    key: ip
    rate: 1/m
    burst: 2
  - name: posts
    match: {path_prefix: /post/, method: POST}
    key: header:x-api-key
    when_missing: skip
    rate: 1/m
    burst: 1
  - name: static
    match: {path_prefix: /static/}
    key: header:x-api-key
    when_missing: skip
    rate: 1/m
    burst: 2
  - name: strict
    match: {path_prefix: /strict/}
    key: header:x-api-key
    when_missing: skip
    rate: 1/m
    burst: 1
)";

class NginxAuthRequest : public ::testing::Test {
 protected:
  void SetUp() override {
    const NginxBinary nginx = FindNginx();
    if (!nginx.missing.empty()) GTEST_SKIP() << nginx.missing;
    nginx_ = nginx.path;
    sluiced_ = std::make_unique<Sluiced>(kSluicedYaml);
    if (sluiced_->io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
    ASSERT_TRUE(sluiced_->ok()) << sluiced_->output();
    front_ = std::make_unique<Front>(nginx_, "127.0.0.1:" + std::to_string(sluiced_->port()));
    ASSERT_TRUE(front_->ok()) << front_->Log();
  }

  std::optional<Response> Through(const std::string& raw, const std::string& source = "") {
    return Fetch(front_->port(), raw, source);
  }
  std::optional<Response> Get(const std::string& path, const std::string& headers = "",
                              const std::string& source = "") {
    return Through(Request(path, headers), source);
  }

  std::string nginx_;
  std::unique_ptr<Sluiced> sluiced_;
  std::unique_ptr<Front> front_;
};

TEST_F(NginxAuthRequest, AdmittedRequestsReachTheUpstreamWithTheirRateLimitHeaders) {
  for (int i = 0; i < 3; ++i) {
    auto r = Get("/key/items?page=" + std::to_string(i), "x-api-key: alice\r\n");
    ASSERT_TRUE(r) << front_->Log();
    EXPECT_EQ(r->status, 200) << front_->Log();
    EXPECT_EQ(r->body, "app: GET /key/items?page=" + std::to_string(i) + "\n");
    EXPECT_EQ(r->Header("ratelimit-policy"), "\"by-key\";q=3;w=180");
    EXPECT_EQ(r->Header("ratelimit"),
              "\"by-key\";r=" + std::to_string(2 - i) + ";t=" + std::to_string(60 * (i + 1)));
  }
  // No policy matches: admitted, without rate-limit headers.
  auto r = Get("/elsewhere");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "app: GET /elsewhere\n");
  EXPECT_EQ(r->Header("ratelimit"), "");
  EXPECT_EQ(r->Header("ratelimit-policy"), "");
}

TEST_F(NginxAuthRequest, TheRequestAfterTheBurstGets429WithRetryAfter) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    auto r = Get("/key/x", "x-api-key: bob\r\n");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << i;
  }
  auto denied = Get("/key/x", "x-api-key: bob\r\n");
  // The exact values need the four requests within one second; allow for a slower machine
  // only as far as it was slower (whole seconds since the first request).
  const auto slack =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 429) << front_->Log();
  EXPECT_EQ(denied->body, "rate limited\n");
  EXPECT_EQ(denied->Header("content-type"), "text/plain");
  const long retry = std::atol(denied->Header("retry-after").c_str());
  EXPECT_LE(retry, 60) << denied->Header("retry-after");
  EXPECT_GE(retry, 60 - slack) << denied->Header("retry-after");
  EXPECT_EQ(denied->Header("ratelimit-policy"), "\"by-key\";q=3;w=180");
  const std::string limit = denied->Header("ratelimit");
  EXPECT_EQ(limit.rfind("\"by-key\";r=0;t=", 0), 0u) << limit;
  const long reset = std::atol(limit.substr(limit.rfind('=') + 1).c_str());
  EXPECT_LE(reset, 180) << limit;
  EXPECT_GE(reset, 180 - slack) << limit;
  // Denied means denied again, and the upstream never saw it (the body is nginx's).
  auto again = Get("/key/x", "x-api-key: bob\r\n");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 429);
}

TEST_F(NginxAuthRequest, ApiKeysHaveSeparateBudgets) {
  for (const std::string key : {"k1", "k2", "k3"}) {
    for (int i = 0; i < 3; ++i) {
      auto r = Get("/key/", "x-api-key: " + key + "\r\n");
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200) << key << " " << i;
    }
  }
  for (const std::string key : {"k1", "k2", "k3"}) {
    auto r = Get("/key/", "x-api-key: " + key + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429) << key;
  }
  // when_missing: deny. A denial without a key has no Retry-After to give.
  auto r = Get("/key/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
}

TEST_F(NginxAuthRequest, ClientAddressesHaveSeparateBudgets) {
  for (int i = 0; i < 2; ++i) {
    auto r = Get("/ip/", "", "127.0.0.2");
    ASSERT_TRUE(r) << "cannot bind 127.0.0.2";
    EXPECT_EQ(r->status, 200) << i << front_->Log();
    EXPECT_EQ(r->Header("ratelimit"),
              "\"by-ip\";r=" + std::to_string(1 - i) + ";t=" + std::to_string(60 * (i + 1)));
  }
  auto denied = Get("/ip/", "", "127.0.0.2");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 429);
  // A client cannot pick its own address: nginx replaces X-Real-IP with $remote_addr.
  auto spoofed = Get("/ip/", "X-Real-IP: 127.0.0.9\r\nX-Forwarded-For: 127.0.0.9\r\n", "127.0.0.2");
  ASSERT_TRUE(spoofed);
  EXPECT_EQ(spoofed->status, 429);
  // Another address has its own budget.
  auto other = Get("/ip/", "", "127.0.0.3");
  ASSERT_TRUE(other) << "cannot bind 127.0.0.3";
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->Header("ratelimit"), "\"by-ip\";r=1;t=60");
}

TEST_F(NginxAuthRequest, PoliciesMatchTheOriginalMethodAndPath) {
  // "posts" matches POST under /post/ only (X-Original-Method, X-Original-URI); the request
  // bodies stay with nginx (Content-Length, then chunked).
  const std::string post =
      "POST /post/a HTTP/1.1\r\nHost: t\r\nx-api-key: carol\r\nContent-Type: text/plain\r\n"
      "Content-Length: 5\r\n\r\nhello";
  auto first = Through(post);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << front_->Log();
  EXPECT_EQ(first->body, "app: POST /post/a\n");
  EXPECT_EQ(first->Header("ratelimit"), "\"posts\";r=0;t=60");
  const std::string chunked =
      "POST /post/a HTTP/1.1\r\nHost: t\r\nx-api-key: carol\r\nTransfer-Encoding: chunked\r\n"
      "\r\n5\r\nhello\r\n0\r\n\r\n";
  auto second = Through(chunked);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  // Same key and path, another method: the policy does not apply.
  auto get = Get("/post/a", "x-api-key: carol\r\n");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->Header("ratelimit"), "");
}

TEST_F(NginxAuthRequest, AnInternalRedirectIsCheckedOnce) {
  // /static/ becomes /static/index.html inside nginx: two passes through auth_request, one
  // request to count (and the headers of that one answer).
  for (int i = 0; i < 2; ++i) {
    auto r = Get("/static/", "x-api-key: grace\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i << front_->Log();
    EXPECT_EQ(r->body, "static page\n");
    EXPECT_EQ(r->Header("ratelimit"),
              "\"static\";r=" + std::to_string(1 - i) + ";t=" + std::to_string(60 * (i + 1)));
  }
  auto denied = Get("/static/", "x-api-key: grace\r\n");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 429);
  EXPECT_NE(denied->Header("retry-after"), "");
  const auto metrics = sluiced_->Metrics();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(MetricSum(*metrics, "sluice_requests_total"), 3u) << *metrics;
}

TEST_F(NginxAuthRequest, AnUpstreams403StaysA403) {
  auto r = Get("/forbidden/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, "app forbids\n");  // the upstream's own answer, untouched
  EXPECT_EQ(r->Header("retry-after"), "");
}

TEST_F(NginxAuthRequest, Nginxs403StaysA403) {
  auto r = Get("/private/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << front_->Log();
  EXPECT_EQ(r->Header("retry-after"), "");
}

TEST_F(NginxAuthRequest, ChecksOnlyInternally) {
  auto r = Get("/_sluice");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);  // `internal`: clients cannot ask sluiced through nginx
}

TEST_F(NginxAuthRequest, SluicedDownFailsOpenOrClosedAsConfigured) {
  // Warm the keep-alive pool first, so nginx meets a dead pooled connection too.
  auto warm = Get("/strict/a", "x-api-key: dave\r\n");
  ASSERT_TRUE(warm);
  EXPECT_EQ(warm->status, 200);
  sluiced_->Signal(SIGKILL);
  ASSERT_TRUE(sluiced_->Wait(10s).has_value());
  for (int i = 0; i < 3; ++i) {
    auto open = Get("/key/x", "x-api-key: erin\r\n");
    ASSERT_TRUE(open);
    EXPECT_EQ(open->status, 200) << front_->Log();  // fail open: /_sluice
    EXPECT_EQ(open->body, "app: GET /key/x\n");
    EXPECT_EQ(open->Header("ratelimit"), "");
    auto closed = Get("/strict/a", "x-api-key: dave\r\n");
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->status, 503) << front_->Log();  // fail closed: /_sluice_strict
    EXPECT_EQ(closed->body, "rate limiter unavailable\n");
  }
}

TEST_F(NginxAuthRequest, SluicedRefusingTheCheckCountsAsUnavailable) {
  // nginx takes header lines up to 8 KiB each; the check carries two of them (X-Original-URI,
  // X-Api-Key) to a sluiced whose header_bytes is 8 KiB (the default; examples/nginx's
  // sluiced.yaml raises it). sluiced answers 431, which must not become nginx's 500 ("auth
  // request unexpected status"): it is handled like sluiced being down.
  const std::string long_path = std::string(5000, 'p');
  const std::string key = "x-api-key: " + std::string(5000, 'k') + "\r\n";
  auto open = Get("/key/" + long_path, key);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200) << front_->Log();
  EXPECT_EQ(open->Header("ratelimit"), "");
  auto closed = Get("/strict/" + long_path, key);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->status, 503) << front_->Log();
  const auto metrics = sluiced_->Metrics();
  ASSERT_TRUE(metrics);
  EXPECT_EQ(MetricSum(*metrics, "sluice_parse_errors_total"), 2u) << *metrics;
}

TEST_F(NginxAuthRequest, SluicedHangingFailsOpenOrClosedAfterTheReadTimeout) {
  BlackHole hole;
  ASSERT_NE(hole.port(), 0);
  Front front(nginx_, "127.0.0.1:" + std::to_string(hole.port()));
  ASSERT_TRUE(front.ok()) << front.Log();
  auto open = Fetch(front.port(), Request("/key/x", "x-api-key: frank\r\n"));
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200) << front.Log();
  auto closed = Fetch(front.port(), Request("/strict/x", "x-api-key: frank\r\n"));
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->status, 503) << front.Log();
}

TEST(ProxyExamples, TheStandaloneNginxConfigPassesNginxT) {
  const NginxBinary nginx = FindNginx();
  if (!nginx.missing.empty()) GTEST_SKIP() << nginx.missing;
  std::string tmpl = (fs::temp_directory_path() / "sluice-nginx-t-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  for (const auto& entry : fs::directory_iterator(kExamples)) {
    if (entry.path().extension() == ".conf") {
      fs::copy_file(entry.path(), dir / entry.path().filename());
    }
  }
  // Only the temp paths and the access log move into the scratch dir (nginx -t creates and
  // opens them).
  std::string conf = ReadFile(dir / "nginx.conf");
  const std::string d = dir.string();
  ASSERT_TRUE(ReplaceAll(conf, "http {\n",
                         "http {\n    client_body_temp_path " + d + "/body; proxy_temp_path " + d +
                             "/proxy; fastcgi_temp_path " + d + "/fastcgi; uwsgi_temp_path " + d +
                             "/uwsgi; scgi_temp_path " + d + "/scgi; access_log " + d +
                             "/access.log;\n"));
  WriteFile(dir / "nginx.conf", conf);
  const auto [status, out] =
      RunShell(nginx.path + " -t -p " + d + "/ -c " + d + "/nginx.conf -g 'pid " + d +
               "/nginx.pid; error_log " + d + "/error.log;'");
  EXPECT_EQ(status, 0) << out;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// The sluiced configs of every proxy example load (Envoy and Traefik are not packaged in
// Debian 12, so their own configs are not run here).
TEST(ProxyExamples, EveryExampleSluicedConfigIsValid) {
  for (const char* proxy : {"nginx", "envoy", "traefik"}) {
    const fs::path yaml = fs::path(SLUICE_EXAMPLES_DIR) / proxy / "sluiced.yaml";
    const auto [status, out] =
        RunShell(std::string(SLUICED_PATH) + " --check-config " + yaml.string());
    EXPECT_EQ(status, 0) << yaml << "\n" << out;
  }
}

}  // namespace
}  // namespace sluice::e2e
