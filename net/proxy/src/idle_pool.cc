// The per-server idle connection stack (idle_pool.h).
#include "sluice/net/proxy/idle_pool.h"

namespace sluice::net {

void IdlePool::Reset(std::size_t capacity, std::uint64_t max_requests,
                     std::int64_t idle_timeout_ns) {
  entries_.assign(capacity, Entry{0, 0});
  size_ = 0;
  capacity_ = capacity;
  max_requests_ = max_requests;
  idle_timeout_ns_ = idle_timeout_ns;
}

bool IdlePool::Push(std::uint32_t id, std::int64_t now) noexcept {
  if (size_ >= capacity_) return false;
  entries_[size_++] = Entry{id, now};
  return true;
}

bool IdlePool::Pop(std::uint32_t& id) noexcept {
  if (size_ == 0) return false;
  id = entries_[--size_].id;
  return true;
}

bool IdlePool::Remove(std::uint32_t id) noexcept {
  for (std::size_t i = 0; i < size_; ++i) {
    if (entries_[i].id != id) continue;
    for (std::size_t j = i + 1; j < size_; ++j) entries_[j - 1] = entries_[j];  // keep the order
    --size_;
    return true;
  }
  return false;
}

bool IdlePool::PopExpired(std::int64_t now, std::uint32_t& id) noexcept {
  if (size_ == 0 || now - entries_[0].since <= idle_timeout_ns_) return false;
  id = entries_[0].id;
  for (std::size_t j = 1; j < size_; ++j) entries_[j - 1] = entries_[j];
  --size_;
  return true;
}

}  // namespace sluice::net
