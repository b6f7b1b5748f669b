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
//               (the division by T is a multiply by a per-policy reciprocal: see Reciprocal)
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

// floor(n / d) for one fixed divisor d >= 1 without a divide instruction: a 64x64->128-bit
// multiply by a precomputed magic number and a shift. Exact for every 0 <= n < 2^62 (kLimit).
//
// Proof (Granlund and Montgomery's round-up method, N = 62 dividend bits). Let l = ceil(log2 d),
// k = N + l and m = ceil(2^k / d), so m*d = 2^k + e with 0 <= e < d <= 2^l. For n = q*d + r,
// 0 <= r < d:
//   m*n / 2^k = n/d + e*n / (d * 2^k) = q + (r + e*n / 2^k) / d,
// and e*n / 2^k < 2^l * 2^N / 2^(N+l) = 1, so r + e*n/2^k < r + 1 <= d: the fraction is below
// 1 and floor(m*n / 2^k) = q. Sizes: 2^(l-1) < d <= 2^l gives m <= 2^(N+1), with equality
// impossible for l <= N+1, so m < 2^63 fits in 64 bits; m*n < 2^125 fits in 128; k <= 123.
//
// The GCRA dividend is the headroom now + b*T - TAT_after, in [0, b*T] with b*T <= kMaxWindow
// = 2^61 (GcraParams::Make), well inside the range. Divide() still checks n < kLimit and that
// it was prepared for this d, and divides when not, so it is exact for any input whatever.
struct Reciprocal {
  static constexpr std::uint64_t kLimit = std::uint64_t{1} << 62;

  std::uint64_t divisor = 0;  // d; 0: not prepared (Divide() divides)
  std::uint64_t magic = 0;    // m
  std::uint32_t shift = 0;    // k

  [[nodiscard]] static constexpr Reciprocal For(std::uint64_t d) noexcept {
    __extension__ typedef unsigned __int128 U128;
    Reciprocal r;
    if (d == 0) return r;
    std::uint32_t l = 0;
    while (l < 64 && (U128{1} << l) < d) ++l;  // l = ceil(log2 d)
    if (l > 62) return r;                      // outside the proof (d > 2^62): divide
    r.divisor = d;
    r.shift = 62 + l;
    r.magic = static_cast<std::uint64_t>(((U128{1} << r.shift) + d - 1) / d);
    return r;
  }

  // floor(n / d). Exact for every n and every d >= 1: the multiply when this was prepared for
  // d and n < kLimit (always, on the GCRA path), else the division.
  [[nodiscard]] constexpr std::uint64_t Divide(std::uint64_t n, std::uint64_t d) const noexcept {
    __extension__ typedef unsigned __int128 U128;
    if (divisor != d || n >= kLimit) [[unlikely]] {
      return n / d;
    }
    return static_cast<std::uint64_t>((static_cast<U128>(magic) * n) >> shift);
  }

  friend bool operator==(const Reciprocal&, const Reciprocal&) = default;
};

// The constants of one policy, precomputed once.
struct GcraParams {
  std::int64_t emission_interval = 1;  // T, ns
  std::uint64_t burst = 1;             // b
  std::int64_t window = 1;             // b*T, ns: the delay variation tolerance plus one T
  Reciprocal per_interval;             // division by T (derived; Make() prepares it)

  // Validates and precomputes. Errors: zero count or period, burst 0, a rate above 10^9 per
  // second, or a window b*T above kMaxWindow.
  static absl::StatusOr<GcraParams> Make(const Rate& rate, std::uint64_t burst);

  [[nodiscard]] constexpr std::int64_t tolerance() const noexcept {
    return window - emission_interval;
  }
  // Equal when the policy is: the reciprocal is derived from T and takes no part.
  friend constexpr bool operator==(const GcraParams& a, const GcraParams& b) noexcept {
    return a.emission_interval == b.emission_interval && a.burst == b.burst && a.window == b.window;
  }
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

// The rule, in two halves: the verdict (admitted or not, the TAT to store, the wait), then the
// report (remaining, reset_after), a function of the verdict alone. GcraStep() is the two in a
// row; the state table runs them apart, with its CAS of an admission in between, so the
// report's arithmetic is not held in registers across the locked instruction.
struct GcraVerdict {
  bool allowed = false;
  std::int64_t new_tat = 0;    // the TAT to store (equal to `tat` when denied or cost 0)
  std::int64_t tat_after = 0;  // the TAT the report describes
  std::chrono::nanoseconds retry_after{0};
};

// `tat` is the stored TAT (any value <= now means "no state"), `now` and `tat` within
// [0, kMaxTime + kMaxWindow], `cost` any value (0 asks without consuming and leaves
// `new_tat == tat`). Pure.
[[nodiscard]] constexpr GcraVerdict GcraDecide(const GcraParams& p, std::int64_t tat,
                                               std::int64_t now, std::uint64_t cost) noexcept {
  const std::int64_t t = p.emission_interval;
  const std::int64_t base = std::max(tat, now);
  GcraVerdict v;
  v.new_tat = tat;
  v.tat_after = base;
  if (cost > p.burst) {
    v.retry_after = Decision::kNever;
  } else {
    // cost <= burst, so cost * T <= window <= kMaxWindow: no overflow.
    const std::int64_t candidate = base + static_cast<std::int64_t>(cost) * t;
    if (candidate - now <= p.window) {
      v.allowed = true;
      // Cost 0 only asks: it reports from max(TAT, now) but stores nothing.
      v.new_tat = cost == 0 ? tat : candidate;
      v.tat_after = candidate;
    } else {
      v.retry_after = std::chrono::nanoseconds{candidate - p.window - now};
    }
  }
  return v;
}

// The Decision of verdict `v`, decided at `now`. Pure.
[[nodiscard]] constexpr Decision GcraReport(const GcraParams& p, const GcraVerdict& v,
                                            std::int64_t now) noexcept {
  const std::int64_t headroom = now + p.window - v.tat_after;
  // headroom <= b*T since TAT_after >= now; below 0 only after time went backwards. Below T
  // the quotient is 0 without dividing: every denial of cost 1 (the head room is then under
  // one T), so a client over its limit costs no multiply and no 128-bit shift.
  const std::int64_t slots = headroom < p.emission_interval
                                 ? 0
                                 : static_cast<std::int64_t>(p.per_interval.Divide(
                                       static_cast<std::uint64_t>(headroom),
                                       static_cast<std::uint64_t>(p.emission_interval)));
  Decision d;
  d.allowed = v.allowed;
  d.remaining = std::min(slots, static_cast<std::int64_t>(p.burst));
  d.retry_after = v.retry_after;
  d.reset_after = std::chrono::nanoseconds{v.tat_after - now};
  return d;
}

// The rule itself: GcraDecide() then GcraReport(). Arguments as GcraDecide(). Pure.
[[nodiscard]] constexpr GcraResult GcraStep(const GcraParams& p, std::int64_t tat, std::int64_t now,
                                            std::uint64_t cost) noexcept {
  const GcraVerdict v = GcraDecide(p, tat, now, cost);
  return GcraResult{GcraReport(p, v, now), v.new_tat};
}

}  // namespace sluice

#endif  // SLUICE_GCRA_H_
