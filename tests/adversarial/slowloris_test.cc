// Slowloris at the connection limit: every connection slot of the shard is held by a client
// trickling header bytes. While they hold them, a new client is refused (accepted and closed,
// counted); once the header timeout cuts the slow heads, new clients are served again. The
// server keeps no descriptor and no memory of them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adversarial.h"
#include "harness.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

TEST(AdversarialSlowlorisTest, SlowHeadsAtTheConnectionLimitAreCutAndSlotsComeBack) {
  const int slots = Scaled(64, 1000);
  const int rounds = Scaled(1, 3);
  ASSERT_GE(RaiseFdLimit(slots + 256), slots + 64) << "this process needs a descriptor per slot";
  // The header timeout only has to outlast opening every slot; idle and body limits are far.
  Sluiced server(ScenarioConfig("{connections_per_shard: " + std::to_string(slots) +
                                ", header_timeout_ms: 3000, idle_timeout_ms: 60000}"));
  START_OR_SKIP(server);
  Scenario scenario(server, "slowloris at the connection limit");
  scenario.Begin();
  if (HasFatalFailure()) return;

  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::uint64_t timeouts_before = server.Metric("sluice_header_timeouts_total");
    std::vector<std::unique_ptr<Client>> slow;
    for (int i = 0; i < slots; ++i) {
      slow.push_back(std::make_unique<Client>(server.port(), 10s));
      ASSERT_TRUE(slow.back()->connected()) << i;
      ASSERT_TRUE(slow.back()->Send("GET /slow HTTP/1.1\r\nHost: s\r\nX-Slow: ")) << i;
    }
    ASSERT_TRUE(PollUntil(
        [&] {
          return server.Metric("sluice_connections_open") == static_cast<std::uint64_t>(slots);
        },
        10s))
        << "open: " << server.Metric("sluice_connections_open");
    // Every slot is taken: a newcomer is accepted and closed at once, without an answer.
    const std::uint64_t refused_before = server.Metric("sluice_connections_refused_total");
    {
      Client extra(server.port());
      ASSERT_TRUE(extra.connected());
      (void)extra.Send(Request("/refused"));
      const auto bytes = extra.ReadToEof();
      ASSERT_TRUE(bytes.has_value()) << "a connection over the limit was not closed";
      EXPECT_EQ(*bytes, "") << "a connection over the limit was answered";
    }
    EXPECT_TRUE(PollUntil(
        [&] { return server.Metric("sluice_connections_refused_total") > refused_before; }, 10s));

    // The slow clients keep trickling (one header byte each, every 100 ms) until cut.
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        for (auto& s : slow) {
          if (s->connected() && !s->Send("a")) s->Close();
        }
        std::this_thread::sleep_for(100ms);
      }
    });
    // A fresh client is served once the header timeout has freed the slots.
    int attempts = 0;
    const bool served = PollUntil(
        [&] {
          ++attempts;
          Client c(server.port(), 2s);
          if (!c.connected() || !c.Send(Request("/fresh"))) return false;
          const auto r = c.Read();
          return r.has_value() && r->status == 200;
        },
        30s);
    stop.store(true, std::memory_order_relaxed);
    trickle.join();
    ASSERT_TRUE(served) << "no slot came back after " << attempts << " attempts";
    // Every slow client was cut, none answered.
    for (std::size_t i = 0; i < slow.size(); ++i) {
      if (!slow[i]->connected()) continue;  // its send already failed: the server closed it
      const auto rest = slow[i]->ReadToEof();
      ASSERT_TRUE(rest.has_value()) << "slow client " << i << " still open";
      EXPECT_EQ(*rest, "") << "slow client " << i << " was answered";
    }
    EXPECT_GE(server.Metric("sluice_header_timeouts_total") - timeouts_before,
              static_cast<std::uint64_t>(slots));
  }
  // Each slow connection held one input buffer (its partial head) while it lived: the pool
  // keeps them for reuse, a few KiB touched each.
  scenario.End(16 * 1024 + slots * 16L);
}

// Regression: a connection whose head is still arriving has nothing to send, so it must not
// hold an output buffer. It did: Drive() took one before parsing, and a partial head kept it
// until the head completed or the connection closed. Slow heads (or a storm of connections
// reset mid-head) could so exhaust the shard's output pool, and every other connection that
// needed one was closed unanswered (sluice_buffer_exhausted_total). Here output_bytes of
// 64 MiB leaves room for two output buffers in the pool (a third of the 512 MiB budget): four
// slow heads must not lock a fresh client out.
TEST(AdversarialSlowlorisTest, SlowHeadsHoldNoOutputBuffers) {
  Sluiced server(ScenarioConfig("{output_bytes: 67108864, header_timeout_ms: 60000}"));
  START_OR_SKIP(server);
  // One warm-up connection: with two output buffers, 32 answers in flight at once would not
  // all find one (that is the budget working, not this bug).
  Scenario scenario(server, "slow heads and the output pool", 1);
  scenario.Begin();
  if (HasFatalFailure()) return;
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(slow.back()->Send("GET /slow HTTP/1.1\r\nHost: s\r\n")) << i;
  }
  ASSERT_TRUE(PollUntil([&] { return server.Metric("sluice_connections_open") == 4; }, 10s))
      << server.Metric("sluice_connections_open") << " slow heads open; closed for want of a "
      << "buffer: " << server.Metric("sluice_buffer_exhausted_total");
  for (int i = 0; i < 3; ++i) {
    const auto fresh = Get(server.port(), Request("/fresh"));
    ASSERT_TRUE(fresh.has_value()) << "a fresh client was closed unanswered";
    EXPECT_EQ(fresh->status, 200);
  }
  // The slow heads complete: each is answered (with the buffer it takes only now).
  for (auto& s : slow) {
    ASSERT_TRUE(s->Send("\r\n"));
    const auto r = s->Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server.Metric("sluice_buffer_exhausted_total"), 0u);
  slow.clear();
  scenario.End(16 * 1024);
}

}  // namespace
}  // namespace sluice::e2e
