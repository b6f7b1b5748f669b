// Proxy mode's failure statuses by cause, through the real sluiced, with their counters
// (sluice_upstream_errors_total{status,cause}, _retries_total, _ejections_total,
// _aborted_total): every server ejected is a 503; a refused connect is retried at most
// retry.attempts times; an upstream that stops reading the request body, or stops inside its
// answer, for idle_ms is a 504 while nothing of the answer was sent, else a cut client
// connection. Waits poll; nothing asserts a timing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "harness.h"
#include "proxy_support.h"
#include "recording_upstream.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

std::string GetOf(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

std::string Errors(const std::string& status, const std::string& cause) {
  return "sluice_upstream_errors_total{upstream=\"app\",status=\"" + status + "\",cause=\"" +
         cause + "\"}";
}

const std::string kApp = "{upstream=\"app\"}";

// With eject.failures 1, a refused server is left out after its first failure: with every
// server out, the next request is a 503 with nothing tried.
TEST(E2eProxyCausesTest, EveryServerEjectedIs503) {
  ProxyConfig config;
  config.servers = {"127.0.0.1:" + std::to_string(RefusedPort())};
  config.eject = "{failures: 1, for_ms: 600000}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), GetOf("/first")), 502);
  EXPECT_EQ(server.Metric("sluice_upstream_ejections_total" + kApp), 1u);
  const std::uint64_t opened = server.Metric("sluice_upstream_connections_opened_total" + kApp);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(StatusOf(server.port(), GetOf("/ejected")), 503);
  EXPECT_EQ(server.Metric("sluice_upstream_connections_opened_total" + kApp), opened)
      << "an ejected server was tried";
  EXPECT_EQ(server.Metric(Errors("502", "refused")), 1u);
  EXPECT_EQ(server.Metric(Errors("503", "no_server")), 3u);
}

// A refused connect sent nothing, so it is retried, at most retry.attempts times: with two
// refusing servers and attempts 1, each request makes exactly two connects, then a 502; with a
// good second server, every request is answered.
TEST(E2eProxyCausesTest, RefusedConnectsAreRetriedAtMostAttemptsTimes) {
  {
    ProxyConfig config;
    config.servers = {"127.0.0.1:" + std::to_string(RefusedPort()),
                      "127.0.0.1:" + std::to_string(RefusedPort())};
    config.retry = "{attempts: 1}";
    Sluiced server(ProxyYaml(config));
    SLUICE_START_PROXY_OR_SKIP(server);
    for (std::uint64_t i = 1; i <= 3; ++i) {
      EXPECT_EQ(StatusOf(server.port(), GetOf("/both-refuse")), 502);
      EXPECT_EQ(server.Metric("sluice_upstream_connections_opened_total" + kApp), 2u * i);
      EXPECT_EQ(server.Metric("sluice_upstream_retries_total" + kApp), 1u * i);
    }
  }
  RecordingUpstream upstream([](const UpstreamRequest& r) { return Answer(200, "r:" + r.target); });
  ASSERT_TRUE(upstream.ok());
  ProxyConfig config;
  config.servers = {"127.0.0.1:" + std::to_string(RefusedPort()), upstream.address()};
  config.retry = "{attempts: 1}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  for (int i = 0; i < 4; ++i) {
    const auto r = Get(server.port(), GetOf("/one-refuses"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << "a refused connect reached the client";
  }
  EXPECT_GE(server.Metric("sluice_upstream_retries_total" + kApp), 1u);
  EXPECT_EQ(server.Metric(Errors("502", "refused")), 0u) << "a retried failure was answered";
}

// Writes on a non-blocking socket until the peer stops taking bytes for `stall`.
void WriteUntilStalled(int fd, const std::string& bytes, std::chrono::milliseconds stall) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(stall.count())) == 0) return;
  }
}

// An upstream that accepts and never reads the request body: after idle_ms with no progress,
// a 504 (nothing of an answer was sent), the client's connection closed in order after it, and
// the upstream connection closed.
TEST(E2eProxyCausesTest, AnUpstreamThatStopsReadingTheBodyIs504) {
  BareListener listener;
  ASSERT_NE(listener.port(), 0);
  ProxyConfig config;
  config.servers = {listener.address()};
  config.timeouts = "{connect_ms: 2000, response_header_ms: 60000, idle_ms: 400}";
  config.limits = "{body_bytes: 134217728}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  Client client(server.port(), 10s);
  const std::size_t total = 32 * 1024 * 1024;
  ASSERT_TRUE(client.Send("POST /stuck HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                          std::to_string(total) + "\r\n\r\n"));
  const int up = listener.Accept(10s);
  ASSERT_GE(up, 0);
  WriteUntilStalled(client.fd(), std::string(total, 'b'), 200ms);
  fcntl(client.fd(), F_SETFL, fcntl(client.fd(), F_GETFL) & ~O_NONBLOCK);
  AnswerReader reader(client);
  const auto a = reader.NextFinal();
  ASSERT_TRUE(a.has_value()) << Escaped(reader.pending());
  EXPECT_EQ(a->status, 504) << Escaped(a->raw);
  // An orderly close after the answer (sluiced reads past the rest of the body), never a reset
  // over unread input, which could have destroyed the 504 before the client read it.
  char byte = 0;
  EXPECT_EQ(::recv(client.fd(), &byte, 1, 0), 0) << "not an orderly close: errno " << errno;
  std::string got;
  EXPECT_TRUE(ReadToClose(up, got, 10s)) << "the stuck upstream connection was kept";
  ::close(up);
  EXPECT_EQ(server.Metric(Errors("504", "timeout")), 1u);
}

// An upstream that stops inside its answer, after the head went to the client: after idle_ms
// the client connection is cut (its answer never completed), counted as aborted.
TEST(E2eProxyCausesTest, AnUpstreamThatStopsInsideItsAnswerCutsTheClient) {
  BareListener listener;
  ASSERT_NE(listener.port(), 0);
  ProxyConfig config;
  config.servers = {listener.address()};
  config.timeouts = "{connect_ms: 2000, response_header_ms: 60000, idle_ms: 400}";
  Sluiced server(ProxyYaml(config));
  SLUICE_START_PROXY_OR_SKIP(server);
  Client client(server.port(), 10s);
  ASSERT_TRUE(client.Send(GetOf("/stops")));
  const int up = listener.Accept(10s);
  ASSERT_GE(up, 0);
  std::string request;
  ASSERT_TRUE(ReadUntil(up, request, "\r\n\r\n", 0, 10s));
  const std::string part = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
  ASSERT_EQ(::send(up, part.data(), part.size(), MSG_NOSIGNAL), static_cast<ssize_t>(part.size()));
  const auto all = client.ReadToEof();
  ASSERT_TRUE(all.has_value()) << "the client connection was not cut";
  ASSERT_NE(all->find("\r\n\r\n"), std::string::npos) << Escaped(*all);
  EXPECT_EQ(all->substr(all->find("\r\n\r\n") + 4), "hello") << "the answer was padded";
  std::string got;
  EXPECT_TRUE(ReadToClose(up, got, 10s)) << "the upstream connection was kept";
  ::close(up);
  EXPECT_EQ(server.Metric("sluice_upstream_aborted_total" + kApp), 1u);
  EXPECT_EQ(server.Metric(Errors("504", "timeout")), 1u);
}

}  // namespace
}  // namespace sluice::e2e
