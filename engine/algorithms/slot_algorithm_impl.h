// The member functions of SlotAlgorithm (slot_algorithm.h). Include it only from the
// translation unit of an algorithm built with -mcx16 (engine/src/lab_*.cc), which ends with
// `template class SlotAlgorithm<ThatAlgorithm>;`.
#ifndef SLUICE_ALGORITHMS_SLOT_ALGORITHM_IMPL_H_
#define SLUICE_ALGORITHMS_SLOT_ALGORITHM_IMPL_H_

#include <utility>

#include "algorithms/slot_algorithm.h"
#include "algorithms/slot_table.h"
#include "sluice/gcra.h"

namespace sluice::algorithms {

template <class Derived>
SlotAlgorithm<Derived>::SlotAlgorithm(std::uint64_t space, KeyHasher hasher,
                                      std::unique_ptr<SlotTable> table)
    : space_(space), hasher_(hasher), table_(std::move(table)) {}

template <class Derived>
SlotAlgorithm<Derived>::~SlotAlgorithm() = default;

template <class Derived>
Decision SlotAlgorithm<Derived>::Check(std::string_view key, std::chrono::nanoseconds now,
                                       std::uint64_t cost) noexcept {
  const std::int64_t t = ClampTime(now.count());
  return table_->Update(
      hasher_.Hash(space_, key), t,
      [&](bool found, std::uint64_t word) { return self().Step(found, word, t, cost); },
      [&](std::uint64_t word) { return self().Expires(word, t); });
}

template <class Derived>
Decision SlotAlgorithm<Derived>::Peek(std::string_view key, std::chrono::nanoseconds now,
                                      std::uint64_t cost) noexcept {
  const std::int64_t t = ClampTime(now.count());
  return table_->Peek(hasher_.Hash(space_, key), [&](bool found, std::uint64_t word) {
    return self().Step(found, word, t, cost);
  });
}

template <class Derived>
Decision SlotAlgorithm<Derived>::Decide(KeyState& state, std::chrono::nanoseconds now,
                                        std::uint64_t cost) const noexcept {
  // As SlotTable::Update: a step that writes nothing leaves a fresh key without state.
  const SlotStep r = self().Step(state.found, state.word, ClampTime(now.count()), cost);
  if (r.write) state = SlotWord{r.word, true};
  return r.decision;
}

template <class Derived>
double SlotAlgorithm<Derived>::bytes_per_key() const noexcept {
  return static_cast<double>(table_->memory_bytes()) / static_cast<double>(table_->capacity());
}

template <class Derived>
std::uint64_t SlotAlgorithm<Derived>::displaced() const noexcept {
  return table_->displaced();
}

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_SLOT_ALGORITHM_IMPL_H_
