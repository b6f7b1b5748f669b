#include <algorithm>

#include "absl/status/status.h"
#include "algorithms/sliding_log.h"
#include "sluice/gcra.h"

namespace sluice::algorithms {
namespace {

struct Outcome {
  Decision decision;
  std::size_t first_live = 0;  // index of the oldest live entry
  std::int64_t at = 0;         // the time the decision was made at (see time going backwards)
};

// The rule of sliding_log.h, without changing the log.
Outcome Step(std::uint64_t count, std::int64_t period, const SlidingLog::Log& log, std::int64_t now,
             std::uint64_t cost) noexcept {
  Outcome o;
  const auto begin = log.times.begin() + static_cast<std::ptrdiff_t>(log.head);
  o.at = log.times.size() > log.head ? std::max(now, log.times.back()) : now;
  const auto live_begin = std::upper_bound(begin, log.times.end(), o.at - period);
  o.first_live = static_cast<std::size_t>(live_begin - log.times.begin());
  const std::uint64_t live = log.times.size() - o.first_live;
  std::uint64_t live_after = live;
  if (cost > count) {
    o.decision.retry_after = Decision::kNever;
  } else if (live + cost <= count) {
    o.decision.allowed = true;
    live_after = live + cost;
  } else {
    // Entries [first_live, first_live + k) must leave, k = live - (count - cost).
    const std::int64_t leaves = log.times[o.first_live + (live - (count - cost)) - 1];
    o.decision.retry_after = std::chrono::nanoseconds{leaves + period - now};
  }
  o.decision.remaining = static_cast<std::int64_t>(count - live_after);
  const std::int64_t newest =
      o.decision.allowed ? o.at : (live > 0 ? log.times.back() : now - period);
  o.decision.reset_after = std::chrono::nanoseconds{
      live_after == 0 ? 0 : std::max<std::int64_t>(0, newest + period - now)};
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SlidingLog>> SlidingLog::Create(const AlgorithmConfig& config) {
  if (config.rate.count == 0)
    return absl::InvalidArgumentError("sliding-log: count must be positive");
  if (config.rate.period.count() <= 0 || config.rate.period.count() > kMaxWindow) {
    return absl::InvalidArgumentError("sliding-log: period must be 1 ns to 73 years");
  }
  return std::unique_ptr<SlidingLog>(
      new SlidingLog(config.rate.count, config.rate.period.count(),
                     KeyHasher(config.seed.value_or(HashSeed::Random()))));
}

Decision SlidingLog::Decide(Log& log, std::chrono::nanoseconds now,
                            std::uint64_t cost) const noexcept {
  const Outcome o = Step(count_, period_ns_, log, ClampTime(now.count()), cost);
  log.head = o.first_live;
  if (o.decision.allowed) log.times.insert(log.times.end(), cost, o.at);
  if (log.head >= 32 && log.head * 2 >= log.times.size()) {  // drop what has slid out
    log.times.erase(log.times.begin(), log.times.begin() + static_cast<std::ptrdiff_t>(log.head));
    log.head = 0;
  }
  return o.decision;
}

Decision SlidingLog::Check(std::string_view key, std::chrono::nanoseconds now,
                           std::uint64_t cost) noexcept {
  return map_.With(hasher_.Hash(kLabSpace, key), [&](Log& log) { return Decide(log, now, cost); });
}

Decision SlidingLog::Peek(std::string_view key, std::chrono::nanoseconds now,
                          std::uint64_t cost) noexcept {
  const std::int64_t t = ClampTime(now.count());
  return map_.Peek(hasher_.Hash(kLabSpace, key),
                   [&](const Log& log) { return Step(count_, period_ns_, log, t, cost).decision; });
}

double SlidingLog::bytes_per_key() const noexcept {
  std::size_t keys = 0;
  std::size_t bytes = 0;
  map_.Measure(keys, bytes,
               [](const Log& log) { return log.times.capacity() * sizeof(std::int64_t); });
  return keys == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(keys);
}

}  // namespace sluice::algorithms
