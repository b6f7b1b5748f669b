// A map from key hash to per-key state, split into 64 stripes each behind its own mutex, for
// the lab algorithms whose state does not fit one 64-bit word next to a 64-bit tag
// (sliding-window-counter, sliding-log). Blocking (a preempted holder stalls its stripe), not
// fixed memory (it grows with the keys seen and never shrinks): the lab's price for exactness.
// Two keys share state only on a full 64-bit hash collision, as in the state table.
#ifndef SLUICE_ALGORITHMS_STRIPED_MAP_H_
#define SLUICE_ALGORITHMS_STRIPED_MAP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "sluice/cacheline.h"

namespace sluice::algorithms {

template <class State>
class StripedMap {
 public:
  static constexpr std::size_t kStripes = 64;

  // Calls f(state) with the key's state (default-constructed when new) under its stripe's
  // lock and returns what f returns. Thread-safe. Allocates when the stripe grows.
  template <class F>
  auto With(std::uint64_t hash, F f) {
    Stripe& s = stripes_[hash >> 58];
    std::lock_guard<std::mutex> lock(s.mu);
    return f(s.map[hash]);
  }

  // Calls f(state) with the key's state, or with a default one when absent; changes nothing.
  template <class F>
  auto Peek(std::uint64_t hash, F f) const {
    const Stripe& s = stripes_[hash >> 58];
    std::lock_guard<std::mutex> lock(s.mu);
    const auto it = s.map.find(hash);
    return it == s.map.end() ? f(State{}) : f(it->second);
  }

  // Keys held, and bytes of the maps themselves (slots and control bytes, at their load
  // factor) plus extra(state) for what each state owns on the heap. Locks each stripe in turn.
  template <class Extra>
  void Measure(std::size_t& keys, std::size_t& bytes, Extra extra) const {
    keys = 0;
    bytes = 0;
    for (const Stripe& s : stripes_) {
      std::lock_guard<std::mutex> lock(s.mu);
      keys += s.map.size();
      bytes += s.map.capacity() * (sizeof(std::pair<const std::uint64_t, State>) + 1);
      for (const auto& [hash, state] : s.map) bytes += extra(state);
    }
  }

 private:
  struct alignas(kCacheLine) Stripe {
    mutable std::mutex mu;
    absl::flat_hash_map<std::uint64_t, State> map;
  };
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_STRIPED_MAP_H_
