// What the lab algorithms over a SlotTable (token-bucket, leaky-bucket, fixed-window) have in
// common: a key is hashed, its 64-bit word found in the table, and the algorithm's pure step
// decides on it. Each algorithm derives from SlotAlgorithm<Itself> (CRTP, no virtual call) and
// supplies only its rule:
//   SlotStep Step(bool found, uint64 word, int64 now, uint64 cost) const noexcept
//       the decision for a key holding `word` (`found` false: a fresh key) at `now` (clamped
//       to [0, kMaxTime]), and the word to store when it writes. Pure.
//   int64 Expires(uint64 word, int64 now) const noexcept
//       the time from which `word` carries no information (its slot may be reused).
// The member functions are defined in slot_algorithm_impl.h and instantiated in the
// algorithm's translation unit (engine/src/lab_*.cc, built with -mcx16).
#ifndef SLUICE_ALGORITHMS_SLOT_ALGORITHM_H_
#define SLUICE_ALGORITHMS_SLOT_ALGORITHM_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "algorithms/algorithm.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"

namespace sluice::algorithms {

class SlotTable;

template <class Derived>
class SlotAlgorithm {
 public:
  using KeyState = SlotWord;

  ~SlotAlgorithm();
  SlotAlgorithm(const SlotAlgorithm&) = delete;
  SlotAlgorithm& operator=(const SlotAlgorithm&) = delete;

  // Thread-safe, lock-free, no allocation. Time going backwards: as each rule says.
  [[nodiscard]] Decision Check(std::string_view key, std::chrono::nanoseconds now,
                               std::uint64_t cost) noexcept;
  // What Check would answer, changing nothing.
  [[nodiscard]] Decision Peek(std::string_view key, std::chrono::nanoseconds now,
                              std::uint64_t cost) noexcept;
  // The rule on a key state the caller holds (see Replayable in algorithm.h).
  [[nodiscard]] Decision Decide(KeyState& state, std::chrono::nanoseconds now,
                                std::uint64_t cost) const noexcept;
  // 16 bytes per key of capacity.
  [[nodiscard]] double bytes_per_key() const noexcept;
  // Admissions that took another key's slot (that key forgot its state).
  [[nodiscard]] std::uint64_t displaced() const noexcept;

 protected:
  SlotAlgorithm(std::uint64_t space, KeyHasher hasher, std::unique_ptr<SlotTable> table);

 private:
  [[nodiscard]] const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
  std::uint64_t space_;
  KeyHasher hasher_;
  std::unique_ptr<SlotTable> table_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_SLOT_ALGORITHM_H_
