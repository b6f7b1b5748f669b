// A pipelining flood from clients that never read: each pushes requests as fast as the kernel
// takes them and reads nothing. The server must cap what it queues for them (output_bytes,
// then it stops reading; kMaxPendingInput, then it closes), keep serving everyone else, and
// give back their descriptors when they go. Its memory stays within the per-connection caps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adversarial.h"
#include "harness.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

TEST(AdversarialPipeliningTest, ClientsThatNeverReadAreCappedAndOthersServed) {
  const int hogs = Scaled(16, 64);
  const auto duration = std::chrono::seconds(Scaled(2, 20));
  Sluiced server(ScenarioConfig("{output_bytes: 65536, idle_timeout_ms: 60000}"));
  START_OR_SKIP(server);
  Scenario scenario(server, "pipelining flood, never reading");
  scenario.Begin();
  if (HasFatalFailure()) return;

  // Whole requests, so a stream cut anywhere and resumed is still a valid pipeline. Half use
  // the victim's key (denied), half a key of their own.
  std::string batch;
  for (int i = 0; i < 64; ++i) {
    batch += Request("/hog", i % 2 == 0 ? kVictimHeader : "x-key: hog\r\n");
  }
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < hogs; ++i) {
    flood.push_back(std::make_unique<Client>(server.port()));
    ASSERT_TRUE(flood.back()->connected()) << i;
  }

  // A well-behaved keep-alive client, and fresh connections, served throughout.
  std::atomic<bool> stop{false};
  std::atomic<int> served{0};
  std::atomic<int> failed{0};
  std::thread bystander([&] {
    Client keep(server.port(), 10s);
    while (!stop.load(std::memory_order_relaxed)) {
      const auto r = keep.Send(Request("/ok")) ? keep.Read() : std::nullopt;
      const auto fresh = Get(server.port(), Request("/fresh"));
      const bool ok = r && r->status == 200 && fresh && fresh->status == 200;
      (ok ? served : failed).fetch_add(1, std::memory_order_relaxed);
      if (!ok) return;
    }
  });

  // Non-blocking sends, round robin: a hog whose socket is full simply waits its next turn.
  std::vector<std::size_t> offset(flood.size(), 0);
  long long pushed = 0;
  const auto end = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < end) {
    bool progress = false;
    for (std::size_t h = 0; h < flood.size(); ++h) {
      if (!flood[h]->connected()) continue;
      const ssize_t n = ::send(flood[h]->fd(), batch.data() + offset[h], batch.size() - offset[h],
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        offset[h] = (offset[h] + static_cast<std::size_t>(n)) % batch.size();
        pushed += n;
        progress = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        flood[h]->Close();  // the server closed it (input overflow): allowed, and counted
      }
    }
    if (!progress) std::this_thread::sleep_for(5ms);
  }
  const long rss_during = server.RssKib();
  stop.store(true, std::memory_order_relaxed);
  bystander.join();
  EXPECT_EQ(failed.load(), 0) << "a well-behaved client was not served during the flood";
  EXPECT_GT(served.load(), 0);
  // Each hog pushed far past what the server may queue for it: reading from them paused.
  EXPECT_GT(pushed, static_cast<long long>(hogs) * 4 * 65536);
  EXPECT_GT(server.Metric("sluice_recv_paused_total"), 0u);
  std::printf("[adversarial] pipelining: %d hogs pushed %lld KiB; RSS during %ld KiB\n", hogs,
              pushed / 1024, rss_during);
  for (auto& h : flood) h->Close();  // unread answers in the socket: the close is a reset

  // Per hog the server holds at most an output buffer (64 KiB), a pending-input buffer
  // (kMaxPendingInput, 1 MiB) and a head buffer (40 KiB); the pools keep them for reuse.
  const long per_hog_kib = 64 + 1024 + 40;
  if (CheckRss()) {
    EXPECT_LT(rss_during - scenario.rss_before_kib(), 16 * 1024 + hogs * per_hog_kib);
  }
  scenario.End(16 * 1024 + hogs * per_hog_kib);
}

}  // namespace
}  // namespace sluice::e2e
