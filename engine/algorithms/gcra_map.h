// GCRA over an unbounded exact map: the lab's reference implementation of the rule, one TAT per
// key and no table effects (no eviction, no collisions). Single-threaded.
#ifndef SLUICE_ALGORITHMS_GCRA_MAP_H_
#define SLUICE_ALGORITHMS_GCRA_MAP_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "sluice/decision.h"
#include "sluice/gcra.h"

namespace sluice::algorithms {

class GcraMap {
 public:
  explicit GcraMap(const GcraParams& params) : params_(params) {}

  // Not thread-safe. Time going backwards never admits more (see gcra.h).
  Decision Check(std::string_view key, std::chrono::nanoseconds now, std::uint64_t cost) {
    const std::int64_t t = ClampTime(now.count());
    auto it = tats_.find(absl::string_view(key.data(), key.size()));
    const std::int64_t tat = it == tats_.end() ? t : it->second;
    const GcraResult r = GcraStep(params_, tat, t, cost);
    if (r.new_tat != tat) {
      if (it == tats_.end()) {
        tats_.emplace(std::string(key), r.new_tat);
      } else {
        it->second = r.new_tat;
      }
    }
    return r.decision;
  }

  [[nodiscard]] std::size_t keys() const { return tats_.size(); }

 private:
  GcraParams params_;
  absl::flat_hash_map<std::string, std::int64_t> tats_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_GCRA_MAP_H_
