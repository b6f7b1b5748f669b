// Server choice per shard (balancer.h).
#include "sluice/net/proxy/balancer.h"

namespace sluice::net {

void Balancer::Reset(Balance balance, std::size_t servers, std::uint32_t eject_failures,
                     std::int64_t eject_for_ns, std::uint64_t seed) {
  balance_ = balance;
  servers_.assign(servers, ServerState{});
  eject_failures_ = eject_failures;
  eject_for_ns_ = eject_for_ns;
  cursor_ = 0;
  rng_ = seed | 1;  // xorshift must not start at 0
}

std::uint64_t Balancer::Next() noexcept {
  rng_ ^= rng_ << 13;  // xorshift64: load spreading, not a secret
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return rng_;
}

int Balancer::Pick(std::int64_t now, int avoid) noexcept {
  const std::size_t n = servers_.size();
  if (n == 0) return -1;
  std::size_t eligible = 0;
  for (std::size_t i = 0; i < n; ++i) eligible += Eligible(i, now) ? 1 : 0;
  if (eligible == 0) return -1;
  const bool skip_avoid = avoid >= 0 && static_cast<std::size_t>(avoid) < n &&
                          Eligible(static_cast<std::size_t>(avoid), now) && eligible > 1;
  if (skip_avoid) --eligible;
  const auto usable = [&](std::size_t i) {
    return Eligible(i, now) && !(skip_avoid && i == static_cast<std::size_t>(avoid));
  };
  // The k-th usable server (k < eligible).
  const auto nth = [&](std::size_t k) {
    for (std::size_t i = 0; i < n; ++i) {
      if (usable(i) && k-- == 0) return i;
    }
    return std::size_t{0};  // unreachable: k < eligible
  };
  if (balance_ == Balance::kRoundRobin) {
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t i = (cursor_ + step) % n;
      if (usable(i)) {
        cursor_ = i + 1;
        return static_cast<int>(i);
      }
    }
    return -1;  // unreachable: eligible > 0
  }
  if (eligible == 1) return static_cast<int>(nth(0));
  // Best of two distinct random choices.
  const std::size_t a = Next() % eligible;
  std::size_t b = Next() % (eligible - 1);
  if (b >= a) ++b;
  const std::size_t sa = nth(a);
  const std::size_t sb = nth(b);
  return static_cast<int>(servers_[sb].in_flight < servers_[sa].in_flight ? sb : sa);
}

bool Balancer::Finished(std::size_t server, bool failed, std::int64_t now) noexcept {
  ServerState& s = servers_[server];
  if (s.in_flight > 0) --s.in_flight;
  if (!failed) {
    s.failures = 0;
    return false;
  }
  ++s.failures;
  if (eject_failures_ == 0 || s.failures < eject_failures_) return false;
  s.failures = 0;
  s.ejected_until = now + eject_for_ns_;
  return true;
}

}  // namespace sluice::net
