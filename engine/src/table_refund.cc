// Refunds: giving back an admission that a later check of the same request denied.
//
// IMPLEMENTATION DETAILS
//
// A request decided against several limits (per-IP and per-route, several nginx zones) must
// consume nothing anywhere when one of them denies it. The limits may sit in different tables,
// so no single CAS can cover them: each is decided in order, and the admissions made before a
// denying check are given back afterwards. Giving back means moving the key's TAT back, with
// one CAS on its slot, by what the admission added; the question is by how much, when other
// requests decided on the same key between the admission and the refund.
//
// Let the admission of cost n at time t0 move the TAT from `before` = max(TAT, t0) to
// `after` = before + n*T (after = t0 + reset_after of its decision). Requests r_1..r_k, of
// costs m_i at times t_i, are admitted on the key before the refund. With our admission the
// TAT goes A_0 = after, A_i = max(A_{i-1}, t_i) + m_i*T; without it, B_0 = before,
// B_i = max(B_{i-1}, t_i) + m_i*T. The refund finds X = A_k and wants Y = B_k: the state of
// the same history minus our admission. (Requests denied in between may have been denied only
// because of our admission; they cannot be undone and are not counted: with our admission the
// TAT is higher, so every request admitted with it would have been admitted without it.)
//
// Write D_i = A_i - B_i, starting at D_0 = n*T. If t_i <= B_{i-1}, both sides add m_i*T to
// their own TAT and D_i = D_{i-1}. If t_i > B_{i-1} (without us the key had gone idle by
// t_i), B_i = t_i + m_i*T and D_i = max(A_{i-1}, t_i) - t_i = max(0, A_{i-1} - t_i). So
//   * D_k = n*T, and X - n*T is exactly Y, when every r_i had t_i <= B_{i-1}: in particular
//     when every t_i <= before (the key's state already reached past them);
//   * otherwise Y lies in [X - n*T, X], and since every A_{i-1} >= after, D_k >= min(n*T,
//     after - t_max) where t_max is the latest t_i.
// A refund at time `now` >= t_max therefore moves the TAT back by
//   g = min(n*T, max(0, after - now)),
// which is at most D_k: the TAT never ends below Y, so a refund never admits a request the
// history without the admission would have denied. g = n*T exactly when now <= before, so:
//   * Limiter-wide and cross-table multi-checks refund at the deciding time t0 (now = t0 <=
//     before): g = n*T, the exact refund above, whenever every request in between used a time
//     <= before. With one time source (a fixed `now` in a test, or clocks that agree) and a
//     key whose TAT was already ahead, that always holds. A fresh key (before = t0) raced by a
//     request whose clock read t_i > t0 is given back up to t_i - t0 ns too much, i.e.
//     (t_i - t0) / T of a request: the same clock-skew bound as the table's slot reuse
//     (state_table.h, "Time across threads"), microseconds against a T of milliseconds.
//   * A late refund (a caller giving back a request that failed upstream, seconds later)
//     passes its own clock: what has expired since is not given back twice (g shrinks to 0 as
//     `now` passes `after`), and the bound above holds with no condition.
// Refunds commute: each subtracts at most its own contribution from a sum-like chain, so two
// requests refunding in either order end where neither admission had happened.
//
// What a refund cannot see: the key's slot evicted (when_full = evict) and re-installed by
// another request of the same key in between, or an admission without state (when_full =
// allow) followed by an install. The tag still matches and up to n*T is given back that was
// never charged there. Both need the key's bucket full of live keys, when the table is
// already forgetting state; the refund then errs by at most the one request it gives back.
// A tag that no longer matches (evicted, never installed) means nothing to give back.
//
// Memory order: the slot is read relaxed as a hint and changed by one 128-bit CAS (a full
// barrier), exactly as a decision is; a failed CAS hands back the current value and the new
// TAT is recomputed from it, so a concurrent decision or refund is never overwritten.
#include <chrono>
#include <cstdint>
#include <string_view>

#include "internal/atomic_slot.h"
#include "internal/table_path.h"
#include "sluice/limiter.h"
#include "sluice/state_table.h"

namespace sluice {

using internal::Cas;
using internal::LoadRelaxed;
using internal::Pack;
using internal::Slot;
using internal::TablePath;
using internal::TagFor;
using internal::TagOf;
using internal::TatOf;
using internal::U128;

void StateTable::Refund(std::uint64_t hash, const GcraParams& params, std::uint64_t cost,
                        std::int64_t tat_after, std::chrono::nanoseconds now_ns) noexcept {
  if (cost == 0 || cost > params.burst) return;  // nothing was charged
  const std::int64_t now = ClampTime(now_ns.count());
  // cost <= burst: cost*T <= window <= kMaxWindow, no overflow; tat_after < 2^62 + 2^61.
  const std::int64_t charged = static_cast<std::int64_t>(cost) * params.emission_interval;
  const std::int64_t unexpired = tat_after > now ? tat_after - now : 0;
  const std::int64_t give_back = charged < unexpired ? charged : unexpired;
  if (give_back == 0) return;
  const std::uint64_t tag = TagFor(hash);
  Bucket& bucket = TablePath::BucketFor(*this, hash);
  for (Slot& slot : bucket.slots) {
    // A PENDING slot has bit 63 set and never matches a tag: an install in flight holds no
    // charge of ours yet.
    U128 expected = LoadRelaxed(slot);
    while (TagOf(expected) == tag) {
      const std::int64_t tat = TatOf(expected) - give_back;
      if (Cas(slot, expected, Pack(tag, tat > 0 ? tat : 0))) return;
    }
  }
}

void Limiter::Refund(PolicyId policy, std::string_view key, std::uint64_t cost,
                     const Decision& admitted, std::chrono::nanoseconds decided_at,
                     std::chrono::nanoseconds now) noexcept {
  if (!admitted.allowed) return;
  const Policy& p = policies_[policy.index];
  const std::int64_t tat_after = ClampTime(decided_at.count()) + admitted.reset_after.count();
  table_->Refund(hasher_.Hash(p.space(), key), p.params(), cost, tat_after, now);
}

}  // namespace sluice
