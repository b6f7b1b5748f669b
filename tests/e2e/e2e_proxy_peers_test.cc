// Proxy mode against real peers: Debian's nginx is the upstream (static files, sendfile, gzip
// with chunked answers, ranges, conditional requests, redirects, its own error pages), and
// real clients (curl, Python's http.client on one keep-alive connection) fetch the same
// requests from nginx directly and through sluiced. Status, body and every end-to-end header
// must be the same both ways (Date and the hop-by-hop fields aside). nginx runs by hand on
// loopback ports in a temp dir; the test skips only where nginx or curl is not installed.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "nginx_process.h"
#include "proxy_support.h"

#ifndef SLUICE_E2E_DIR
#error "SLUICE_E2E_DIR must name tests/e2e"
#endif
#ifndef SLUICE_EXAMPLES_DIR
#error "SLUICE_EXAMPLES_DIR must name the examples/ folder"
#endif

namespace sluice::e2e {
namespace {

namespace fs = std::filesystem;

// nginx serving a small site from a temp dir.
class Origin {
 public:
  explicit Origin(const std::string& binary) {
    std::string tmpl = (fs::temp_directory_path() / "sluice-peer-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    fs::create_directories(dir_ / "www" / "gz");
    WriteFile(dir_ / "www" / "index.html", "<html><body>peer test</body></html>\n");
    std::string big;
    for (int i = 0; i < 300000; ++i) big.push_back(static_cast<char>('0' + i % 71));
    WriteFile(dir_ / "www" / "big.bin", big);
    std::string text;
    for (int i = 0; i < 2000; ++i)
      text += "line " + std::to_string(i) + " of a compressible file\n";
    WriteFile(dir_ / "www" / "gz" / "text.txt", text);
    WriteFile(dir_ / "www" / "empty.txt", "");
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      const std::uint16_t port = FreeLoopbackPort();
      WriteFile(dir_ / "nginx.conf", Conf(port));
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
  ~Origin() {
    process_.reset();
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;
  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string Log() const { return process_ ? process_->Log() : error_; }

 private:
  std::string Conf(std::uint16_t port) const {
    const std::string d = dir_.string();
    return "events { worker_connections 256; }\n"
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
           "  types { text/html html; text/plain txt; application/octet-stream bin; }\n"
           "  sendfile on; keepalive_requests 1000; absolute_redirect off;\n"
           "  server {\n"
           "    listen 127.0.0.1:" +
           std::to_string(port) +
           ";\n"
           "    root " +
           d +
           "/www;\n"
           "    location /echo { default_type text/plain;\n"
           "      return 200 \"method=$request_method uri=$request_uri host=$host "
           "custom=$http_x_custom\\n\"; }\n"
           "    location = /redirect { return 301 /index.html; }\n"
           "    location /gz/ { gzip on; gzip_min_length 1; gzip_types text/plain; }\n"
           "  }\n"
           "}\n";
  }

  fs::path dir_;
  std::unique_ptr<NginxProcess> process_;
  std::uint16_t port_ = 0;
  std::string error_;
};

struct Fetched {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // end-to-end, sorted
  std::string body;
  std::string raw_head;
};

// `curl -i` output split into status, end-to-end headers and body.
Fetched ParseCurl(const std::string& out) {
  Fetched f;
  const std::size_t end = out.find("\r\n\r\n");
  if (end == std::string::npos) return f;
  f.raw_head = out.substr(0, end);
  f.body = out.substr(end + 4);
  std::size_t at = out.find("\r\n");
  if (f.raw_head.size() > 12) f.status = std::atoi(f.raw_head.c_str() + 9);
  while (at < end) {
    const std::size_t eol = out.find("\r\n", at + 2);
    const std::string line = out.substr(at + 2, eol - at - 2);
    at = eol;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    static const std::vector<std::string> kSkip = {"connection", "keep-alive", "transfer-encoding",
                                                   "date"};
    if (std::find(kSkip.begin(), kSkip.end(), name) != kSkip.end()) continue;
    f.headers.emplace_back(name, value);
  }
  std::sort(f.headers.begin(), f.headers.end());
  return f;
}

Fetched Curl(std::uint16_t port, const std::string& args, const std::string& path) {
  const auto [code, out] =
      RunShell("curl -sS -i --http1.1 --max-time 20 -H 'Host: peer.test' " + args +
               " 'http://127.0.0.1:" + std::to_string(port) + path + "' 2>/dev/null");
  Fetched f = ParseCurl(out);
  if (code != 0) f.status = -code;
  return f;
}

class ProxyPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const NginxBinary nginx = FindNginx();
    if (!nginx.missing.empty()) GTEST_SKIP() << nginx.missing;
    if (RunShell("curl --version").first != 0) GTEST_SKIP() << "curl not installed";
    origin_ = std::make_unique<Origin>(nginx.path);
    ASSERT_TRUE(origin_->ok()) << origin_->Log();
    ProxyConfig config;
    config.servers = {"127.0.0.1:" + std::to_string(origin_->port())};
    server_ = std::make_unique<Sluiced>(ProxyYaml(config));
    if (server_->io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
    ASSERT_TRUE(server_->ok()) << server_->output();
  }

  std::unique_ptr<Origin> origin_;
  std::unique_ptr<Sluiced> server_;
};

TEST_F(ProxyPeersTest, CurlSeesTheSameAnswersThroughSluiced) {
  const Fetched index = Curl(origin_->port(), "", "/index.html");
  ASSERT_EQ(index.status, 200) << index.raw_head;
  std::string etag;
  for (const auto& [name, value] : index.headers) {
    if (name == "etag") etag = value;
  }
  ASSERT_FALSE(etag.empty()) << index.raw_head;
  const std::vector<std::pair<std::string, std::string>> fetches = {
      {"", "/index.html"},
      {"", "/big.bin"},
      {"-I", "/big.bin"},
      {"-H 'X-Custom: v'", "/echo?q=1&r=%41"},
      {"-X POST --data-binary 'posted'", "/echo"},
      {"", "/missing"},
      {"", "/redirect"},
      {"-H 'Accept-Encoding: gzip'", "/gz/text.txt"},
      {"-r 10-99", "/big.bin"},
      {"-H 'If-None-Match: " + etag + "'", "/index.html"},
      {"-X PUT --data-binary 'x'", "/index.html"},
      {"", "/empty.txt"},
      {"-H 'Connection: close'", "/index.html"},
      {"--http1.0", "/index.html"},
  };
  for (const auto& [args, path] : fetches) {
    SCOPED_TRACE("curl " + args + " " + path);
    const Fetched direct = Curl(origin_->port(), args, path);
    const Fetched proxied = Curl(server_->port(), args, path);
    ASSERT_GT(direct.status, 0);
    EXPECT_EQ(proxied.status, direct.status) << proxied.raw_head;
    EXPECT_EQ(proxied.headers, direct.headers) << "direct:\n"
                                               << direct.raw_head << "\nproxied:\n"
                                               << proxied.raw_head;
    EXPECT_EQ(proxied.body, direct.body) << proxied.body.size() << " vs " << direct.body.size();
  }
}

TEST_F(ProxyPeersTest, PythonHttpClientSeesTheSameAnswersThroughSluiced) {
  const auto [code, out] =
      RunShell("/usr/bin/python3 " SLUICE_E2E_DIR "/proxy_peer_fetch.py " +
               std::to_string(origin_->port()) + " " + std::to_string(server_->port()));
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("ok   GET /index.html"), std::string::npos) << out;
}

// README's quick start: Python's http.server as the local upstream and
// examples/proxy/sluiced.yaml (its ports moved to free ones) in front of it.
TEST(ProxyQuickStartTest, TheExampleConfigForwardsToALocalUpstream) {
  std::string yaml = ReadFile(fs::path(SLUICE_EXAMPLES_DIR) / "proxy" / "sluiced.yaml");
  ASSERT_FALSE(yaml.empty());
  std::string tmpl = (fs::temp_directory_path() / "sluice-quick-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  WriteFile(dir / "hello.txt", "hello from the upstream\n");
  pid_t upstream = -1;
  std::uint16_t port = 0;
  for (int attempt = 0; attempt < 5 && port == 0; ++attempt) {
    const std::uint16_t candidate = FreeLoopbackPort();
    upstream = ::fork();
    if (upstream == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const std::string p = std::to_string(candidate);
      const std::string d = dir.string();
      ::execl("/usr/bin/python3", "python3", "-m", "http.server", p.c_str(), "--bind", "127.0.0.1",
              "--directory", d.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(upstream, 0);
    if (PollUntil(
            [&] {
              Client probe(candidate);
              return probe.connected();
            },
            std::chrono::seconds(10))) {
      port = candidate;
    } else {
      ::kill(upstream, SIGKILL);
      ::waitpid(upstream, nullptr, 0);
    }
  }
  ASSERT_NE(port, 0) << "python3 -m http.server did not start";
  ASSERT_TRUE(ReplaceAll(yaml, "127.0.0.1:8080", "127.0.0.1:0"));
  ASSERT_TRUE(ReplaceAll(yaml, "127.0.0.1:9901", "127.0.0.1:0"));
  ASSERT_TRUE(ReplaceAll(yaml, "127.0.0.1:9000", "127.0.0.1:" + std::to_string(port)));
  {
    Sluiced server(yaml + "threads: 1\n");
    if (server.io_uring_refused()) {
      ::kill(upstream, SIGKILL);
      ::waitpid(upstream, nullptr, 0);
      GTEST_SKIP() << "kernel refused io_uring";
    }
    ASSERT_TRUE(server.ok()) << server.output();
    const Fetched f = Curl(server.port(), "", "/hello.txt");
    EXPECT_EQ(f.status, 200) << f.raw_head;
    EXPECT_EQ(f.body, "hello from the upstream\n");
    // The per-ip policy decided it before it was forwarded, and says so in the answer.
    EXPECT_EQ(server.Metric(PolicySeries("per-ip", "admitted")), 1u);
    bool policy = false;
    for (const auto& [name, value] : f.headers) {
      policy = policy || (name == "ratelimit-policy" && value == "\"per-ip\";q=20;w=2");
    }
    EXPECT_TRUE(policy) << f.raw_head;
  }
  ::kill(upstream, SIGTERM);
  ::waitpid(upstream, nullptr, 0);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace sluice::e2e
