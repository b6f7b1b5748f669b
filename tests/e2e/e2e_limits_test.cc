// End-to-end: sluiced's resource limits (descriptors, connections per shard) and timeouts,
// HTTP/1.0 keep-alive. Every wait polls a condition against a deadline; nothing asserts a timing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "limits_config.h"
#include "start_or_skip.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

// Descriptor exhaustion: more connections than RLIMIT_NOFILE allows the server. accept()
// fails with EMFILE; the server must back off, keep serving what it has, and recover.
TEST(E2eLimitsTest, DescriptorExhaustionIsSurvived) {
  constexpr rlim_t kServerFds = 64;
  constexpr int kClients = 100;
  StartOptions fd_limit;
  fd_limit.max_open_files = kServerFds;
  Sluiced server(Config(PerKey("per-key", 1000)), {}, fd_limit);
  START_OR_SKIP(server);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    // The kernel completes the handshakes into the listen backlog whether or not the server
    // can accept them.
    clients.push_back(std::make_unique<Client>(server.port(), 20s));
    ASSERT_TRUE(clients.back()->connected()) << i;
  }
  // The server takes descriptors until it has none left.
  EXPECT_TRUE(PollUntil([&] { return server.OpenFds() >= static_cast<long>(kServerFds); }, 10s))
      << "open fds: " << server.OpenFds();
  ASSERT_TRUE(server.Running()) << server.DrainOutput();
  // A connection accepted before the limit is still served while the server is out of fds.
  ASSERT_TRUE(clients.front()->Send(Request("/early", "x-key: early\r\n")));
  auto early = clients.front()->Read();
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->status, 200);
  // The last connection is still in the listen backlog; it asks now and is answered once
  // descriptors are free again.
  Client& queued = *clients.back();
  ASSERT_TRUE(queued.Send(Request("/queued", "x-key: queued\r\n")));
  for (std::size_t i = 0; i + 1 < clients.size(); ++i) clients[i]->Close();
  auto late = queued.Read();
  ASSERT_TRUE(late.has_value()) << "a queued connection was never served";
  EXPECT_EQ(late->status, 200);
  queued.Close();
  // New clients are served.
  EXPECT_TRUE(PollUntil(
      [&] {
        Client c(server.port(), 1s);
        if (!c.connected() || !c.Send(Request("/after"))) return false;
        auto r = c.Read();
        return r.has_value() && r->status == 200;
      },
      20s));
  ASSERT_TRUE(server.Running()) << server.DrainOutput();
  std::uint64_t errors = 0;
  std::uint64_t refused = 0;
  EXPECT_TRUE(PollUntil(
      [&] {
        const auto body = server.Metrics();
        if (!body) return false;
        errors = MetricSum(*body, "sluice_accept_errors_total");
        refused = MetricSum(*body, "sluice_connections_refused_total");
        return errors + refused > 0;
      },
      10s))
      << "accept errors " << errors << ", refused " << refused;
  // Several more clients, each served.
  for (int i = 0; i < 10; ++i) {
    auto r = Get(server.port(), Request("/again"));
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_TRUE(server.Running());
}

// Out of descriptors, a connection waiting on the admin port cannot be accepted yet; the
// admin thread must wait for descriptors rather than spin on accept().
TEST(E2eLimitsTest, DescriptorExhaustionDoesNotSpinTheAdminThread) {
  constexpr rlim_t kServerFds = 64;
  StartOptions fd_limit;
  fd_limit.max_open_files = kServerFds;
  Sluiced server(Config(PerKey("per-key", 1000)), {}, fd_limit);
  START_OR_SKIP(server);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(clients.back()->connected()) << i;
  }
  ASSERT_TRUE(PollUntil([&] { return server.OpenFds() >= static_cast<long>(kServerFds); }, 10s))
      << "open fds: " << server.OpenFds();
  Client admin(server.admin_port(), 20s);
  ASSERT_TRUE(admin.connected());
  ASSERT_TRUE(admin.Send(Request("/healthz")));
  // Over one second of waiting, the server should be nearly idle: nothing can progress.
  const long before = server.CpuTicks();
  std::this_thread::sleep_for(1s);
  const long used = server.CpuTicks() - before;
  const long hz = sysconf(_SC_CLK_TCK);
  for (auto& c : clients) c->Close();
  auto health = admin.Read();
  ASSERT_TRUE(health.has_value()) << "the admin connection was never served";
  EXPECT_EQ(health->status, 200);
  EXPECT_LE(used, hz / 2) << "CPU ticks in one second";
}

// Connections_per_shard: the 9th and later connections are accepted and closed at once,
// without an answer, while the first 8 keep being served.
TEST(E2eLimitsTest, ConnectionsOverThePerShardLimitAreClosed) {
  Sluiced server(Config(PerKey("per-key", 1000), "limits: {connections_per_shard: 8}\n", 1));
  START_OR_SKIP(server);
  std::vector<std::unique_ptr<Client>> served;
  for (int i = 0; i < 8; ++i) {
    served.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(served.back()->Send(Request("/in" + std::to_string(i))));
    auto r = served.back()->Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  for (int i = 8; i < 20; ++i) {
    Client extra(server.port());
    ASSERT_TRUE(extra.connected()) << i;
    const auto bytes = extra.ReadToEof();
    ASSERT_TRUE(bytes.has_value()) << "connection " << i << " was not closed";
    EXPECT_EQ(*bytes, "") << "connection " << i << " got an answer";
  }
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < served.size(); ++i) {
      ASSERT_TRUE(served[i]->Send(Request("/again")));
      auto r = served[i]->Read();
      ASSERT_TRUE(r.has_value()) << i;
      EXPECT_EQ(r->status, 200) << i;
    }
  }
  EXPECT_EQ(WaitForMetric(server, "sluice_connections_refused_total", 12), 12u);
  EXPECT_EQ(Metric(server, "sluice_connections_accepted_total"), 8u);
  EXPECT_EQ(Metric(server, "sluice_connections_open"), 8u);
  // A slot that frees up is given to the next connection.
  served.front()->Close();
  EXPECT_TRUE(PollUntil(
      [&] {
        Client c(server.port(), 1s);
        if (!c.connected() || !c.Send(Request("/freed"))) return false;
        auto r = c.Read();
        return r.has_value() && r->status == 200;
      },
      10s));
}

// Idle_timeout_ms: an idle keep-alive connection is closed; an active one is not.
TEST(E2eLimitsTest, IdleKeepAliveConnectionsAreClosedActiveOnesStay) {
  Sluiced server(Config(PerKey("per-key", 1000), "limits: {idle_timeout_ms: 300}\n", 1));
  START_OR_SKIP(server);
  Client idle(server.port());
  ASSERT_TRUE(idle.Send(Request("/once")));
  auto first = idle.Read();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200);

  // A request every 100 ms for a second: three times within every idle timeout.
  Client active(server.port());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(active.Send(Request("/busy" + std::to_string(i)))) << i;
    auto r = active.Read();
    ASSERT_TRUE(r.has_value()) << "active connection lost at request " << i;
    EXPECT_EQ(r->status, 200);
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(active.Send(Request("/still")));
  auto still = active.Read();
  ASSERT_TRUE(still.has_value()) << "the active connection was closed";
  EXPECT_EQ(still->status, 200);

  // The idle one was closed by the server (EOF within the client's 5 s timeout).
  const auto rest = idle.ReadToEof();
  ASSERT_TRUE(rest.has_value()) << "the idle connection is still open";
  EXPECT_EQ(*rest, "");
  EXPECT_GE(WaitForMetric(server, "sluice_idle_timeouts_total", 1), 1u);
}

// A reload may change idle_timeout_ms; it applies to connections already open.
TEST(E2eLimitsTest, ReloadedIdleTimeoutAppliesToOpenConnections) {
  const std::string policies = PerKey("per-key", 1000);
  Sluiced server(Config(policies, "limits: {idle_timeout_ms: 600000}\n"));
  START_OR_SKIP(server);
  Client c(server.port(), 10s);
  ASSERT_TRUE(c.Send(Request("/")));
  ASSERT_TRUE(c.Read().has_value());
  server.WriteConfig(Config(policies, "limits: {idle_timeout_ms: 200}\n"));
  server.Signal(SIGHUP);
  const auto rest = c.ReadToEof();
  ASSERT_TRUE(rest.has_value()) << "still open under the reloaded idle timeout\n"
                                << server.DrainOutput();
  EXPECT_EQ(*rest, "");
  EXPECT_GE(WaitForMetric(server, "sluice_idle_timeouts_total", 1), 1u);
}

// HTTP/1.0 with Connection: keep-alive stays open and says so.
TEST(E2eLimitsTest, HttpOneZeroKeepAlive) {
  Sluiced server(Config(PerKey("per-key", 2)));
  START_OR_SKIP(server);
  Client c(server.port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")) << i;
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->Header("connection"), "keep-alive") << i;
  }
  // Pipelined, both answered in order.
  ASSERT_TRUE(
      c.Send("GET /p1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
             "GET /p2 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->Header("connection"), "keep-alive") << i;
  }
  // A denial keeps the connection too.
  for (const int status : {200, 200, 429, 429}) {
    ASSERT_TRUE(c.Send("GET /d HTTP/1.0\r\nConnection: keep-alive\r\nx-key: ten\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(r->Header("connection"), "keep-alive");
  }
  // Without the header a 1.0 request ends the connection.
  ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\n\r\n"));
  auto last = c.Read();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->status, 200);
  EXPECT_NE(last->Header("connection"), "keep-alive");
  EXPECT_TRUE(c.ReadsEof());
}

}  // namespace
}  // namespace sluice::e2e
