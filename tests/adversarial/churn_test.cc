// Connection churn and resets: thousands of short connections (tens of thousands in the full
// form), reset in the middle of a request, half-closed, closed before reading the answer.
// Afterwards the server holds no more descriptors than before, its memory is back within a
// bound, every connection slot was released, a limited key is still limited, and it serves.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "adversarial.h"
#include "harness.h"

namespace sluice::e2e {
namespace {

using namespace std::chrono_literals;

// Closes with an RST (SO_LINGER 0): no TIME_WAIT on the client side, and the server sees a
// reset rather than an orderly close.
void Reset(Client& c) {
  linger l{1, 0};
  setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  c.Close();
}

TEST(AdversarialChurnTest, ChurnAndResetsLeaveNothingBehind) {
  Sluiced server(
      "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\n"
      // Rarely (about once in a few thousand here) a connection reset right after the handshake
      // is never seen as reset by the server: the header timeout cuts it, so keep that short.
      "limits: {header_timeout_ms: 2000}\n"
      "policies:\n  - name: per-key\n    key: header:x-key\n    rate: 1000000/s\n"
      "    burst: 1000000\n");
  if (server.io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
  ASSERT_TRUE(server.ok()) << server.output();
  ASSERT_TRUE(Get(server.port(), Request("/warm")).has_value());
  const long fds_before = server.OpenFds();
  const long rss_before = server.RssKib();
  ASSERT_GT(fds_before, 0);

  constexpr int kThreads = 4;
  constexpr int kPerThread = 1500;
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Client c(server.port());
        if (!c.connected()) {
          ++failed;
          ADD_FAILURE() << "connect failed, request " << i;
          continue;
        }
        const std::string key = "x-key: k" + std::to_string(t * kPerThread + i) + "\r\n";
        switch (i % 3) {
          case 0:  // reset in the middle of a head
            (void)c.Send("GET /half HTTP/1.1\r\nHost: t\r\n" + key);
            Reset(c);
            break;
          case 1:  // the server closes after answering
            if (c.Send(Request("/close", key + "Connection: close\r\n")) && c.Read()) {
              ++answered;
            } else {
              ++failed;
              ADD_FAILURE() << "no answer (close), request " << i << " errno " << errno;
            }
            Reset(c);
            break;
          default:  // keep-alive answer, then the client resets
            if (c.Send(Request("/keep", key)) && c.Read()) {
              ++answered;
            } else {
              ++failed;
              ADD_FAILURE() << "no answer (keep), request " << i << " errno " << errno;
            }
            Reset(c);
            break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(answered.load(), kThreads * kPerThread * 2 / 3);

  // Every connection is closed and released (lingering closes finish within seconds).
  EXPECT_TRUE(PollUntil(
      [&] {
        const auto metrics = server.Metrics();
        return metrics && MetricSum(*metrics, "sluice_connections_open") == 0 &&
               server.OpenFds() <= fds_before + 1;  // +1: the admin connection being served
      },
      15s))
      << "open fds " << server.OpenFds() << " (before " << fds_before << ")";
  const long rss_after = server.RssKib();
  EXPECT_LT(rss_after - rss_before, 16 * 1024)
      << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
  auto ok = Get(server.port(), Request("/after"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  EXPECT_TRUE(server.Running());
}

// Mixed churn over two shards: clean closes after the answer, resets in the middle of a head,
// half-closes (shutdown(SHUT_WR)) after a request, and closes right after sending a request
// without reading its answer. Each connection uses its own key, so the table churns too.
// Clients connect from several loopback addresses: the clean and half-closed ones leave the
// client side in TIME_WAIT, and one address's ephemeral ports would not last the full form.
TEST(AdversarialChurnTest, MixedClosesResetsAndHalfClosesLeaveNothingBehind) {
  const int total = Scaled(4000, 50000);
  Sluiced server(ScenarioConfig("{header_timeout_ms: 2000}", 2));
  START_OR_SKIP(server);
  Scenario scenario(server, "mixed connection churn");
  scenario.Begin();
  if (HasFatalFailure()) return;

  constexpr int kThreads = 4;
  const int passes = Scaled(2, 4);
  long rss_after_first = 0;
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t, pass] {
        const std::string source = "127.0.0." + std::to_string(10 + t);
        for (int i = pass * total / passes + t; i < (pass + 1) * total / passes; i += kThreads) {
          Client c(server.port(), 5s, Family::kV4, source);
          if (!c.connected()) {
            ++failed;
            ADD_FAILURE() << "connect failed, connection " << i << " errno " << errno;
            continue;
          }
          const std::string key = "x-key: m" + std::to_string(i) + "\r\n";
          switch (i % 4) {
            case 0:  // the answer, then an orderly close by the client
              if (c.Send(Request("/clean", key)) && c.Read()) {
                ++answered;
              } else {
                ++failed;
                const int error = errno;
                const auto rest = c.ReadToEof();
                ADD_FAILURE() << "no answer (clean), connection " << i << " errno " << error
                              << ", then got [" << rest.value_or("<timeout>") << "]";
              }
              c.Close();
              break;
            case 1:  // reset in the middle of a head
              (void)c.Send("GET /half HTTP/1.1\r\nHost: t\r\n" + key);
              c.Reset();
              break;
            case 2:  // half-close after two requests: both answered, then the server closes
            {
              int step = 0;
              bool ok = c.Send(Request("/hc1", key) + Request("/hc2", key));
              if (ok && ++step) ok = ::shutdown(c.fd(), SHUT_WR) == 0;
              if (ok && ++step) ok = c.Read().has_value();
              if (ok && ++step) ok = c.Read().has_value();
              if (ok && ++step) ok = c.ReadsEof();
              if (ok) {
                ++answered;
              } else {
                ++failed;
                const int error = errno;
                const auto rest = c.ReadToEof();
                ADD_FAILURE() << "half-close not answered and closed, connection " << i << ": step "
                              << step << " failed, errno " << error << ", then got ["
                              << rest.value_or("<timeout>") << "]";
              }
            }
              c.Close();
              break;
            default:  // gone before the answer arrives
              (void)c.Send(Request("/gone", key));
              c.Close();
              break;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    const long rss = server.RssKib();
    if (pass == 0) rss_after_first = rss;
    std::printf("[adversarial] churn pass %d: RSS %ld KiB\n", pass, rss);
  }
  // A connection closed unanswered for want of a buffer is the likeliest cause of a failure
  // here (connections reset mid-head used to hold an output buffer each).
  EXPECT_EQ(failed.load(), 0) << "closed for want of a buffer: "
                              << server.Metric("sluice_buffer_exhausted_total");
  EXPECT_EQ(answered.load(), (total + 3) / 4 + (total + 1) / 4);
  // The first pass grows the shards' buffer pools to the most connections a shard held at
  // once: the clients that reset or leave without reading do not wait for the server, so in a
  // burst a shard holds hundreds to thousands of them (each with a buffer or two, a page or
  // two touched). Later passes reuse those buffers: a leak of even 512 bytes per connection
  // would show over the full form's 37,500 later connections.
  if (CheckRss()) {
    EXPECT_LT(server.RssKib() - rss_after_first, 16 * 1024)
        << "RSS grew after the first pass: " << rss_after_first << " -> " << server.RssKib();
  }
  scenario.End(128 * 1024);
}

}  // namespace
}  // namespace sluice::e2e
