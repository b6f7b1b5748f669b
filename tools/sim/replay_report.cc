#include "sim/replay_report.h"

#include <sys/wait.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "sim/lab.h"
#include "sim/plot.h"

namespace sluice::sim {
namespace {

std::string Utc(std::int64_t ns) {
  const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string Json(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c == 0x7f) {
      out.append(absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

std::string Swept(const LogReplayReport& r, const SweepPoint& p) {
  switch (r.sweep.dimension) {
    case SweepDimension::kBurst:
      return absl::StrCat(p.burst);
    case SweepDimension::kGrid:
      return absl::StrCat(p.rate.ToString(), " burst ", p.burst);
    default:
      return p.rate.ToString();
  }
}

const char* SweepName(SweepDimension d) {
  switch (d) {
    case SweepDimension::kRate:
      return "rate";
    case SweepDimension::kBurst:
      return "burst";
    case SweepDimension::kGrid:
      return "grid";
    case SweepDimension::kNone:
      break;
  }
  return "none";
}

// On a grid, an algorithm without a burst decides alike at every burst of a rate: its rows
// after the first burst repeat the first (they stay in --json, which lists every point).
bool Repeats(const LogReplayReport& r, const PointResult& p) {
  return r.sweep.dimension == SweepDimension::kGrid && !UsesBurst(p.algorithm) &&
         p.point.burst != r.sweep.points.front().burst;
}

std::string TargetText(const Target& t) {
  return absl::StrFormat("at most %g%% of %s denied", t.percent,
                         t.clients ? "clients" : "requests");
}

}  // namespace

void PrintReplayTable(std::FILE* f, const LogReplayReport& r) {
  std::fprintf(f, "%s (%s): %llu lines, %llu requests from %llu clients (key %s)",
               absl::StrJoin(r.files, ", ").c_str(), r.format.c_str(),
               static_cast<unsigned long long>(r.lines),
               static_cast<unsigned long long>(r.requests),
               static_cast<unsigned long long>(r.clients), r.key.c_str());
  if (r.requests > 0) {
    std::fprintf(f, ", %s to %s", Utc(r.first_ns).c_str(), Utc(r.last_ns).c_str());
  }
  std::fprintf(f, "\n");
  if (r.malformed > 0) {
    std::fprintf(
        f, "  malformed: %llu lines, left out:", static_cast<unsigned long long>(r.malformed));
    for (const BadLine& b : r.first_malformed) {
      std::fprintf(f, "\n    %s line %llu: %s", b.file.c_str(),
                   static_cast<unsigned long long>(b.line), b.why.c_str());
    }
    if (r.malformed > r.first_malformed.size()) std::fprintf(f, "\n    ...");
    std::fprintf(f, "\n");
  }
  if (r.refused > 0) {
    std::fprintf(f,
                 "  refused: %llu lines sluiced would answer 400 before any policy, left out "
                 "(first: %s)\n",
                 static_cast<unsigned long long>(r.refused), r.refused_why.c_str());
  }
  if (r.no_key > 0) {
    std::fprintf(f, "  without a key: %llu lines, left out (first: %s)\n",
                 static_cast<unsigned long long>(r.no_key), r.no_key_why.c_str());
  }
  if (r.skipped > 0) {
    std::fprintf(f, "  other policies: %llu lines, left out\n",
                 static_cast<unsigned long long>(r.skipped));
  }
  if (r.late > 0) {
    std::fprintf(f,
                 "  late: %llu requests more than %.3g s out of order, decided at the window's "
                 "edge (--window)\n",
                 static_cast<unsigned long long>(r.late),
                 static_cast<double>(r.replay.window_ns) / 1e9);
  }
  std::fprintf(f, "%-24s %10s %7s %10s %8s %9s %8s %9s  %s\n", "algorithm", "rate", "burst",
               "denied", "denied%", "clients", "clients%", "overshoot", "most denied key");
  for (const PointResult& p : r.results) {
    if (Repeats(r, p)) continue;
    const std::string burst = UsesBurst(p.algorithm) ? absl::StrCat(p.point.burst) : "-";
    const std::string top = p.top.empty() ? "-"
                                          : absl::StrCat(p.top[0].key, " (", p.top[0].denied,
                                                         " of ", p.top[0].requests, ")");
    std::fprintf(f, "%-24s %10s %7s %10llu %7.2f%% %9llu %7.2f%% %9lld  %s\n", p.algorithm.c_str(),
                 p.point.rate.ToString().c_str(), burst.c_str(),
                 static_cast<unsigned long long>(p.denied), Percent(p.denied, p.requests),
                 static_cast<unsigned long long>(p.clients_denied),
                 Percent(p.clients_denied, p.clients), static_cast<long long>(p.worst_overshoot),
                 top.c_str());
  }
  if (r.sweep.dimension == SweepDimension::kNone) return;
  const bool grid = r.sweep.dimension == SweepDimension::kGrid;
  std::fprintf(
      f, "knee (the smallest %s with %s):\n",
      grid ? "rate, then burst," : (r.sweep.dimension == SweepDimension::kRate ? "rate" : "burst"),
      TargetText(r.target).c_str());
  for (const std::string& a : r.replay.algorithms) {
    const std::optional<std::size_t> k = Knee(r.results, a, r.target);
    if (!k) {
      std::fprintf(f, "  %-22s none in the sweep\n", a.c_str());
      continue;
    }
    const PointResult& p = r.results[*k];
    std::fprintf(
        f, "  %-22s %s (%.2f%% of requests, %.2f%% of clients denied)\n", a.c_str(),
        grid && !UsesBurst(a) ? p.point.rate.ToString().c_str() : Swept(r, p.point).c_str(),
        Percent(p.denied, p.requests), Percent(p.clients_denied, p.clients));
  }
  if (!grid) return;
  std::fprintf(f, "knee per burst (the smallest rate with %s at that burst):\n",
               TargetText(r.target).c_str());
  std::fprintf(f, "  %-22s", "burst");
  for (std::size_t b = 0; b < r.sweep.bursts; ++b) {
    std::fprintf(f, " %9llu", static_cast<unsigned long long>(r.sweep.points[b].burst));
  }
  std::fprintf(f, "\n");
  for (const std::string& a : r.replay.algorithms) {
    if (!UsesBurst(a)) continue;
    std::fprintf(f, "  %-22s", a.c_str());
    for (const std::optional<std::size_t>& k : KneePerBurst(r.results, a, r.sweep, r.target)) {
      std::fprintf(f, " %9s", k ? r.results[*k].point.rate.ToString().c_str() : "none");
    }
    std::fprintf(f, "\n");
  }
}

void PrintReplayJson(std::FILE* f, const LogReplayReport& r) {
  std::vector<std::string> files;
  for (const std::string& file : r.files) files.push_back(Json(file));
  std::vector<std::string> bad;
  for (const BadLine& b : r.first_malformed) {
    bad.push_back(absl::StrCat("{\"file\": ", Json(b.file), ", \"line\": ", b.line,
                               ", \"why\": ", Json(b.why), "}"));
  }
  std::fprintf(
      f,
      "{\"files\": [%s], \"format\": %s, \"key\": %s, \"lines\": %llu, \"requests\": %llu, "
      "\"clients\": %llu, \"malformed\": %llu, \"first_malformed\": [%s], \"refused\": %llu, "
      "\"no_key\": %llu, "
      "\"skipped\": %llu, \"late\": %llu, \"window_ns\": %lld, \"spread\": %s, "
      "\"first_time_ns\": %lld, \"last_time_ns\": %lld, \"sweep\": \"%s\", \"target\": "
      "{\"of\": \"%s\", \"percent\": %g},\n\"points\": [",
      absl::StrJoin(files, ", ").c_str(), Json(r.format).c_str(), Json(r.key).c_str(),
      static_cast<unsigned long long>(r.lines), static_cast<unsigned long long>(r.requests),
      static_cast<unsigned long long>(r.clients), static_cast<unsigned long long>(r.malformed),
      absl::StrJoin(bad, ", ").c_str(), static_cast<unsigned long long>(r.refused),
      static_cast<unsigned long long>(r.no_key), static_cast<unsigned long long>(r.skipped),
      static_cast<unsigned long long>(r.late), static_cast<long long>(r.replay.window_ns),
      r.replay.spread ? "true" : "false", static_cast<long long>(r.first_ns),
      static_cast<long long>(r.last_ns), SweepName(r.sweep.dimension),
      r.target.clients ? "clients" : "requests", r.target.percent);
  for (std::size_t i = 0; i < r.results.size(); ++i) {
    const PointResult& p = r.results[i];
    std::vector<std::string> top;
    for (const KeyDenials& k : p.top) {
      top.push_back(absl::StrCat("{\"key\": ", Json(k.key), ", \"denied\": ", k.denied,
                                 ", \"requests\": ", k.requests, "}"));
    }
    std::fprintf(
        f,
        "%s\n  {\"algorithm\": %s, \"rate\": %s, \"burst\": %llu, \"requests\": %llu, "
        "\"denied\": %llu, \"denied_percent\": %.4f, \"clients\": %llu, "
        "\"clients_denied\": %llu, \"clients_denied_percent\": %.4f, "
        "\"worst_overshoot\": %lld, \"top\": [%s]}",
        i == 0 ? "" : ",", Json(p.algorithm).c_str(), Json(p.point.rate.ToString()).c_str(),
        static_cast<unsigned long long>(p.point.burst), static_cast<unsigned long long>(p.requests),
        static_cast<unsigned long long>(p.denied), Percent(p.denied, p.requests),
        static_cast<unsigned long long>(p.clients),
        static_cast<unsigned long long>(p.clients_denied), Percent(p.clients_denied, p.clients),
        static_cast<long long>(p.worst_overshoot), absl::StrJoin(top, ", ").c_str());
  }
  std::fprintf(f, "\n],\n\"knees\": [");
  for (std::size_t i = 0; i < r.replay.algorithms.size(); ++i) {
    const std::string& a = r.replay.algorithms[i];
    const std::optional<std::size_t> k =
        r.sweep.dimension == SweepDimension::kNone ? std::nullopt : Knee(r.results, a, r.target);
    std::string point = "null";
    if (k) {
      point = absl::StrCat("{\"rate\": ", Json(r.results[*k].point.rate.ToString()),
                           ", \"burst\": ", r.results[*k].point.burst, "}");
    }
    std::string per_burst;
    if (r.sweep.dimension == SweepDimension::kGrid) {
      std::vector<std::string> knees;
      const auto per = KneePerBurst(r.results, a, r.sweep, r.target);
      for (std::size_t b = 0; b < per.size(); ++b) {
        knees.push_back(absl::StrCat(
            "{\"burst\": ", r.sweep.points[b].burst, ", \"rate\": ",
            per[b] ? Json(r.results[*per[b]].point.rate.ToString()) : std::string("null"), "}"));
      }
      per_burst = absl::StrCat(", \"per_burst\": [", absl::StrJoin(knees, ", "), "]");
    }
    std::fprintf(f, "%s{\"algorithm\": %s, \"knee\": %s%s}", i == 0 ? "" : ", ", Json(a).c_str(),
                 point.c_str(), per_burst.c_str());
  }
  std::fprintf(f, "]}\n");
}

absl::Status PlotSweep(const std::string& path, const LogReplayReport& r) {
  if (auto s = GnuplotInstalled(); !s.ok()) return s;
  const bool burst = r.sweep.dimension == SweepDimension::kBurst;
  const std::string unit = r.results.empty() ? "" : [&] {
    const std::string s = r.results[0].point.rate.ToString();
    return s.substr(s.find('/'));
  }();
  const bool png = path.size() > 4 && path.compare(path.size() - 4, 4, ".png") == 0;
  std::string script = absl::StrCat(
      png ? "set terminal pngcairo size 960,540 enhanced font 'sans,10' background '#ffffff'\n"
          : "set terminal svg size 960,540 dynamic enhanced font 'sans,11' background '#ffffff'\n",
      "set output '", path, "'\n", "set title \"", absl::StrJoin(r.files, ", "), ": ", r.requests,
      " requests from ", r.clients, " clients (key ", r.key, ")\" noenhanced\n", "set xlabel '",
      burst ? "burst" : absl::StrCat("rate (requests", unit, ")"), "' noenhanced\n",
      "set ylabel 'denied (%)'\n",
      "set key outside right top noenhanced\nset grid\nset yrange [0:*]\n");
  if (r.sweep.geometric) absl::StrAppend(&script, "set logscale x\n");
  if (r.sweep.dimension == SweepDimension::kGrid) {
    absl::StrAppend(&script, "set ylabel 'requests denied (%)'\n");
  }
  if (!r.sweep.points.empty()) {
    const auto value = [&](const SweepPoint& p) {
      return static_cast<double>(burst ? p.burst : p.rate.count);
    };
    const double lo = value(r.sweep.points.front());
    const double hi = value(r.sweep.points.back());
    absl::StrAppend(&script, "set xrange [", r.sweep.geometric ? lo / 1.1 : lo - 0.5, ":",
                    r.sweep.geometric ? hi * 1.1 : hi + 0.5, "]\n");
  }
  std::vector<std::string> plots;
  if (r.sweep.dimension == SweepDimension::kGrid) {
    // Requests denied against the rate, a line per algorithm and burst (a colour per burst, a
    // dash pattern per algorithm; one line for an algorithm without a burst).
    int block = 0;
    for (std::size_t a = 0; a < r.replay.algorithms.size(); ++a) {
      const std::string& name = r.replay.algorithms[a];
      const std::size_t bursts = UsesBurst(name) ? r.sweep.bursts : 1;
      for (std::size_t b = 0; b < bursts; ++b) {
        absl::StrAppend(&script, "$d", block, " << EOD\n");
        std::size_t at = 0;
        for (const PointResult& p : r.results) {
          if (p.algorithm != name || at++ % r.sweep.bursts != b) continue;
          absl::StrAppend(&script, p.point.rate.count, " ",
                          absl::StrFormat("%.4f", Percent(p.denied, p.requests)), "\n");
        }
        absl::StrAppend(&script, "EOD\n");
        plots.push_back(absl::StrCat(
            "$d", block, " using 1:2 with linespoints lw 2 lc ", b + 1, " dt ", a + 1,
            " pt 7 title '", name,
            UsesBurst(name) ? absl::StrCat(", burst ", r.sweep.points[b].burst) : "", "'"));
        ++block;
      }
    }
  }
  for (std::size_t a = 0;
       r.sweep.dimension != SweepDimension::kGrid && a < r.replay.algorithms.size(); ++a) {
    absl::StrAppend(&script, "$d", a, " << EOD\n");
    for (const PointResult& p : r.results) {
      if (p.algorithm != r.replay.algorithms[a]) continue;
      absl::StrAppend(&script, burst ? p.point.burst : p.point.rate.count, " ",
                      absl::StrFormat("%.4f %.4f", Percent(p.denied, p.requests),
                                      Percent(p.clients_denied, p.clients)),
                      "\n");
    }
    absl::StrAppend(&script, "EOD\n");
    const std::string& name = r.replay.algorithms[a];
    plots.push_back(absl::StrCat("$d", a, " using 1:2 with linespoints lw 2 lc ", a + 1,
                                 " pt 7 title '", name, ": requests'"));
    plots.push_back(absl::StrCat("$d", a, " using 1:3 with linespoints lw 2 dt 2 lc ", a + 1,
                                 " pt 6 title '", name, ": clients'"));
  }
  absl::StrAppend(&script, "set arrow from graph 0, first ", r.target.percent,
                  " to graph 1, first ", r.target.percent, " nohead dt 3 lw 1 lc 'black' front\n",
                  "set label 'target' at graph 0.01, first ", r.target.percent,
                  " offset 0,0.7 front\n", "plot ", absl::StrJoin(plots, ", "), "\n");
  return RunGnuplot(script, path);
}

}  // namespace sluice::sim
