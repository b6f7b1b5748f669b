#include <algorithm>

#include "absl/status/status.h"
#include "algorithms/sliding_window_counter.h"
#include "sluice/gcra.h"

namespace sluice::algorithms {
namespace {

__extension__ typedef __int128 I128;

struct Outcome {
  Decision decision;
  SlidingWindowCounter::State state;
};

// The rule of sliding_window_counter.h. Pure.
Outcome Step(std::uint64_t count, std::int64_t period, const SlidingWindowCounter::State& st,
             std::int64_t now, std::uint64_t cost) noexcept {
  std::int64_t w = now / period;
  std::int64_t e = now - w * period;
  if (st.window > w) {  // time went backwards: decide at the start of the latest window
    w = st.window;
    e = 0;
  }
  std::uint64_t current = 0;
  std::uint64_t previous = 0;
  if (st.window == w) {
    current = st.current;
    previous = st.previous;
  } else if (st.window == w - 1) {
    previous = st.current;
  }
  const I128 p = period;
  const I128 l = static_cast<I128>(count);
  const std::int64_t start = w * period;
  Outcome o;
  o.state = SlidingWindowCounter::State{w, current, previous};
  if (cost > count) {
    o.decision.retry_after = Decision::kNever;
  } else if (static_cast<I128>(previous) * (p - e) + static_cast<I128>(current + cost) * p <=
             l * p) {
    o.decision.allowed = true;
    o.state.current = current + cost;
  } else {
    // The first e' in this window with previous*(P - e') + (current+n)*P <= count*P, else in
    // the next (previous' = current), else the one after (both weights gone).
    std::int64_t at = start + 2 * period;
    const I128 room_now = l - static_cast<I128>(current + cost);
    bool found = false;
    if (room_now >= 0 && previous > 0) {
      const I128 need = p - room_now * p / static_cast<I128>(previous);
      if (need < p) {
        at = start + static_cast<std::int64_t>(std::max<I128>(need, 0));
        found = true;
      }
    }
    if (!found) {
      const I128 room_next = l - static_cast<I128>(cost);
      const I128 need =
          current == 0 ? 0 : std::max<I128>(0, p - room_next * p / static_cast<I128>(current));
      if (need < p) at = start + period + static_cast<std::int64_t>(need);
    }
    o.decision.retry_after = std::chrono::nanoseconds{std::max<std::int64_t>(1, at - now)};
  }
  const I128 free_units = l * p - static_cast<I128>(o.state.previous) * (p - e) -
                          static_cast<I128>(o.state.current) * p;
  o.decision.remaining =
      free_units <= 0 ? 0 : static_cast<std::int64_t>(std::min<I128>(free_units / p, l));
  const std::int64_t reset_at =
      o.state.current > 0 ? start + 2 * period : (o.state.previous > 0 ? start + period : now);
  o.decision.reset_after = std::chrono::nanoseconds{std::max<std::int64_t>(0, reset_at - now)};
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SlidingWindowCounter>> SlidingWindowCounter::Create(
    const AlgorithmConfig& config) {
  if (config.rate.count == 0) {
    return absl::InvalidArgumentError("sliding-window-counter: count must be positive");
  }
  // Two periods past a time below 2^62 stay below 2^63.
  if (config.rate.period.count() <= 0 || config.rate.period.count() > kMaxWindow / 2) {
    return absl::InvalidArgumentError("sliding-window-counter: period must be 1 ns to 36 years");
  }
  return std::unique_ptr<SlidingWindowCounter>(
      new SlidingWindowCounter(config.rate.count, config.rate.period.count(),
                               KeyHasher(config.seed.value_or(HashSeed::Random()))));
}

Decision SlidingWindowCounter::Decide(State& state, std::chrono::nanoseconds now,
                                      std::uint64_t cost) const noexcept {
  const Outcome o = Step(count_, period_ns_, state, ClampTime(now.count()), cost);
  if (o.decision.allowed) state = o.state;
  return o.decision;
}

Decision SlidingWindowCounter::Check(std::string_view key, std::chrono::nanoseconds now,
                                     std::uint64_t cost) noexcept {
  return map_.With(hasher_.Hash(kLabSpace, key),
                   [&](State& state) { return Decide(state, now, cost); });
}

Decision SlidingWindowCounter::Peek(std::string_view key, std::chrono::nanoseconds now,
                                    std::uint64_t cost) noexcept {
  const std::int64_t t = ClampTime(now.count());
  return map_.Peek(hasher_.Hash(kLabSpace, key),
                   [&](const State& st) { return Step(count_, period_ns_, st, t, cost).decision; });
}

double SlidingWindowCounter::bytes_per_key() const noexcept {
  std::size_t keys = 0;
  std::size_t bytes = 0;
  map_.Measure(keys, bytes, [](const State&) { return std::size_t{0}; });
  return keys == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(keys);
}

}  // namespace sluice::algorithms
