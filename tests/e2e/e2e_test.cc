// End-to-end: the real sluiced binary on port 0, driven over loopback.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "start_or_skip.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

std::string Config(const std::string& policies, const std::string& extra = "", int threads = 2) {
  return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: " + std::to_string(threads) +
         "\ntable: {capacity: 65536, when_full: evict}\n" + extra + "policies:\n" + policies;
}

const std::string kPerKeyPolicy =
    "  - name: per-key\n    key: header:x-key\n    when_missing: skip\n    rate: 1/s\n"
    "    burst: 2\n";

TEST(E2eTest, KeepAliveAnswersEveryRequestOnOneConnection) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  Client c(server.port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send(Request("/k" + std::to_string(i))));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->Header("ratelimit"), "");  // no x-key: the policy does not apply
  }
}

TEST(E2eTest, RetryAfterAndRateLimitHeaders) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  Client c(server.port());
  const std::string req = Request("/", "x-key: alice\r\n");
  ASSERT_TRUE(c.Send(req));
  auto first = c.Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->Header("ratelimit-policy"), "\"per-key\";q=2;w=2");
  EXPECT_EQ(first->Header("ratelimit"), "\"per-key\";r=1;t=1");
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
  EXPECT_FALSE(third->body.empty());
  // Another key is unaffected.
  auto bob = Get(server.port(), Request("/", "x-key: bob\r\n"));
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->status, 200);
}

TEST(E2eTest, TwoHundredPipelinedRequestsInOneWrite) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  Client c(server.port());
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += Request("/p" + std::to_string(i), "x-key: pipe\r\n");
  ASSERT_TRUE(c.Send(batch));
  int allowed = 0;
  int denied = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << "response " << i;
    (r->status == 200 ? allowed : denied)++;
    // In order: the burst of 2 comes first.
    EXPECT_EQ(r->status, i < 2 ? 200 : 429) << i;
  }
  EXPECT_EQ(allowed, 2);
  EXPECT_EQ(denied, 198);
}

TEST(E2eTest, HttpOneZeroClosesAfterTheAnswer) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  Client c(server.port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c.ReadsEof());
  // Connection: close on 1.1 as well.
  Client d(server.port());
  ASSERT_TRUE(d.Send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(d.Read());
  EXPECT_TRUE(d.ReadsEof());
}

TEST(E2eTest, BodiesAreSkippedBeforePipelinedRequests) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  Client c(server.port());
  const std::string batch =
      "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"
      "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n "
      "world\r\n"
      "0\r\nTrailer: x\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: t\r\n\r\n";
  // Byte by byte, so every request and body is split across receives too.
  for (const char ch : batch) ASSERT_TRUE(c.Send(std::string(1, ch)));
  for (int i = 0; i < 3; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
}

TEST(E2eTest, MalformedRequestsGetTheirStatusAndClose) {
  Sluiced server(Config(kPerKeyPolicy, "limits: {uri_bytes: 256, header_bytes: 2048}\n"));
  START_OR_SKIP(server);
  const std::pair<std::string, int> cases[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", 400},
      {"GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(3000, 'b') + "\r\n\r\n", 431},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\n\r\n", 400},  // HTTP/1.1 without Host
  };
  for (const auto& [raw, status] : cases) {
    Client c(server.port());
    ASSERT_TRUE(c.Send(raw));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << raw.substr(0, 40);
    EXPECT_EQ(r->status, status) << raw.substr(0, 40);
    EXPECT_TRUE(c.ReadsEof()) << raw.substr(0, 40);
  }
  // A bad chunk size: the head was fine, so it is answered; then the framing error gets a 400
  // and a close (the stream can no longer be trusted).
  {
    Client c(server.port());
    ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
    auto head = c.Read();
    ASSERT_TRUE(head.has_value());
    EXPECT_EQ(head->status, 200);
    auto framing = c.Read();
    ASSERT_TRUE(framing.has_value());
    EXPECT_EQ(framing->status, 400);
    EXPECT_TRUE(c.ReadsEof());
  }
  // And the server still serves everyone else.
  auto ok = Get(server.port(), Request("/"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// Two shards, 64 connections, one key: exactly the burst is admitted (the rate is one per
// hour, so nothing refills during the test).
TEST(E2eTest, ExactAdmissionAcrossShards) {
  Sluiced server(
      Config("  - name: hot\n    key: header:x-key\n    rate: 1/h\n    burst: 100\n", "", 2));
  START_OR_SKIP(server);
  std::atomic<int> allowed{0};
  std::atomic<int> denied{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      std::vector<std::unique_ptr<Client>> clients;
      for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<Client>(server.port()));
      for (int round = 0; round < 10; ++round) {
        for (auto& c : clients) {
          std::string batch;
          for (int k = 0; k < 4; ++k) batch += Request("/", "x-key: the-one\r\n");
          if (!c->Send(batch)) ++failed;
        }
        for (auto& c : clients) {
          for (int k = 0; k < 4; ++k) {
            auto r = c->Read();
            if (!r) {
              ++failed;
            } else if (r->status == 200) {
              ++allowed;
            } else if (r->status == 429) {
              ++denied;
            } else {
              ++failed;
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(allowed.load(), 100);
  EXPECT_EQ(denied.load(), 64 * 10 * 4 - 100);
}

TEST(E2eTest, AdminEndpoints) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  ASSERT_TRUE(Get(server.port(), Request("/", "x-key: m\r\n")));
  auto health = Get(server.admin_port(), Request("/healthz"));
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto metrics = Get(server.admin_port(), Request("/metrics"));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find(
                "sluice_policy_decisions_total{policy=\"per-key\",decision=\"admitted\"} 1"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("# TYPE sluice_requests_total counter"), std::string::npos);
  // Every family has HELP and TYPE, every counter ends in _total, no sample repeats.
  {
    std::set<std::string> series;
    std::istringstream lines(metrics->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#') continue;
      EXPECT_TRUE(series.insert(line.substr(0, line.rfind(' '))).second) << "repeated: " << line;
    }
    EXPECT_GT(series.size(), 20u);
  }
  for (std::size_t at = metrics->body.find("# TYPE "); at != std::string::npos;
       at = metrics->body.find("# TYPE ", at + 1)) {
    const std::string line = metrics->body.substr(at, metrics->body.find('\n', at) - at);
    if (line.ends_with(" counter")) {
      EXPECT_NE(line.find("_total "), std::string::npos) << line;
    }
  }
  if (access("/usr/bin/promtool", X_OK) == 0) {
    const std::string path = server.config_path() + ".metrics";
    { std::ofstream(path) << metrics->body; }
    const int rc = std::system(("/usr/bin/promtool check metrics < " + path).c_str());
    std::remove(path.c_str());
    EXPECT_EQ(rc, 0) << "promtool check metrics failed";
  }
  auto config = Get(server.admin_port(), Request("/config"));
  ASSERT_TRUE(config);
  EXPECT_NE(config->body.find("per-key"), std::string::npos);
  auto missing = Get(server.admin_port(), Request("/nope"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST(E2eTest, ReloadUnderLoadFailsNoRequest) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      Client c(server.port());
      const std::string req = Request("/", "x-key: load" + std::to_string(t) + "\r\n");
      while (!stop.load()) {
        if (!c.Send(req)) {
          ++failed;
          return;
        }
        auto r = c.Read();
        if (!r || (r->status != 200 && r->status != 429)) {
          ++failed;
          return;
        }
        ++answered;
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);
    server.WriteConfig(Config(kPerKeyPolicy + "  - name: extra" + std::to_string(i) +
                              "\n    key: ip\n    rate: 100/s\n    burst: 100\n"));
    server.Signal(SIGHUP);
  }
  // A bad config is rejected and the old one keeps serving.
  server.WriteConfig("policies: [this is not valid\n");
  server.Signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(answered.load(), 50);
  const std::string& out = server.DrainOutput();
  EXPECT_NE(out.find("reloaded"), std::string::npos) << out;
  EXPECT_NE(out.find("reload rejected"), std::string::npos) << out;
  auto still = Get(server.port(), Request("/"));
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);
}

TEST(E2eTest, SigtermDrainsAndExitsZero) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  Client busy(server.port());
  ASSERT_TRUE(busy.connected());
  // Half a request in flight when the signal arrives; the rest right after.
  ASSERT_TRUE(busy.Send("GET /drain HTTP/1.1\r\nHost: x\r\n"));
  std::this_thread::sleep_for(100ms);
  server.Signal(SIGTERM);
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(busy.Send("\r\n"));
  auto r = busy.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_EQ(server.Wait(10s), 0);
}

TEST(E2eTest, SlowlorisIsCutWhileOthersAreServed) {
  Sluiced server(
      Config(kPerKeyPolicy, "limits: {header_timeout_ms: 500, idle_timeout_ms: 5000}\n"));
  START_OR_SKIP(server);
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(slow.back()->Send("GET / HTTP/1.1\r\n"));
  }
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 1500ms) {
    for (auto& s : slow) (void)s->Send("X");
    auto ok = Get(server.port(), Request("/"));
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->status, 200);
    std::this_thread::sleep_for(50ms);
  }
  // Every slow client was disconnected by the header timeout.
  for (auto& s : slow) EXPECT_TRUE(s->ReadsEof());
}

TEST(E2eTest, ClientThatNeverReadsCannotGrowServerMemory) {
  Sluiced server(Config(kPerKeyPolicy, "limits: {output_bytes: 65536}\n", 1));
  START_OR_SKIP(server);
  ASSERT_TRUE(Get(server.port(), Request("/warm")).has_value());
  const long before = server.RssKib();
  // Ten clients pipeline requests for a second and never read an answer.
  std::vector<std::unique_ptr<Client>> hogs;
  for (int i = 0; i < 10; ++i) hogs.push_back(std::make_unique<Client>(server.port(), 50ms));
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += Request("/hog", "x-key: hog\r\n");
  long long sent = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 1s) {
    for (auto& h : hogs) {
      if (h->connected() && h->Send(batch)) sent += static_cast<long long>(batch.size());
    }
  }
  const long after = server.RssKib();
  EXPECT_GT(sent, 1 << 20) << "the hogs should have pushed megabytes";
  EXPECT_LT(after - before, 16 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
  // Everyone else is still served, promptly.
  for (int i = 0; i < 10; ++i) {
    auto ok = Get(server.port(), Request("/"));
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->status, 200);
  }
  auto metrics = Get(server.admin_port(), Request("/metrics"));
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->body.find("sluice_recv_paused_total{shard=\"0\"} 0\n"), std::string::npos)
      << "reading from the hogs should have paused";
}

// A pipeline deep enough to fill the output buffer pauses reading; once the client has read
// every answer, the connection must listen again (a lost re-arm would leave it deaf).
TEST(E2eTest, ReadingResumesAfterAPipelinePause) {
  Sluiced server(Config(kPerKeyPolicy, "limits: {output_bytes: 4096}\n", 1));
  START_OR_SKIP(server);
  for (const int depth : {27, 40, 52, 300, 600}) {
    Client c(server.port());
    std::string batch;
    for (int i = 0; i < depth; ++i) batch += Request("/p");
    ASSERT_TRUE(c.Send(batch));
    for (int i = 0; i < depth; ++i) ASSERT_TRUE(c.Read().has_value()) << depth << " " << i;
    ASSERT_TRUE(c.Send(Request("/after")));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << "no answer after a pause of depth " << depth;
    EXPECT_EQ(r->status, 200);
  }
}

// A client that half-closes after sending still gets every answer, then the close.
TEST(E2eTest, HalfClosedClientGetsItsAnswers) {
  Sluiced server(Config(kPerKeyPolicy));
  START_OR_SKIP(server);
  for (int round = 0; round < 20; ++round) {
    Client c(server.port());
    ASSERT_TRUE(c.Send(Request("/1") + Request("/2") + Request("/3")));
    ASSERT_EQ(::shutdown(c.fd(), SHUT_WR), 0);
    for (int i = 0; i < 3; ++i) {
      auto r = c.Read();
      ASSERT_TRUE(r.has_value()) << "round " << round << " answer " << i;
      EXPECT_EQ(r->status, 200);
    }
    EXPECT_TRUE(c.ReadsEof());
  }
}

// Ten thousand pipelined requests in one write, read as they come: every one answered, in
// order, no reset (reading pauses and resumes; the socket buffer bounds what is in flight).
TEST(E2eTest, DeepPipelineIsAnsweredCompletely) {
  Sluiced server(Config(kPerKeyPolicy, "", 1));
  START_OR_SKIP(server);
  Client c(server.port(), 10s);
  std::string batch;
  for (int i = 0; i < 10000; ++i) batch += Request("/deep", "x-key: deep\r\n");
  std::thread writer([&] { ASSERT_TRUE(c.Send(batch)); });
  int allowed = 0;
  int denied = 0;
  for (int i = 0; i < 10000; ++i) {
    auto r = c.Read();
    if (!r.has_value()) {
      ADD_FAILURE() << "answer " << i << " missing";
      break;
    }
    (r->status == 200 ? allowed : denied)++;
  }
  writer.join();
  EXPECT_EQ(allowed, 2);
  EXPECT_EQ(denied, 9998);
}

// Idle connections hold no buffers: many of them cost the server little memory.
TEST(E2eTest, IdleConnectionsCostLittleMemory) {
  Sluiced server(Config(kPerKeyPolicy, "", 1));
  START_OR_SKIP(server);
  ASSERT_TRUE(Get(server.port(), Request("/warm")).has_value());
  const long before = server.RssKib();
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 400; ++i) {
    idle.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(idle.back()->connected()) << i;
    if (i % 2 == 0) {  // half of them made one request first
      ASSERT_TRUE(idle.back()->Send(Request("/once")));
      ASSERT_TRUE(idle.back()->Read().has_value());
    }
  }
  ASSERT_TRUE(Get(server.port(), Request("/")).has_value());  // all accepted by now
  const long after = server.RssKib();
  EXPECT_LT(after - before, 8 * 1024) << "RSS grew from " << before << " to " << after << " KiB";
}

TEST(E2eTest, CheckConfigReportsEveryErrorWithItsLine) {
  Sluiced server(
      "listen: 127.0.0.1:0\npolicies:\n  - name: a\n    key: ip\n    rate: 10/x\n"
      "    burst: 0\n");
  EXPECT_FALSE(server.ok());
  const std::string& out = server.output();
  EXPECT_NE(out.find(":5:"), std::string::npos) << out;
  EXPECT_NE(out.find(":6:"), std::string::npos) << out;
  EXPECT_NE(out.find("not started"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice::e2e
