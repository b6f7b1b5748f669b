// Proxy mode's forwarding through the real binary, with the recording upstream
// (recording_upstream.h) on loopback: what reaches the upstream (canonical, hop-by-hop fields
// removed, X-Forwarded-* set), what comes back, pool reuse, pipelining with local denials in
// order, a refused upstream (502), a silent one (504), and a stale pooled connection.
// The broad suites (smuggling, every 502/504 case, real peers, slow peers) are elsewhere.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "recording_upstream.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

// A config forwarding everything under /api/ and /x/ to `servers`; `policies` (YAML list
// entries) and `upstream_extra` (more keys of the upstream's flow map) as given.
std::string ProxyConfig(
    const std::string& servers, const std::string& upstream_extra = "",
    const std::string& policies = "  - {name: all, key: ip, rate: 1000/s, burst: 1000}\n") {
  return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\ntable: {capacity: 4096}\n"
         "policies:\n" +
         policies + "upstreams:\n  - {name: app, servers: [" + servers + "]" + upstream_extra +
         "}\nroutes:\n  - {match: {path_prefix: /api/}, upstream: app}\n"
         "  - {match: {path_prefix: /x/}, upstream: app}\n";
}

std::string Quoted(const std::string& address) { return "\"" + address + "\""; }

// The value of header `name` (lower-case) in a raw head, or "" when absent.
std::string HeadField(const std::string& head, const std::string& name) {
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    const std::size_t colon = head.find(':', pos);
    const std::size_t end = head.find("\r\n", pos);
    if (colon == std::string::npos || end == std::string::npos || colon > end) continue;
    std::string field = head.substr(pos, colon - pos);
    for (char& ch : field) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (field == name) {
      std::string value = head.substr(colon + 1, end - colon - 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      return value;
    }
  }
  return "";
}

// A loopback port nothing listens on (bound, then closed).
std::uint16_t ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

#define START_OR_SKIP(server)                                                 \
  if ((server).io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring"; \
  ASSERT_TRUE((server).ok()) << (server).output()

TEST(E2eProxyForwardTest, ForwardsCanonicallyAndRewritesHeadersBothWays) {
  RecordingUpstream upstream([](const UpstreamRequest& r) {
    if (r.target == "/api/chunked") {
      Reply reply;
      reply.bytes =
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n"
          "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
      return reply;
    }
    return Answer(201, r.method + " " + r.target + " [" + r.body + "]",
                  "Connection: keep-alive, X-Up-Private\r\nX-Up-Private: 1\r\n"
                  "Keep-Alive: timeout=5\r\nX-Up-Public: yes\r\n");
  });
  ASSERT_TRUE(upstream.ok());
  Sluiced server(ProxyConfig(Quoted(upstream.address())));
  START_OR_SKIP(server);

  Client client(server.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(
      client.Send("GET /api/a?q=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: X-Secret\r\n"
                  "X-Secret: drop-me\r\nKeep-Alive: 300\r\nX-Forwarded-For: 10.9.9.9\r\n"
                  "X-Real-IP: 6.6.6.6\r\nX-Keep: kept\r\n\r\n"));
  auto get = client.Read();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 201);
  EXPECT_EQ(get->body, "GET /api/a?q=1 []");
  EXPECT_EQ(get->Header("x-up-public"), "yes");
  EXPECT_EQ(get->Header("x-up-private"), "");  // named by the upstream's Connection
  EXPECT_EQ(get->Header("keep-alive"), "");
  // proxy.ratelimit_headers (on by default): the client sees its budget on proxied answers.
  EXPECT_EQ(get->Header("ratelimit-policy").substr(0, 13), "\"all\";q=1000;")
      << get->Header("ratelimit-policy");
  EXPECT_EQ(get->Header("ratelimit").substr(0, 9), "\"all\";r=9") << get->Header("ratelimit");

  ASSERT_TRUE(
      client.Send("POST /api/b HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\n\r\nhello"));
  auto post = client.Read();
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->body, "POST /api/b [hello]");

  ASSERT_TRUE(
      client.Send("POST /api/c HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3;name=value\r\nabc\r\n002\r\nde\r\n0\r\n\r\n"));
  auto chunked = client.Read();
  ASSERT_TRUE(chunked.has_value());
  EXPECT_EQ(chunked->body, "POST /api/c [3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n]");  // re-chunked

  // A chunked answer stays chunked for an HTTP/1.1 client, with canonical framing.
  ASSERT_TRUE(
      client.Send("GET /api/chunked HTTP/1.1\r\nHost: shop.example\r\n"
                  "Connection: close\r\n\r\n"));
  const auto raw = client.ReadToEof();
  ASSERT_TRUE(raw.has_value());
  EXPECT_NE(raw->find("Transfer-Encoding: chunked\r\n"), std::string::npos) << *raw;
  EXPECT_NE(raw->find("Connection: close\r\n"), std::string::npos) << *raw;
  EXPECT_EQ(raw->substr(raw->find("\r\n\r\n") + 4), "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");

  const std::vector<UpstreamRequest> seen = upstream.Requests();
  ASSERT_EQ(seen.size(), 4u);
  const std::string& head = seen[0].head;
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "GET /api/a?q=1 HTTP/1.1");
  EXPECT_EQ(HeadField(head, "host"), "shop.example");
  EXPECT_EQ(HeadField(head, "x-secret"), "");
  EXPECT_EQ(HeadField(head, "connection"), "");
  EXPECT_EQ(HeadField(head, "keep-alive"), "");
  EXPECT_EQ(HeadField(head, "x-keep"), "kept");
  EXPECT_EQ(HeadField(head, "x-forwarded-for"), "10.9.9.9, 127.0.0.1");
  EXPECT_EQ(HeadField(head, "x-real-ip"), "127.0.0.1");  // the client's own is replaced
  EXPECT_EQ(HeadField(head, "x-forwarded-proto"), "http");
  EXPECT_EQ(HeadField(seen[1].head, "content-length"), "5");
  EXPECT_EQ(seen[1].body, "hello");
  EXPECT_EQ(HeadField(seen[2].head, "transfer-encoding"), "chunked");
  // Every request of the client connection went over one upstream connection.
  EXPECT_EQ(upstream.accepted(), 1u);

  // The upstream's view, by an independent parser: canonical requests only.
  const std::vector<std::string> received = upstream.Received();
  ASSERT_EQ(received.size(), 1u);
  const std::string h11 = H11Parse(received[0]);
  if (!h11.empty()) {
    EXPECT_EQ(h11, SluiceParse(received[0]));
    EXPECT_EQ(h11.find("error"), std::string::npos) << h11;
  }
}

TEST(E2eProxyForwardTest, RequestsShareAtMostThePoolsConnections) {
  RecordingUpstream upstream([](const UpstreamRequest& r) { return Answer(200, r.target); });
  ASSERT_TRUE(upstream.ok());
  Sluiced server(ProxyConfig(Quoted(upstream.address()), ", pool: {idle_per_shard: 4}"));
  START_OR_SKIP(server);
  constexpr int kClients = 4;
  constexpr int kRounds = 50;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<Client>(server.port()));
  for (int round = 0; round < kRounds; ++round) {
    // All four in flight at once, then all four answers: at most four upstream connections.
    for (int i = 0; i < kClients; ++i) {
      ASSERT_TRUE(clients[static_cast<std::size_t>(i)]->Send("GET /api/" + std::to_string(i) +
                                                             " HTTP/1.1\r\nHost: h\r\n\r\n"));
    }
    for (int i = 0; i < kClients; ++i) {
      const auto r = clients[static_cast<std::size_t>(i)]->Read();
      ASSERT_TRUE(r.has_value()) << "round " << round;
      EXPECT_EQ(r->body, "/api/" + std::to_string(i));
    }
  }
  const std::size_t requests = kClients * kRounds;
  EXPECT_EQ(upstream.Requests().size(), requests);
  EXPECT_LE(upstream.accepted(), 4u);
  const double reuse = 1.0 - static_cast<double>(upstream.accepted()) / requests;
  std::printf("pool reuse: %zu requests over %zu upstream connections (%.1f%% reused)\n", requests,
              upstream.accepted(), 100.0 * reuse);
  EXPECT_GE(reuse, 0.98);

  // The same figures on /metrics, and the page stays promtool-clean with the proxy families.
  const std::string up = "{upstream=\"app\"}";
  EXPECT_EQ(server.Metric("sluice_upstream_connections_opened_total" + up), upstream.accepted());
  EXPECT_EQ(server.Metric("sluice_upstream_connections_reused_total" + up),
            requests - upstream.accepted());
  EXPECT_EQ(server.Metric("sluice_upstream_responses_total{upstream=\"app\",code=\"2xx\"}"),
            requests);
  EXPECT_EQ(server.Metric("sluice_upstream_latency_seconds_count" + up), requests);
  EXPECT_TRUE(PollUntil(
      [&] { return server.Metric("sluice_upstream_connections_idle" + up) == upstream.accepted(); },
      5s));
  if (access("/usr/bin/promtool", X_OK) == 0) {
    const auto text = server.Metrics();
    ASSERT_TRUE(text.has_value());
    char path[] = "/tmp/sluice-proxy-metrics-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, text->data(), text->size()), static_cast<ssize_t>(text->size()));
    close(fd);
    const int rc = std::system(("/usr/bin/promtool check metrics < " + std::string(path)).c_str());
    unlink(path);
    EXPECT_EQ(rc, 0) << *text;
  }
}

TEST(E2eProxyForwardTest, PipelinedAnswersKeepTheOrderWithLocalDenials) {
  RecordingUpstream upstream([](const UpstreamRequest& r) { return Answer(200, r.target); });
  ASSERT_TRUE(upstream.ok());
  Sluiced server(ProxyConfig(
      Quoted(upstream.address()), "",
      "  - {name: limited, match: {path_prefix: /api/limited}, key: ip, rate: 1/m, burst: 1}\n"));
  START_OR_SKIP(server);
  Client client(server.port());
  std::string batch;
  const std::vector<std::string> paths = {"/api/1", "/api/limited", "/api/limited",
                                          "/api/2", "/api/limited", "/x/3"};
  for (const std::string& p : paths) batch += "GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n";
  // A denied request with a body: its body is read past, never parsed as a request.
  batch +=
      "POST /api/limited HTTP/1.1\r\nHost: h\r\nContent-Length: 24\r\n\r\n"
      "GET /api/evil HTTP/1.1\r\n";
  batch += "GET /api/4 HTTP/1.1\r\nHost: h\r\n\r\n";
  batch += "GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n";  // no route: 404, in its place
  batch += "GET /x/5 HTTP/1.1\r\nHost: h\r\n\r\n";
  ASSERT_TRUE(client.Send(batch));
  const std::vector<int> want = {200, 200, 429, 200, 429, 200, 429, 200, 404, 200};
  const std::vector<std::string> bodies = {"/api/1", "/api/limited", "", "/api/2", "", "/x/3",
                                           "",       "/api/4",       "", "/x/5"};
  for (std::size_t i = 0; i < want.size(); ++i) {
    const auto r = client.Read();
    ASSERT_TRUE(r.has_value()) << "answer " << i;
    EXPECT_EQ(r->status, want[i]) << "answer " << i;
    if (want[i] == 200) {
      EXPECT_EQ(r->body, bodies[i]) << "answer " << i;
    }
  }
  std::vector<std::string> targets;
  for (const UpstreamRequest& r : upstream.Requests()) targets.push_back(r.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/api/1", "/api/limited", "/api/2", "/x/3", "/api/4",
                                               "/x/5"}));
}

TEST(E2eProxyForwardTest, ARefusedUpstreamIs502AndASilentOneIs504) {
  {
    Sluiced server(
        ProxyConfig(Quoted("127.0.0.1:" + std::to_string(ClosedPort())), ", retry: {attempts: 0}"));
    START_OR_SKIP(server);
    auto r = Get(server.port(), "GET /api/a HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 502);
  }
  RecordingUpstream silent([](const UpstreamRequest&) {
    Reply reply;
    reply.silent = true;
    return reply;
  });
  ASSERT_TRUE(silent.ok());
  Sluiced server(ProxyConfig(Quoted(silent.address()), ", timeouts: {response_header_ms: 300}"));
  START_OR_SKIP(server);
  auto r = Get(server.port(), "GET /api/slow HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(silent.Requests().size(), 1u);                          // a timeout is never retried
  EXPECT_TRUE(silent.WaitFor([&] { return silent.open() == 0; }));  // that connection closed
}

TEST(E2eProxyForwardTest, AStalePooledConnectionIsRetriedOnlyWhenSafe) {
  // The upstream serves one request per connection, then closes the connection when the next
  // request arrives on it without answering: the stale pooled connection race, every time.
  const auto script = [](const UpstreamRequest& r) {
    if (r.index > 0) return Reply{"", Reply::After::kClose, false};
    return Answer(200, r.method + " " + r.target);
  };
  RecordingUpstream upstream(script);
  ASSERT_TRUE(upstream.ok());
  Sluiced server(ProxyConfig(Quoted(upstream.address())));
  START_OR_SKIP(server);
  Client client(server.port());
  for (const std::string path : {"/api/1", "/api/2", "/api/3"}) {
    ASSERT_TRUE(client.Send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n"));
    const auto r = client.Read();
    ASSERT_TRUE(r.has_value()) << path;
    EXPECT_EQ(r->status, 200) << path;  // no client-visible error: retried on a fresh one
    EXPECT_EQ(r->body, "GET " + path);
  }
  // A POST is not idempotent: the same race is a 502, and it is not sent again.
  ASSERT_TRUE(client.Send("POST /api/p HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"));
  const auto post = client.Read();
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 502);
  std::size_t posts = 0;
  for (const UpstreamRequest& r : upstream.Requests()) posts += r.method == "POST" ? 1 : 0;
  EXPECT_EQ(posts, 1u);

  // An idle pooled connection the upstream closes is noticed at once (the armed receive) and
  // never handed out.
  Client other(server.port());
  ASSERT_TRUE(other.Send("GET /api/fresh HTTP/1.1\r\nHost: h\r\n\r\n"));
  ASSERT_TRUE(other.Read().has_value());
  upstream.CloseIdle();
  ASSERT_TRUE(other.Send("GET /api/after HTTP/1.1\r\nHost: h\r\n\r\n"));
  const auto after = other.Read();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
}

TEST(E2eProxyForwardTest, LargeBodiesStreamThroughTheBoundedBuffersBothWays) {
  // Far larger than every buffer on the way (client output 64 KiB, upstream output ~40 KiB):
  // both directions have to stop and resume as the other side drains.
  std::string big(3 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i * 7 % 26);
  RecordingUpstream upstream([&big](const UpstreamRequest& r) {
    if (r.method == "GET") return Answer(200, big);
    return Answer(200, std::to_string(r.body.size()));
  });
  ASSERT_TRUE(upstream.ok());
  Sluiced server(ProxyConfig(Quoted(upstream.address())) + "limits: {body_bytes: 4194304}\n");
  START_OR_SKIP(server);
  Client client(server.port(), 20s);
  ASSERT_TRUE(client.Send("GET /api/big HTTP/1.1\r\nHost: h\r\n\r\n"));
  const auto got = client.Read();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->body.size(), big.size());
  EXPECT_TRUE(got->body == big);

  const std::string body = big.substr(0, 1 << 20);
  ASSERT_TRUE(client.Send("POST /api/up HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body));
  const auto posted = client.Read();
  ASSERT_TRUE(posted.has_value());
  EXPECT_EQ(posted->body, std::to_string(body.size()));
  ASSERT_EQ(upstream.Requests().size(), 2u);
  EXPECT_TRUE(upstream.Requests()[1].body == body);

  // The same body chunked (small chunks, re-chunked on the way under back-pressure).
  std::string chunked;
  for (std::size_t off = 0; off < body.size(); off += 1000) {
    const std::string piece = body.substr(off, 1000);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    chunked += size + piece + "\r\n";
  }
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(client.Send("POST /api/up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          chunked));
  const auto rechunked = client.Read();
  ASSERT_TRUE(rechunked.has_value());
  ASSERT_EQ(upstream.Requests().size(), 3u);
  // Decode what the upstream got: exactly the body's bytes.
  const std::string got_chunked = upstream.Requests()[2].body;
  std::string decoded;
  for (std::size_t p = 0;;) {
    const std::size_t eol = got_chunked.find("\r\n", p);
    ASSERT_NE(eol, std::string::npos);
    const std::size_t n = std::stoul(got_chunked.substr(p, eol - p), nullptr, 16);
    if (n == 0) break;
    decoded += got_chunked.substr(eol + 2, n);
    p = eol + 4 + n;
  }
  EXPECT_TRUE(decoded == body);
  // Still one upstream connection: nothing failed on the way.
  EXPECT_EQ(upstream.accepted(), 1u);
}

TEST(E2eProxyForwardTest, AnUpstreamClosingInsideItsHeadIs502AtOnce) {
  RecordingUpstream upstream([](const UpstreamRequest&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Le", Reply::After::kClose, false};
  });
  ASSERT_TRUE(upstream.ok());
  // A response-header timeout far beyond the test's patience: the 502 must not wait for it.
  Sluiced server(ProxyConfig(Quoted(upstream.address()),
                             ", timeouts: {response_header_ms: 60000}, retry: {attempts: 0}"));
  START_OR_SKIP(server);
  Client client(server.port(), 10s);
  ASSERT_TRUE(client.Send("GET /api/cut HTTP/1.1\r\nHost: h\r\n\r\n"));
  const auto r = client.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 502);
}

TEST(E2eProxyForwardTest, AClientHalfClosingInsideItsBodyReleasesTheUpstreamAtOnce) {
  RecordingUpstream upstream([](const UpstreamRequest&) { return Answer(200, "never"); });
  ASSERT_TRUE(upstream.ok());
  Sluiced server(ProxyConfig(Quoted(upstream.address()), ", timeouts: {idle_ms: 60000}"));
  START_OR_SKIP(server);
  Client client(server.port());
  ASSERT_TRUE(client.Send("POST /api/p HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nab"));
  ASSERT_TRUE(upstream.WaitFor([&] { return upstream.accepted() == 1; }));
  ::shutdown(client.fd(), SHUT_WR);
  EXPECT_TRUE(upstream.WaitFor([&] { return upstream.open() == 0; }, 5s));
  EXPECT_TRUE(upstream.Requests().empty());  // the request never became complete
}

TEST(E2eProxyForwardTest, SighupSwitchesUpstreamsAndClosesTheOldPool) {
  RecordingUpstream a([](const UpstreamRequest& r) { return Answer(200, "a" + r.target); });
  RecordingUpstream b([](const UpstreamRequest& r) { return Answer(200, "b" + r.target); });
  ASSERT_TRUE(a.ok() && b.ok());
  Sluiced server(ProxyConfig(Quoted(a.address())));
  START_OR_SKIP(server);
  auto first = Get(server.port(), "GET /api/1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "a/api/1");
  EXPECT_EQ(a.open(), 1u);  // pooled

  server.WriteConfig(ProxyConfig(Quoted(b.address())));
  server.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Get(server.port(), "GET /api/2 HTTP/1.1\r\nHost: h\r\n\r\n");
        return r.has_value() && r->body == "b/api/2";
      },
      10s))
      << server.DrainOutput();
  EXPECT_TRUE(a.WaitFor([&] { return a.open() == 0; }));  // the old plan's idle connection
  EXPECT_EQ(server.Metric("sluice_config_reloads_total{result=\"ok\"}"), 1u);
}

}  // namespace
}  // namespace sluice::e2e
