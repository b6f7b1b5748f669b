#include "sim/plot.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sluice::sim {

absl::Status PlotAdmitted(const std::string& path, const std::string& title,
                          std::span<const TraceRecord> records, std::span<const LabResult> results,
                          const Rate& rate) {
  if (auto s = GnuplotInstalled(); !s.ok()) return s;
  std::int64_t first = 0;
  std::int64_t last = 1;
  if (!records.empty()) {
    const auto [lo, hi] = std::minmax_element(
        records.begin(), records.end(),
        [](const TraceRecord& a, const TraceRecord& b) { return a.t_ns < b.t_ns; });
    first = lo->t_ns;
    last = hi->t_ns + 1;
  }
  // Bins of a tenth of a period, unless that makes more than 2000 of them.
  const std::int64_t span = last - first;
  std::int64_t bin = std::max<std::int64_t>(1, rate.period.count() / 10);
  if (span / bin > 2000) bin = std::max<std::int64_t>(1, span / 2000);
  const std::size_t bins = static_cast<std::size_t>(span / bin + 1);

  const std::int64_t period_for_label = rate.period.count();
  std::string script = absl::StrCat(
      "set terminal svg size 960,540 dynamic enhanced font 'sans,11' background '#ffffff'\n",
      "set output '", path, "'\n", "set title \"", title, "\" noenhanced\n",
      "set xlabel 'time (s)'\n", "set ylabel 'admitted in the last ",
      static_cast<double>(period_for_label) / 1e9, " s (all keys)'\n",
      "set key outside right top noenhanced\nset grid\n");
  // Per bin: the most admitted (all keys) within one period ending in that bin.
  const std::int64_t period = rate.period.count();
  std::vector<std::size_t> order(records.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return records[x].t_ns < records[y].t_ns; });
  for (std::size_t a = 0; a < results.size(); ++a) {
    std::vector<std::pair<std::int64_t, std::uint64_t>> events;  // admitted (t, cost), in order
    for (const std::size_t i : order) {
      if (results[a].decisions[i].allowed) events.emplace_back(records[i].t_ns, records[i].cost);
    }
    std::vector<std::uint64_t> most(bins, 0);
    std::size_t tail = 0;
    std::size_t head = 0;
    std::uint64_t sum = 0;
    for (std::size_t b = 0; b < bins; ++b) {
      const std::int64_t bin_end = first + static_cast<std::int64_t>(b + 1) * bin - 1;
      while (head < events.size() && events[head].first <= bin_end) {
        sum += events[head].second;
        while (events[tail].first <= events[head].first - period) sum -= events[tail++].second;
        most[b] = std::max(most[b], sum);
        ++head;
      }
      while (tail < head && events[tail].first <= bin_end - period) sum -= events[tail++].second;
      most[b] = std::max(most[b], sum);
    }
    absl::StrAppend(&script, "$d", a, " << EOD\n");
    for (std::size_t b = 0; b < bins; ++b) {
      absl::StrAppend(&script,
                      static_cast<double>(first + static_cast<std::int64_t>(b) * bin) / 1e9, " ",
                      most[b], "\n");
    }
    absl::StrAppend(&script, "EOD\n");
  }
  absl::StrAppend(&script, "set arrow from graph 0, first ", rate.count, " to graph 1, first ",
                  rate.count, " nohead dt 2 lw 1.5 lc 'black' front\n",
                  "set label 'limit' at graph 0.01, first ", rate.count, " offset 0,0.7 front\n",
                  "set yrange [0:*]\n", "plot ");
  for (std::size_t a = 0; a < results.size(); ++a) {
    absl::StrAppend(&script, a == 0 ? "" : ", ", "$d", a, " using 1:2 with steps lw ",
                    1 + (results.size() - a), " title '", results[a].algorithm, "'");
  }
  absl::StrAppend(&script, "\n");

  return RunGnuplot(script, path);
}

absl::Status GnuplotInstalled() {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return absl::FailedPreconditionError(
        "--plot needs gnuplot, which is not installed: apt-get install gnuplot-nox "
        "(tools/install-deps.sh installs it)");
  }
  return absl::OkStatus();
}

absl::Status RunGnuplot(const std::string& script, const std::string& path) {
  FILE* gp = popen("gnuplot", "w");
  if (gp == nullptr) return absl::InternalError("cannot start gnuplot");
  const bool written = std::fwrite(script.data(), 1, script.size(), gp) == script.size();
  const int status = pclose(gp);
  if (!written || status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("gnuplot failed to write '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace sluice::sim
