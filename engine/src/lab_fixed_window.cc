#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "algorithms/fixed_window.h"
#include "algorithms/slot_algorithm_impl.h"
#include "algorithms/slot_table.h"
#include "sluice/gcra.h"

namespace sluice::algorithms {
namespace {

constexpr int kCountBits = 24;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
constexpr std::uint64_t kWindowMask = (std::uint64_t{1} << 40) - 1;

}  // namespace

// The rule of fixed_window.h. Pure.
SlotStep FixedWindow::Step(bool found, std::uint64_t word, std::int64_t now,
                           std::uint64_t cost) const noexcept {
  const std::uint64_t count = count_;
  const std::int64_t period = period_ns_;
  const std::int64_t window = now / period;
  const std::uint64_t id = static_cast<std::uint64_t>(window) & kWindowMask;
  const std::uint64_t used = found && (word >> kCountBits) == id ? word & kCountMask : 0;
  const std::int64_t to_edge = (window + 1) * period - now;
  SlotStep r;
  std::uint64_t used_after = used;
  if (cost > count) {
    r.decision.retry_after = Decision::kNever;
  } else if (used + cost <= count) {
    r.decision.allowed = true;
    used_after = used + cost;
    r.write = true;
    r.word = (id << kCountBits) | used_after;
  } else {
    r.decision.retry_after = std::chrono::nanoseconds{to_edge};
  }
  r.decision.remaining = static_cast<std::int64_t>(count - used_after);
  r.decision.reset_after = std::chrono::nanoseconds{used_after == 0 ? 0 : to_edge};
  return r;
}

std::int64_t FixedWindow::Expires(std::uint64_t word, std::int64_t now) const noexcept {
  const std::int64_t window = now / period_ns_;
  const std::uint64_t id = static_cast<std::uint64_t>(window) & kWindowMask;
  return (word >> kCountBits) == id ? (window + 1) * period_ns_ : std::int64_t{0};
}

absl::StatusOr<std::unique_ptr<FixedWindow>> FixedWindow::Create(const AlgorithmConfig& config) {
  if (config.rate.count == 0 || config.rate.count > kMaxCount) {
    return absl::InvalidArgumentError(absl::StrCat("fixed-window: count ", config.rate.count,
                                                   " per window is out of range: it must be 1 "
                                                   "to ",
                                                   kMaxCount, " (kept in 24 bits)"));
  }
  if (config.rate.period.count() <= 0 || config.rate.period.count() > kMaxWindow) {
    return absl::InvalidArgumentError("fixed-window: period must be 1 ns to 73 years");
  }
  auto table = SlotTable::Create(config.capacity);
  if (!table.ok()) return table.status();
  return std::unique_ptr<FixedWindow>(
      new FixedWindow(config.rate.count, config.rate.period.count(),
                      KeyHasher(config.seed.value_or(HashSeed::Random())), *std::move(table)));
}

FixedWindow::FixedWindow(std::uint64_t count, std::int64_t period_ns, KeyHasher hasher,
                         std::unique_ptr<SlotTable> table)
    : SlotAlgorithm(kLabSpace, hasher, std::move(table)), count_(count), period_ns_(period_ns) {}

template class SlotAlgorithm<FixedWindow>;

}  // namespace sluice::algorithms
