// Which server of an upstream gets the next request, per shard (no shared state: each shard
// balances what it forwards). round_robin takes the servers in turn; least_in_flight is the
// best of two random choices (P2C, as Envoy's LEAST_REQUEST): two distinct servers drawn at
// random, the one with fewer requests in flight on this shard wins. Passive ejection: a server
// with `eject_failures` consecutive failed attempts (refused, reset, timeout, malformed) is
// left out for `eject_for`; if every server is out, Pick() says so (the proxy answers 503).
// Time is a parameter (monotonic ns). Not thread-safe: one per shard and upstream.
#ifndef SLUICE_NET_PROXY_BALANCER_H_
#define SLUICE_NET_PROXY_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sluice/net/config/config.h"

namespace sluice::net {

class Balancer {
 public:
  struct ServerState {
    std::uint32_t in_flight = 0;
    std::uint32_t failures = 0;      // consecutive
    std::int64_t ejected_until = 0;  // monotonic ns; 0: never ejected
  };

  // Allocates: call at start and reload only.
  void Reset(Balance balance, std::size_t servers, std::uint32_t eject_failures,
             std::int64_t eject_for_ns, std::uint64_t seed);

  // The server for the next attempt, or -1 when every server is ejected at `now`. `avoid`
  // (a server index, or -1) is skipped when another server is eligible: a retry goes elsewhere.
  [[nodiscard]] int Pick(std::int64_t now, int avoid = -1) noexcept;
  // An attempt on `server` started / ended. A failure counts towards ejection; a success
  // clears the count. Returns true when this failure ejected the server.
  void Started(std::size_t server) noexcept { ++servers_[server].in_flight; }
  bool Finished(std::size_t server, bool failed, std::int64_t now) noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return servers_.size(); }
  [[nodiscard]] const ServerState& server(std::size_t i) const noexcept { return servers_[i]; }

 private:
  [[nodiscard]] bool Eligible(std::size_t i, std::int64_t now) const noexcept {
    return servers_[i].ejected_until <= now;
  }
  std::uint64_t Next() noexcept;

  Balance balance_ = Balance::kRoundRobin;
  std::vector<ServerState> servers_;
  std::uint32_t eject_failures_ = 0;
  std::int64_t eject_for_ns_ = 0;
  std::size_t cursor_ = 0;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_BALANCER_H_
