// The idle keep-alive connections a shard keeps to one upstream server (DESIGN.md "Proxy
// mode", `pool:`): a LIFO stack of connection ids, so the most recently used (warmest, least
// likely to have been closed by the upstream) goes out first and the oldest ages out at the
// bottom. The rules:
//   - at most `capacity` (idle_per_shard) idle connections; one more is closed, not kept;
//   - a connection that served `max_requests` requests is closed, not kept (Reusable());
//   - a connection idle for longer than `idle_timeout` is closed (PopExpired(), from the sweep);
//   - an idle connection the upstream closed (or sent bytes on) is taken out (Remove()).
// Ids are the caller's (a slot index of the ring's upstream table); time is a parameter
// (monotonic ns). Fixed storage after Reset(): no allocation. Not thread-safe: one per shard.
#ifndef SLUICE_NET_PROXY_IDLE_POOL_H_
#define SLUICE_NET_PROXY_IDLE_POOL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::net {

class IdlePool {
 public:
  // Allocates: call at start and reload only. Any connection still in the pool is forgotten
  // (the caller closes them first).
  void Reset(std::size_t capacity, std::uint64_t max_requests, std::int64_t idle_timeout_ns);

  // Whether a connection that has served `requests` may be kept at all.
  [[nodiscard]] bool Reusable(std::uint64_t requests) const noexcept {
    return capacity_ > 0 && (max_requests_ == 0 || requests < max_requests_);
  }
  // Keeps `id`, idle since `now`. False when the pool is full (close it instead).
  [[nodiscard]] bool Push(std::uint32_t id, std::int64_t now) noexcept;
  // The most recently pushed connection.
  [[nodiscard]] bool Pop(std::uint32_t& id) noexcept;
  // Takes `id` out wherever it is (its upstream closed it). False when it is not here.
  bool Remove(std::uint32_t id) noexcept;
  // The oldest connection idle for longer than the idle timeout at `now`, taken out.
  [[nodiscard]] bool PopExpired(std::int64_t now, std::uint32_t& id) noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  struct Entry {
    std::uint32_t id;
    std::int64_t since;
  };
  std::vector<Entry> entries_;  // [0] oldest, [size_ - 1] newest
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::uint64_t max_requests_ = 0;
  std::int64_t idle_timeout_ns_ = 0;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_IDLE_POOL_H_
