// The answer to "may this key do this now?", shared by GCRA and every algorithm of the lab.
#ifndef SLUICE_DECISION_H_
#define SLUICE_DECISION_H_

#include <chrono>
#include <cstdint>

namespace sluice {

struct Decision {
  // Admitted: the request's cost has been consumed.
  bool allowed = false;
  // Requests of cost 1 that would be admitted right after this decision, in [0, burst].
  // -1 where an algorithm has no such figure.
  std::int64_t remaining = 0;
  // Denied: the exact wait until the same request would be admitted; 0 when admitted.
  // kNever when the request can never be admitted (cost above the burst).
  // -1ns also means "no such figure" for lab algorithms that cannot say.
  std::chrono::nanoseconds retry_after{0};
  // Time until the full burst is available again (0 when it already is).
  std::chrono::nanoseconds reset_after{0};

  static constexpr std::chrono::nanoseconds kNever{-1};

  // True when the request can never be admitted, whatever the wait.
  [[nodiscard]] constexpr bool never() const noexcept { return !allowed && retry_after == kNever; }

  friend bool operator==(const Decision&, const Decision&) = default;
};

}  // namespace sluice

#endif  // SLUICE_DECISION_H_
