#include "sim/lab.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <numeric>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "algorithms/fixed_window.h"
#include "algorithms/gcra_limiter.h"
#include "algorithms/leaky_bucket.h"
#include "algorithms/sliding_log.h"
#include "algorithms/sliding_window_counter.h"
#include "algorithms/token_bucket.h"

namespace sluice::sim {
namespace {

using algorithms::AlgorithmConfig;

constexpr std::size_t kProgressMin = 1'000'000;

void Progress(const LabOptions& o, std::string_view what, std::size_t done, std::size_t total) {
  if (!o.progress || total < kProgressMin || isatty(STDERR_FILENO) == 0) return;
  std::fprintf(stderr, "\rsluice-sim: %.*s %zu/%zu (%zu%%)   ", static_cast<int>(what.size()),
               what.data(), done, total, done * 100 / total);
  if (done == total) std::fputc('\n', stderr);
}

// The real wait until the request denied at `t` would be admitted, by searching with Peek()
// (admission is monotone in time when no other request intervenes).
template <algorithms::Algorithm A>
std::int64_t RealWait(A& a, const TraceRecord& r) {
  const auto admits = [&](std::int64_t wait) {
    return a.Peek(r.key, std::chrono::nanoseconds{r.t_ns + wait}, r.cost).allowed;
  };
  std::int64_t hi = 1;
  while (!admits(hi)) {
    // Waits stay below 2^62 and times below 2^63 - 2^62: no overflow.
    if (hi >= (std::int64_t{1} << 61) || r.t_ns > (std::int64_t{1} << 62) - 2 * hi) return -1;
    hi *= 2;
  }
  std::int64_t lo = hi / 2;  // not admitted (or 0)
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (admits(mid) ? hi : lo) = mid;
  }
  return hi;
}

template <algorithms::Algorithm A>
absl::StatusOr<LabResult> Run(const AlgorithmConfig& config, std::span<const TraceRecord> records,
                              const LabOptions& options) {
  LabResult result;
  result.algorithm = std::string(A::kName);
  result.decisions.resize(records.size());
  {
    // Pass 1: the decisions, timed.
    auto a = A::Create(config);
    if (!a.ok()) return a.status();
    const std::string label(A::kName);
    const std::size_t step = std::max<std::size_t>(records.size() / 20, 1);
    std::chrono::steady_clock::duration elapsed{};
    for (std::size_t from = 0; from < records.size(); from += step) {
      const std::size_t to = std::min(records.size(), from + step);
      const auto start = std::chrono::steady_clock::now();
      for (std::size_t i = from; i < to; ++i) {
        result.decisions[i] =
            (*a)->Check(records[i].key, std::chrono::nanoseconds{records[i].t_ns}, records[i].cost);
      }
      elapsed += std::chrono::steady_clock::now() - start;
      Progress(options, label, to, records.size());
    }
    result.ns_per_decision =
        records.empty()
            ? 0.0
            : static_cast<double>(
                  std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) /
                  static_cast<double>(records.size());
    result.bytes_per_key = (*a)->bytes_per_key();
    if constexpr (requires { (*a)->displaced(); }) result.evicted = (*a)->displaced();
  }
  std::uint64_t denials = 0;
  for (const Decision& d : result.decisions) {
    (d.allowed ? result.admitted : denials) += 1;
  }
  result.denied = denials;
  if (denials == 0) return result;
  {
    // Pass 2: the same decisions again (same seed), probing the real wait after sampled
    // denials.
    auto a = A::Create(config);
    if (!a.ok()) return a.status();
    const std::uint64_t stride =
        std::max<std::uint64_t>(1, denials / std::max<std::size_t>(options.max_retry_samples, 1));
    std::uint64_t seen = 0;
    double sum = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const Decision d =
          (*a)->Check(records[i].key, std::chrono::nanoseconds{records[i].t_ns}, records[i].cost);
      if (d.allowed || (seen++ % stride) != 0 || d.retry_after.count() < 0) continue;
      const std::int64_t real = RealWait(**a, records[i]);
      if (real < 0) continue;
      const double err = std::abs(static_cast<double>(d.retry_after.count() - real));
      sum += err;
      result.retry_error_max_ns = std::max(result.retry_error_max_ns, err);
      ++result.retry_samples;
    }
    if (result.retry_samples > 0) {
      result.retry_error_mean_ns = sum / static_cast<double>(result.retry_samples);
    }
  }
  return result;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveAlgorithms(std::string_view name) {
  static const std::vector<std::string> kAll = {
      std::string(algorithms::GcraAlgorithm::kName),
      std::string(algorithms::TokenBucket::kName),
      std::string(algorithms::LeakyBucket::kName),
      std::string(algorithms::FixedWindow::kName),
      std::string(algorithms::SlidingWindowCounter::kName),
      std::string(algorithms::SlidingLog::kName)};
  if (name == "all") return kAll;
  std::vector<std::string> names;
  for (absl::string_view one : absl::StrSplit(absl::string_view(name.data(), name.size()), ',')) {
    one = absl::StripAsciiWhitespace(one);
    if (std::find(kAll.begin(), kAll.end(), one) == kAll.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown algorithm '", one, "' (known: ", std::string(kAlgorithms), ", or all)"));
    }
    if (std::find(names.begin(), names.end(), one) == names.end()) names.emplace_back(one);
  }
  return names;
}

bool UsesBurst(std::string_view name) {
  return name == algorithms::GcraAlgorithm::kName || name == algorithms::TokenBucket::kName ||
         name == algorithms::LeakyBucket::kName;
}

absl::StatusOr<LabResult> RunAlgorithm(std::string_view name, const AlgorithmConfig& config,
                                       std::span<const TraceRecord> records,
                                       const LabOptions& options) {
  absl::StatusOr<LabResult> r = absl::InvalidArgumentError("");
  if (name == algorithms::GcraAlgorithm::kName) {
    r = Run<algorithms::GcraAlgorithm>(config, records, options);
  } else if (name == algorithms::TokenBucket::kName) {
    r = Run<algorithms::TokenBucket>(config, records, options);
  } else if (name == algorithms::LeakyBucket::kName) {
    r = Run<algorithms::LeakyBucket>(config, records, options);
  } else if (name == algorithms::FixedWindow::kName) {
    r = Run<algorithms::FixedWindow>(config, records, options);
  } else if (name == algorithms::SlidingWindowCounter::kName) {
    r = Run<algorithms::SlidingWindowCounter>(config, records, options);
  } else if (name == algorithms::SlidingLog::kName) {
    r = Run<algorithms::SlidingLog>(config, records, options);
  } else {
    return ResolveAlgorithms(name).status();
  }
  if (r.ok()) {
    r->worst_overshoot =
        WorstOvershoot(records, r->decisions, config.rate.period.count(), config.rate.count);
  }
  return r;
}

std::int64_t WorstOvershoot(std::span<const TraceRecord> records,
                            std::span<const Decision> decisions, std::int64_t period_ns,
                            std::uint64_t limit) {
  std::vector<std::size_t> order(records.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return records[a].t_ns < records[b].t_ns; });
  struct Window {
    std::deque<std::pair<std::int64_t, std::uint64_t>> admitted;
    std::uint64_t sum = 0;
  };
  absl::flat_hash_map<std::string, Window> windows;
  std::uint64_t worst = 0;
  for (const std::size_t i : order) {
    if (!decisions[i].allowed || records[i].cost == 0) continue;
    Window& w = windows[records[i].key];
    const std::int64_t t = records[i].t_ns;
    while (!w.admitted.empty() && w.admitted.front().first <= t - period_ns) {
      w.sum -= w.admitted.front().second;
      w.admitted.pop_front();
    }
    w.admitted.emplace_back(t, records[i].cost);
    w.sum += records[i].cost;
    worst = std::max(worst, w.sum);
  }
  return static_cast<std::int64_t>(worst) - static_cast<std::int64_t>(limit);
}

}  // namespace sluice::sim
