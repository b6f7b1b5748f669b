// GCRA, the generic cell rate algorithm, in integer nanoseconds. This file is the oracle: the
// state table, the server, the lab and every test agree with GcraStep().
//
// A policy admits `count` requests per `period` with a burst `b >= 1`:
//   emission interval T   = max(1, period_ns / count)      (integer division)
//   tolerance         tau = T * (b - 1)
// A key's whole state is its theoretical arrival time TAT; a key without state has TAT = now.
// A request of cost n >= 1 is admitted iff  max(TAT, now) + n*T - now <= b*T.
//   admitted: TAT' = max(TAT, now) + n*T
//   denied:   TAT unchanged; retry_after = max(TAT, now) + n*T - b*T - now
//   n > b:    never admissible; retry_after = Decision::kNever, nothing changes.
// remaining   = floor((now + b*T - TAT_after) / T) clamped to [0, b]
// reset_after = TAT_after - now, where TAT_after = max(TAT', now) admitted, max(TAT, now) denied.
//
// Time going backwards: a `now` earlier than one already seen only makes max(TAT, now) - now
// larger, so it never admits more than a later `now` would. No extra state is kept.
//
// Overflow: GcraParams::Make() rejects b*T above kMaxWindow (2^61 ns, about 73 years) and
// times are in [0, kMaxTime] (2^62 ns, about 146 years of CLOCK_MONOTONIC or of Unix time), so
// max(TAT, now) + n*T < 2^62 + 2^61 never overflows int64.
#ifndef SLUICE_GCRA_H_
#define SLUICE_GCRA_H_

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "absl/status/statusor.h"
#include "sluice/decision.h"
#include "sluice/rate.h"

namespace sluice {

inline constexpr std::int64_t kMaxWindow = std::int64_t{1} << 61;
inline constexpr std::int64_t kMaxTime = std::int64_t{1} << 62;

// The constants of one policy, precomputed once.
struct GcraParams {
  std::int64_t emission_interval = 1;  // T, ns
  std::uint64_t burst = 1;             // b
  std::int64_t window = 1;             // b*T, ns: the delay variation tolerance plus one T

  // Validates and precomputes. Errors: zero count or period, burst 0, a rate above 10^9 per
  // second, or a window b*T above kMaxWindow.
  static absl::StatusOr<GcraParams> Make(const Rate& rate, std::uint64_t burst);

  [[nodiscard]] constexpr std::int64_t tolerance() const noexcept {
    return window - emission_interval;
  }
  friend bool operator==(const GcraParams&, const GcraParams&) = default;
};

// One GCRA decision: what to answer and the TAT to store (equal to `tat` when denied).
struct GcraResult {
  Decision decision;
  std::int64_t new_tat = 0;
};

// Clamps a time into [0, kMaxTime]: callers pass clock readings; this keeps the arithmetic
// bounded whatever a caller passes.
[[nodiscard]] constexpr std::int64_t ClampTime(std::int64_t t) noexcept {
  return std::clamp<std::int64_t>(t, 0, kMaxTime);
}

// The rule itself. `tat` is the stored TAT (any value <= now means "no state"), `now` and `tat`
// within [0, kMaxTime + kMaxWindow], `cost` any value (0 asks without consuming and leaves
// `new_tat == tat`). Pure.
[[nodiscard]] constexpr GcraResult GcraStep(const GcraParams& p, std::int64_t tat, std::int64_t now,
                                            std::uint64_t cost) noexcept {
  const std::int64_t t = p.emission_interval;
  const std::int64_t base = std::max(tat, now);
  GcraResult r;
  r.new_tat = tat;
  std::int64_t tat_after = base;
  if (cost > p.burst) {
    r.decision.allowed = false;
    r.decision.retry_after = Decision::kNever;
  } else {
    // cost <= burst, so cost * T <= window <= kMaxWindow: no overflow.
    const std::int64_t candidate = base + static_cast<std::int64_t>(cost) * t;
    if (candidate - now <= p.window) {
      r.decision.allowed = true;
      // Cost 0 only asks: it reports from max(TAT, now) but stores nothing.
      r.new_tat = cost == 0 ? tat : candidate;
      tat_after = candidate;
    } else {
      r.decision.allowed = false;
      r.decision.retry_after = std::chrono::nanoseconds{candidate - p.window - now};
    }
  }
  const std::int64_t headroom = now + p.window - tat_after;
  r.decision.remaining = std::clamp<std::int64_t>(headroom < 0 ? 0 : headroom / t, 0,
                                                  static_cast<std::int64_t>(p.burst));
  r.decision.reset_after = std::chrono::nanoseconds{tat_after - now};
  return r;
}

}  // namespace sluice

#endif  // SLUICE_GCRA_H_
