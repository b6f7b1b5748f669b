#include "adversarial.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace sluice::e2e {

using namespace std::chrono_literals;

bool FullForm() {
  const char* v = std::getenv("SLUICE_ADVERSARIAL");
  return v != nullptr && std::strcmp(v, "full") == 0;
}

int Scaled(int short_count, int full_count) { return FullForm() ? full_count : short_count; }

std::string ScenarioConfig(const std::string& limits, int threads) {
  return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: " + std::to_string(threads) +
         "\ntable: {capacity: 65536, when_full: evict}\n" +
         (limits.empty() ? "" : "limits: " + limits + "\n") +
         "policies:\n  - {name: per-key, key: 'header:x-key', rate: 1/h, burst: 2}\n";
}

bool CheckRss() {
#ifdef SLUICE_SANITIZER_BUILD
  return false;
#else
  return true;
#endif
}

long RaiseFdLimit(long n) {
  rlimit l{};
  if (getrlimit(RLIMIT_NOFILE, &l) != 0) return -1;
  if (l.rlim_cur < static_cast<rlim_t>(n)) {
    l.rlim_cur = std::min(static_cast<rlim_t>(n), l.rlim_max);
    setrlimit(RLIMIT_NOFILE, &l);
    getrlimit(RLIMIT_NOFILE, &l);
  }
  return static_cast<long>(l.rlim_cur);
}

Scenario::Scenario(Sluiced& server, std::string name, int warm_connections)
    : server_(server),
      name_(std::move(name)),
      warm_connections_(warm_connections),
      start_(std::chrono::steady_clock::now()) {}

void Scenario::Begin() {
  Client c(server_.port());
  ASSERT_TRUE(c.connected());
  for (const int status : {200, 200, 429}) {
    ASSERT_TRUE(c.Send(Request("/victim", kVictimHeader)));
    const auto r = c.Read();
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, status) << "the victim key before the scenario";
  }
  c.Close();
  // Warm every shard up (SO_REUSEPORT spreads connections by address and port): its buffer
  // pools, its allocator arena and its first pages exist before the baseline, so what the
  // scenario adds is measured, not the server's first connections.
  {
    std::vector<std::unique_ptr<Client>> warm;
    for (int i = 0; i < warm_connections_; ++i) {
      warm.push_back(std::make_unique<Client>(server_.port()));
      ASSERT_TRUE(warm.back()->Send(Request("/warm")));
    }
    for (auto& w : warm) ASSERT_TRUE(w->Read().has_value());
  }
  // The baseline: nothing but the listeners, rings and admin socket open (the victim's
  // connection is closed once the server has released it).
  ASSERT_TRUE(PollUntil([&] { return server_.Metric("sluice_connections_open") == 0; }, 10s));
  fds_before_ = server_.OpenFds();
  rss_before_ = server_.RssKib();
  ASSERT_GT(fds_before_, 0);
  ASSERT_GT(rss_before_, 0);
  start_ = std::chrono::steady_clock::now();
}

void Scenario::End(long rss_bound_kib, long fd_slack, std::uint64_t connections_left) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  ASSERT_TRUE(server_.Running()) << server_.DrainOutput();
  // Every connection of the scenario is released and its descriptor closed (lingering
  // closes and header/idle timeouts finish within seconds).
  long fds = -1;
  std::uint64_t open = 0;
  const bool released = PollUntil(
      [&] {
        open = server_.Metric("sluice_connections_open");
        fds = server_.OpenFds();
        // fd_slack covers the admin connection being served while we look.
        return open <= connections_left && fds >= 0 && fds <= fds_before_ + fd_slack;
      },
      30s);
  EXPECT_TRUE(released) << name_ << ": open fds " << fds << " (baseline " << fds_before_
                        << "), connections open " << open;
  // Alive and serving a new client.
  const auto ok = Get(server_.port(), Request("/after"));
  ASSERT_TRUE(ok.has_value()) << name_ << ": a new client was not served";
  EXPECT_EQ(ok->status, 200);
  // The key that was over its limit is still limited.
  const auto victim = Get(server_.port(), Request("/victim", kVictimHeader));
  ASSERT_TRUE(victim.has_value());
  EXPECT_EQ(victim->status, 429) << name_ << ": the victim key was reset";
  const long rss = server_.RssKib();
  if (CheckRss()) {
    EXPECT_LT(rss - rss_before_, rss_bound_kib)
        << name_ << ": RSS grew from " << rss_before_ << " to " << rss << " KiB";
  }
  EXPECT_TRUE(server_.Running());
  std::printf(
      "[adversarial] %s (%s form): %.1f s; RSS %ld -> %ld KiB (%+ld, bound %ld%s); "
      "fds %ld -> %ld\n",
      name_.c_str(), FullForm() ? "full" : "short", seconds, rss_before_, rss, rss - rss_before_,
      rss_bound_kib, CheckRss() ? "" : ", not asserted: sanitizer", fds_before_, fds);
  std::fflush(stdout);
}

std::vector<int> Statuses(const std::string& stream) {
  std::vector<int> statuses;
  std::size_t at = 0;
  while (at < stream.size()) {
    const std::size_t end = stream.find("\r\n\r\n", at);
    if (stream.compare(at, 7, "HTTP/1.") != 0 || end == std::string::npos || end - at < 12) {
      statuses.push_back(-1);
      break;
    }
    statuses.push_back(std::atoi(stream.c_str() + at + 9));
    std::size_t length = 0;
    for (const char* name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
      const std::size_t h = stream.find(name, at);
      if (h != std::string::npos && h < end) {
        length = static_cast<std::size_t>(std::atol(stream.c_str() + h + 17));
      }
    }
    at = end + 4 + length;
  }
  return statuses;
}

}  // namespace sluice::e2e
