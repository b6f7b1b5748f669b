// Zero heap allocations per proxied request in steady state (issue 12): as
// server_alloc_test.cc, global operator new counts the calls made on sluiced's shard threads
// while an allocation-free client drives keep-alive and pipelined traffic through an
// in-process server in proxy mode, forwarded (to an upstream thread of the test over pooled
// connections; chunked bodies too, held until they end) and denied locally, answers in order.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "sluice/net/config/config.h"
#include "sluice/net/server/server.h"
#include "support/alloc_counter.h"

namespace {

bool OnShardThread() {
  thread_local int cached = -1;
  if (cached < 0) {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    cached = std::strncmp(name, "sluiced-s", 9) == 0 ? 1 : 0;
  }
  return cached == 1;
}

[[maybe_unused]] const bool g_count_shards_only =
    (sluice::testing::count_if = &OnShardThread, true);

}  // namespace

namespace sluice::net {
namespace {

// A keep-alive upstream on loopback: every request head it receives (no bodies here) gets
// "200 ok". One thread per connection; stops when the listener is shut down.
class Upstream {
 public:
  Upstream() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] {
      for (;;) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::thread([c] { Serve(c); }).detach();
      }
    });
  }
  ~Upstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (accept_.joinable()) accept_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  static void Serve(int c) {
    static constexpr char kAnswer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char in[65536];
    std::size_t have = 0;
    for (;;) {
      const ssize_t got = ::recv(c, in + have, sizeof in - have, 0);
      if (got <= 0) break;
      have += static_cast<std::size_t>(got);
      std::size_t pos = 0;
      while (const char* end =
                 static_cast<const char*>(memmem(in + pos, have - pos, "\r\n\r\n", 4))) {
        std::size_t next = static_cast<std::size_t>(end - in) + 4;
        if (memmem(in + pos, static_cast<std::size_t>(end - (in + pos)), "chunked", 7)) {
          // A chunked body (re-chunked canonically by sluiced) ends with its last chunk.
          const auto* last =
              static_cast<const char*>(memmem(in + next, have - next, "0\r\n\r\n", 5));
          if (last == nullptr) break;  // not all in yet
          next = static_cast<std::size_t>(last - in) + 5;
        }
        pos = next;
        if (::send(c, kAnswer, sizeof kAnswer - 1, MSG_NOSIGNAL) < 0) break;
      }
      std::memmove(in, in + pos, have - pos);
      have -= pos;
    }
    ::close(c);
  }
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread accept_;
};

// Sends `request` `pipeline` times in one write and reads exactly that many responses, using
// only stack buffers. Returns the number of 429s, or -1 on a failure.
int RoundTrip(int fd, const char* request, int pipeline) {
  char out[16384];
  const std::size_t len = std::strlen(request);
  std::size_t n = 0;
  for (int i = 0; i < pipeline; ++i, n += len) std::memcpy(out + n, request, len);
  if (::send(fd, out, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) return -1;
  char in[65536];
  std::size_t have = 0;
  int responses = 0;
  int denied = 0;
  std::size_t pos = 0;
  while (responses < pipeline) {
    const char* end = static_cast<const char*>(memmem(in + pos, have - pos, "\r\n\r\n", 4));
    if (end != nullptr) {
      const char* cl = static_cast<const char*>(
          memmem(in + pos, static_cast<std::size_t>(end - (in + pos)), "Content-Length: ", 16));
      const std::size_t body = cl ? std::strtoul(cl + 16, nullptr, 10) : 0;
      const std::size_t total = static_cast<std::size_t>(end + 4 - (in + pos)) + body;
      if (have - pos >= total) {
        if (std::strncmp(in + pos + 9, "429", 3) == 0) ++denied;
        if (std::strncmp(in + pos + 9, "200", 3) != 0 &&
            std::strncmp(in + pos + 9, "429", 3) != 0) {
          return -1;
        }
        pos += total;
        ++responses;
        continue;
      }
    }
    if (have == sizeof in) {
      std::memmove(in, in + pos, have - pos);
      have -= pos;
      pos = 0;
    }
    const ssize_t got = ::recv(fd, in + have, sizeof in - have, 0);
    if (got <= 0) return -1;
    have += static_cast<std::size_t>(got);
  }
  return denied;
}

TEST(ProxyAllocationTest, SteadyStateProxiedRequestsNeverAllocate) {
  Upstream upstream;
  ASSERT_NE(upstream.port(), 0);
  auto config = ParseConfig(
      "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n"
      "policies:\n"
      "  - {name: limited, match: {path_prefix: /api/limited}, key: ip, rate: 1/h, burst: 1}\n"
      "upstreams:\n  - {name: app, servers: [\"127.0.0.1:" +
          std::to_string(upstream.port()) +
          "\"], pool: {idle_per_shard: 4}}\n"
          "routes:\n  - {upstream: app}\n",
      "t.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto server = Server::Start(*config, "");
  if (!server.ok() && server.status().message().find("io_uring") != std::string_view::npos) {
    GTEST_SKIP() << server.status();
  }
  ASSERT_TRUE(server.ok()) << server.status();

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*server)->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char* forwarded =
      "GET /api/steady?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nConnection: X-Drop\r\n"
      "X-Drop: 1\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n";
  const char* denied = "GET /api/limited HTTP/1.1\r\nHost: a\r\n\r\n";
  // A chunked body: held until it ends (limits.body_bytes), then forwarded re-chunked.
  const char* chunked =
      "POST /api/upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

  // Warm up to the deepest pipeline: buffers and the pooled connection are made once.
  ASSERT_GE(RoundTrip(fd, forwarded, 64), 0);
  ASSERT_GE(RoundTrip(fd, denied, 64), 0);
  ASSERT_GE(RoundTrip(fd, chunked, 64), 0);
  const long before = sluice::testing::Allocations();
  long denials = 0;
  for (int i = 0; i < 1000; ++i) {
    const char* request = i % 4 == 3 ? denied : i % 4 == 1 ? chunked : forwarded;
    const int d = RoundTrip(fd, request, 1 + i % 64);
    ASSERT_GE(d, 0) << "round " << i;
    denials += d;
  }
  const long after = sluice::testing::Allocations();
  ::close(fd);
  EXPECT_EQ(after - before, 0) << "allocations on shard threads during proxied traffic";
  EXPECT_GT(denials, 0);  // local denials were exercised too
}

}  // namespace
}  // namespace sluice::net
