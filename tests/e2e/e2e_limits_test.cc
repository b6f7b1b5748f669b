// End-to-end: sluiced's resource limits, timeouts, decision log, reload state, key kinds.
// Every wait polls a condition against a deadline; nothing asserts a timing.
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

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

std::string Config(const std::string& policies, const std::string& extra = "", int threads = 1,
                   const std::string& listen = "127.0.0.1:0") {
  return "listen: \"" + listen + "\"\nadmin: 127.0.0.1:0\nthreads: " + std::to_string(threads) +
         "\ntable: {capacity: 65536, when_full: evict}\n" + extra + "policies:\n" + policies;
}

// A policy on header x-key (skipped without it) that never refills during a test.
std::string PerKey(const std::string& name, int burst, const std::string& extra = "") {
  return "  - name: " + name + "\n    key: header:x-key\n    when_missing: skip\n    rate: 1/h\n" +
         "    burst: " + std::to_string(burst) + "\n" + extra;
}

#define START_OR_SKIP(server)                                                   \
  do {                                                                          \
    if ((server).io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring"; \
    ASSERT_TRUE((server).ok()) << (server).output();                            \
  } while (0)

std::uint64_t Metric(const Sluiced& server, const std::string& series) {
  return server.Metric(series);
}

// 1. Descriptor exhaustion: more connections than RLIMIT_NOFILE allows the server. accept()
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

// 2. connections_per_shard: the 9th and later connections are accepted and closed at once,
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

// 3. idle_timeout_ms: an idle keep-alive connection is closed; an active one is not.
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

// 4. The decision log: denials as JSON lines; admissions only as sampled.
TEST(E2eLimitsTest, DecisionLogRecordsDenials) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config(PerKey("logged", 2), "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  const int expected[] = {200, 200, 429};
  for (const int status : expected) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: alice\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u) << "no line in " << log.path();
  // The writer drains the shard's queue in order: had the admissions been logged, they
  // would be in the file before the denial.
  ASSERT_EQ(lines.size(), 1u) << lines.front();
  const std::string& line = lines.front();
  EXPECT_EQ(line.front(), '{') << line;
  EXPECT_EQ(line.back(), '}') << line;
  EXPECT_EQ(JsonField(line, "policy"), "\"logged\"") << line;
  EXPECT_EQ(JsonField(line, "status"), "429") << line;
  EXPECT_EQ(JsonField(line, "client"), "\"127.0.0.1\"") << line;
  EXPECT_EQ(JsonField(line, "forwarded_client"), "") << line;  // no forwarded: setting
  EXPECT_NE(JsonField(line, "key").find("alice"), std::string::npos) << line;
  const std::string retry = JsonField(line, "retry_after_ns");
  ASSERT_FALSE(retry.empty()) << line;
  EXPECT_GT(std::strtoll(retry.c_str(), nullptr, 10), 0) << line;
  EXPECT_GT(std::strtoll(JsonField(line, "time_ns").c_str(), nullptr, 10), 0) << line;
  // A request no policy matches is never logged.
  EXPECT_EQ(StatusOf(server.port(), Request("/nokey")), 200);
}

// Behind a trusted proxy the peer is the proxy: the log also names the client it forwarded
// for, and only when the peer is trusted and the header holds an address.
TEST(E2eLimitsTest, DecisionLogNamesTheForwardedClient) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(Config("  - {name: per-client, key: ip, rate: 1/h, burst: 1}\n",
                        "forwarded: {trusted: [127.0.0.1], client_ip: x-forwarded-for, hops: 2}\n"
                        "log: {denials: \"" +
                            log.path() + "\", sample_admits: 0}\n",
                        1));
  START_OR_SKIP(server);
  Client c(server.port());
  // hops 2: the client is the second address from the right.
  const std::string via = "x-forwarded-for: 198.51.100.7, 10.0.0.2\r\n";
  const int expected[] = {200, 429};
  for (const int status : expected) {
    ASSERT_TRUE(c.Send(Request("/", via)));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  // An IPv6 client behind the same proxy, denied on its second request too.
  const std::string via6 = "x-forwarded-for: 2001:db8::7, 10.0.0.2\r\n";
  for (const int status : expected) {
    ASSERT_TRUE(c.Send(Request("/", via6)));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  std::vector<std::string> lines = log.WaitForLines(2);
  ASSERT_GE(lines.size(), 2u) << "fewer than two lines in " << log.path();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(JsonField(lines[0], "client"), "\"127.0.0.1\"") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "forwarded_client"), "\"198.51.100.7\"") << lines[0];
  EXPECT_EQ(JsonField(lines[1], "forwarded_client"), "\"2001:db8::7\"") << lines[1];
}

TEST(E2eLimitsTest, DecisionLogSamplesAdmissions) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config(PerKey("logged", 2), "log: {denials: \"" + log.path() + "\", sample_admits: 1}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: bob\r\n")));
    ASSERT_TRUE(c.Read().has_value());
  }
  std::vector<std::string> lines = log.WaitForLines(3);
  ASSERT_GE(lines.size(), 3u) << lines.size() << " lines in " << log.path();
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(JsonField(lines[i], "status"), "200") << lines[i];
    EXPECT_EQ(JsonField(lines[i], "retry_after_ns"), "0") << lines[i];
    EXPECT_EQ(JsonField(lines[i], "policy"), "\"logged\"") << lines[i];
    EXPECT_NE(JsonField(lines[i], "key").find("bob"), std::string::npos) << lines[i];
  }
  EXPECT_EQ(JsonField(lines[2], "status"), "429") << lines[2];
}

// Keys holding JSON's special characters are escaped in the decision log.
TEST(E2eLimitsTest, DecisionLogEscapesKeys) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(Config(PerKey("escaped", 1),
                        "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  for (const int status : {200, 429}) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: q\"b\\s\r\n")));  // q"b\s
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("q\\\"b\\\\s\""), std::string::npos) << "key not escaped: " << lines[0];
  EXPECT_EQ(JsonField(lines[0], "policy"), "\"escaped\"") << lines[0];
}

// Policy names may be 64 bytes long (config.cc kMaxNameBytes); the log names them in full.
TEST(E2eLimitsTest, DecisionLogNamesLongPoliciesInFull) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  const std::string name(64, 'n');
  Sluiced server(
      Config(PerKey(name, 1), "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1));
  START_OR_SKIP(server);
  Client c(server.port());
  for (const int status : {200, 429}) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: long\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
    EXPECT_NE(r->Header("ratelimit").find(name), std::string::npos);
  }
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  const std::string policy = JsonField(lines[0], "policy");
  EXPECT_EQ(policy, "\"" + name + "\"") << lines[0];
}

// log.sample_admits can change on reload (log.denials cannot).
TEST(E2eLimitsTest, ReloadChangesAdmissionSampling) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  const auto config = [&](const std::string& rate) {
    return Config(PerKey("sampled", 1000),
                  "log: {denials: \"" + log.path() + "\", sample_admits: " + rate + "}\n", 1);
  };
  Sluiced server(config("0"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-key: before\r\n")), 200);
  server.WriteConfig(config("1"));
  server.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Get(server.admin_port(), Request("/config"));
        return r.has_value() && r->body.find("sample_admits: 1") != std::string::npos;
      },
      10s))
      << server.DrainOutput();
  auto after = Get(server.port(), Request("/", "x-key: after\r\n"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, 200);
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(JsonField(lines[0], "key").find("after"), std::string::npos) << lines[0];
  EXPECT_EQ(JsonField(lines[0], "status"), "200") << lines[0];
}

// 5. SIGHUP keeps the state of unchanged policies and resets a policy whose limit changed.
TEST(E2eLimitsTest, ReloadKeepsStateOfUnchangedPolicies) {
  const std::string a2 = PerKey("policy-a", 2);
  const std::string b =
      "  - name: policy-b\n    match: {path_prefix: /b/}\n    key: ip\n"
      "    rate: 100/s\n    burst: 50\n";
  Sluiced server(Config(a2));
  START_OR_SKIP(server);
  const std::string req = Request("/", "x-key: k\r\n");
  for (const int status : {200, 200, 429}) {
    auto r = Get(server.port(), req);
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status);
  }
  const auto config_has = [&](const std::string& text) {
    return PollUntil(
        [&] {
          auto r = Get(server.admin_port(), Request("/config"));
          return r.has_value() && r->body.find(text) != std::string::npos;
        },
        10s);
  };

  // Adding policy B (before A, so A's position changes) leaves A, same name, rate and burst,
  // and its keys alone.
  server.WriteConfig(Config(b + a2));
  server.Signal(SIGHUP);
  ASSERT_TRUE(config_has("policy-b")) << server.DrainOutput();
  auto kept = Get(server.port(), req);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->status, 429) << "policy-a's state was lost by a reload that did not change it";
  auto on_b = Get(server.port(), Request("/b/x"));
  ASSERT_TRUE(on_b.has_value());
  EXPECT_EQ(on_b->status, 200);
  EXPECT_NE(on_b->Header("ratelimit-policy").find("policy-b"), std::string::npos);
  // Policy counters add up across the reload.
  EXPECT_EQ(Metric(server, PolicySeries("policy-a", "admitted")), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("policy-a", "denied")), 2u);

  // A new burst for A is a new limit: its keys start afresh.
  server.WriteConfig(Config(b + PerKey("policy-a", 3)));
  server.Signal(SIGHUP);
  ASSERT_TRUE(config_has("burst: 3")) << server.DrainOutput();
  auto fresh = Get(server.port(), req);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->status, 200) << "a reload that changed policy-a's burst kept its old state";
  EXPECT_EQ(fresh->Header("ratelimit-policy"), "\"policy-a\";q=3;w=10800");
  for (const int status : {200, 200, 429}) {
    auto r = Get(server.port(), req);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
  }
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

// 6. HTTP/1.0 with Connection: keep-alive stays open and says so.
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

// 7. when_missing: deny answers 429 without Retry-After (it can never succeed by waiting).
TEST(E2eLimitsTest, WhenMissingDenyDeniesWithoutRetryAfter) {
  Sluiced server(Config(
      "  - name: need-key\n    key: header:x-api-key\n    when_missing: deny\n    rate: 100/s\n"
      "    burst: 10\n"));
  START_OR_SKIP(server);
  auto missing = Get(server.port(), Request("/"));
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 429);
  EXPECT_EQ(missing->headers.count("retry-after"), 0u) << missing->Header("retry-after");
  // An empty value counts as missing too.
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-api-key:\r\n")), 429);
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-api-key: abc\r\n")), 200);
  EXPECT_EQ(WaitForMetric(server, PolicySeries("need-key", "missing_key"), 2), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("need-key", "denied")), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("need-key", "admitted")), 1u);
}

// when_missing: ip falls back to the client address as the key.
TEST(E2eLimitsTest, WhenMissingIpKeysByAddress) {
  Sluiced server(
      Config("  - name: key-or-ip\n    key: header:x-key\n    when_missing: ip\n    rate: 1/h\n"
             "    burst: 1\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Request("/")), 200);
  auto second = Get(server.port(), Request("/"));  // a new connection, the same address
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->status, 429);
  EXPECT_EQ(StatusOf(server.port(), Request("/", "x-key: own\r\n")), 200);
}

// A when_missing: deny denial in the decision log: never retryable.
TEST(E2eLimitsTest, DecisionLogOfAMissingKey) {
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config("  - name: need-key\n    key: header:x-api-key\n    when_missing: deny\n"
             "    rate: 100/s\n    burst: 10\n",
             "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n"));
  START_OR_SKIP(server);
  EXPECT_EQ(StatusOf(server.port(), Request("/")), 429);
  std::vector<std::string> lines = log.WaitForLines(1);
  ASSERT_GE(lines.size(), 1u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(JsonField(lines[0], "policy"), "\"need-key\"") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "status"), "429") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "retry_after_ns"), "-1") << lines[0];
}

// 7b. Shadow mode never denies but counts what it would have denied.
TEST(E2eLimitsTest, ShadowModeCountsButNeverDenies) {
  Sluiced server(Config(PerKey("shadowed", 2, "    mode: shadow\n")));
  START_OR_SKIP(server);
  Client c(server.port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: s\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->headers.count("retry-after"), 0u) << i;
  }
  EXPECT_EQ(WaitForMetric(server, PolicySeries("shadowed", "shadow_denied"), 3), 3u);
  EXPECT_EQ(Metric(server, PolicySeries("shadowed", "admitted")), 2u);
  EXPECT_EQ(Metric(server, PolicySeries("shadowed", "denied")), 0u);
  EXPECT_EQ(Metric(server, "sluice_requests_total{outcome=\"denied\"}"), 0u);
}

// 7c. An enforcing and a shadow policy together: the shadow one never causes a denial.
TEST(E2eLimitsTest, ShadowPolicyBesideAnEnforcingOne) {
  Sluiced server(Config(PerKey("enforced", 4) + PerKey("shadowed", 1, "    mode: shadow\n")));
  START_OR_SKIP(server);
  Client c(server.port());
  for (const int status : {200, 200, 200, 200, 429}) {
    ASSERT_TRUE(c.Send(Request("/", "x-key: both\r\n")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, status);
  }
  EXPECT_EQ(WaitForMetric(server, PolicySeries("enforced", "denied"), 1), 1u);
  EXPECT_EQ(Metric(server, PolicySeries("enforced", "admitted")), 4u);
  EXPECT_GE(Metric(server, PolicySeries("shadowed", "shadow_denied")), 3u);
}

// 8. Multi-part keys: each distinct combination of the parts has its own state.
TEST(E2eLimitsTest, MultiPartKeysSeparateEveryCombination) {
  Sluiced server(
      Config("  - name: combo\n    key: [ip, header:x-user, method, path]\n    rate: 1/h\n"
             "    burst: 1\n"));
  START_OR_SKIP(server);
  const auto status = [&](const std::string& method, const std::string& path,
                          const std::string& user) {
    auto r = Get(server.port(),
                 method + " " + path + " HTTP/1.1\r\nHost: t\r\nx-user: " + user + "\r\n\r\n");
    return r.has_value() ? r->status : -1;
  };
  EXPECT_EQ(status("GET", "/a", "u1"), 200);
  EXPECT_EQ(status("GET", "/a", "u1"), 429);
  EXPECT_EQ(status("POST", "/a", "u1"), 200);  // another method
  EXPECT_EQ(status("GET", "/b", "u1"), 200);   // another path
  EXPECT_EQ(status("GET", "/a", "u2"), 200);   // another user
  EXPECT_EQ(status("POST", "/a", "u1"), 429);
  EXPECT_EQ(status("GET", "/b", "u1"), 429);
  EXPECT_EQ(status("GET", "/a", "u2"), 429);
}

bool HaveIpv6Loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// 8b. IPv6: ip and ip/64 keys of a client on ::1, seen through the decision log.
TEST(E2eLimitsTest, Ipv6KeysByAddressAndPrefix) {
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  TempFile log;
  ASSERT_FALSE(log.path().empty());
  Sluiced server(
      Config("  - name: net64\n    match: {path_prefix: /net/}\n"
             "    key: [ip/64, header:x-user]\n    rate: 1/h\n    burst: 2\n"
             "  - name: host\n    match: {path_prefix: /host/}\n    key: ip\n"
             "    rate: 1/h\n    burst: 1\n",
             "log: {denials: \"" + log.path() + "\", sample_admits: 0}\n", 1, "[::1]:0"));
  START_OR_SKIP(server);
  Client c(server.port(), 5s, Family::kV6);
  ASSERT_TRUE(c.connected());
  const auto status = [&](const std::string& path, const std::string& user) {
    if (!c.Send(Request(path, "x-user: " + user + "\r\n"))) return -1;
    auto r = c.Read();
    return r.has_value() ? r->status : -1;
  };
  EXPECT_EQ(status("/net/1", "u1"), 200);
  EXPECT_EQ(status("/net/2", "u1"), 200);
  EXPECT_EQ(status("/net/3", "u1"), 429);
  EXPECT_EQ(status("/net/4", "u2"), 200);  // same /64, other user: its own key
  EXPECT_EQ(status("/host/1", "u1"), 200);
  EXPECT_EQ(status("/host/2", "u2"), 429);  // key ip only: the user does not matter

  std::vector<std::string> lines = log.WaitForLines(2);
  ASSERT_GE(lines.size(), 2u) << lines.size() << " lines";
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(JsonField(lines[0], "policy"), "\"net64\"") << lines[0];
  EXPECT_EQ(JsonField(lines[0], "client"), "\"::1\"") << lines[0];
  const std::string net_key = JsonField(lines[0], "key");
  EXPECT_NE(net_key.find("::/64"), std::string::npos) << "the /64 prefix, not ::1: " << lines[0];
  EXPECT_NE(net_key.find("u1"), std::string::npos) << lines[0];
  EXPECT_EQ(JsonField(lines[1], "policy"), "\"host\"") << lines[1];
  EXPECT_NE(JsonField(lines[1], "key").find("::1"), std::string::npos) << lines[1];
}

}  // namespace
}  // namespace sluice::e2e
