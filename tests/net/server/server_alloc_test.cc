// Zero heap allocations per request in steady state: global operator new counts the calls made
// on sluiced's shard threads (named "sluiced-s<N>"), while an allocation-free client drives
// keep-alive and pipelined traffic, admitted and denied, through an in-process server.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

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

// Only the shard threads' allocations count: the test's client and the main thread may allocate.
[[maybe_unused]] const bool g_count_shards_only =
    (sluice::testing::count_if = &OnShardThread, true);

}  // namespace

namespace sluice::net {
namespace {

// Sends `request` `pipeline` times in one write and reads exactly that many responses, using
// only stack buffers. Returns the number of 429s, or -1 on a failure.
int RoundTrip(int fd, const char* request, int pipeline) {
  char out[8192];
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
        pos += total;
        ++responses;
        continue;
      }
    }
    const ssize_t got = ::recv(fd, in + have, sizeof in - have, 0);
    if (got <= 0) return -1;
    have += static_cast<std::size_t>(got);
  }
  return denied;
}

TEST(ServerAllocationTest, SteadyStateRequestsNeverAllocate) {
  ServerConfig config = EmbeddedDefault();
  config.listen = {"127.0.0.1", 0};
  config.admin = {"127.0.0.1", 0};
  config.threads = 1;
  config.log.denials_path = "/dev/null";  // exercise the decision log queue too
  config.log.sample_admits = 1.0;
  config.policies[0].burst = 50;
  auto server = Server::Start(config, "");
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
  const char* request = "GET /steady HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";

  // Warm up: the connection's buffers are made at accept, once per connection slot.
  ASSERT_GE(RoundTrip(fd, request, 10), 0);
  const long before = sluice::testing::Allocations();
  long denied = 0;
  for (int i = 0; i < 2000; ++i) {
    const int d = RoundTrip(fd, request, 1 + i % 64);
    ASSERT_GE(d, 0);
    denied += d;
  }
  const long after = sluice::testing::Allocations();
  ::close(fd);
  EXPECT_EQ(after - before, 0) << "allocations on shard threads during steady traffic";
  EXPECT_GT(denied, 0);  // both answers were exercised
}

}  // namespace
}  // namespace sluice::net
