// The log replay against answers computed independently: a sliding log and a GCRA written out
// here, per key, over the same requests, for every point of a sweep. Logs are generated with
// times in several zones, out of order within the window, with malformed lines, plain and
// gzip-compressed.
#include "sim/replay.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "sim/replay_run.h"
#include "sim/sweep.h"

namespace sluice::sim {
namespace {

constexpr std::int64_t kS = 1'000'000'000;
constexpr std::int64_t kBase = 1'764'000'000;  // Unix seconds, late 2025

struct Event {
  std::int64_t t_s;  // whole seconds, as the combined format writes them
  int key;
};

// The combined-format line of `e`, its time written in the zone `east_minutes` east of UTC.
std::string Line(const Event& e, int east_minutes) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t local = static_cast<std::time_t>(e.t_s + east_minutes * 60);
  std::tm tm{};
  gmtime_r(&local, &tm);
  const int z = std::abs(east_minutes);
  return absl::StrFormat(
      "198.51.100.%d - - [%02d/%s/%04d:%02d:%02d:%02d %c%02d%02d] \"GET /item/%d?q=\\\"x\\\" "
      "HTTP/1.1\" 200 512 \"-\" \"agent %d\"",
      e.key + 1, tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
      tm.tm_sec, east_minutes < 0 ? '-' : '+', z / 60, z % 60, e.key, e.key);
}

struct Expected {
  std::uint64_t denied = 0;
  std::uint64_t clients_denied = 0;
  std::int64_t worst_overshoot = 0;
  std::map<int, std::uint64_t> per_key;
};

// A sliding log written out: admit iff fewer than `count` admitted in (t - period, t].
Expected SlidingLogReference(const std::vector<Event>& in_time_order, std::uint64_t count) {
  Expected x;
  std::map<int, std::deque<std::int64_t>> admitted;
  std::uint64_t most = 0;
  for (const Event& e : in_time_order) {
    auto& log = admitted[e.key];
    const std::int64_t t = e.t_s * kS;
    while (!log.empty() && log.front() <= t - kS) log.pop_front();
    if (log.size() + 1 <= count) {
      log.push_back(t);
      most = std::max<std::uint64_t>(most, log.size());
    } else {
      ++x.denied;
      ++x.per_key[e.key];
    }
  }
  x.clients_denied = x.per_key.size();
  x.worst_overshoot = static_cast<std::int64_t>(most) - static_cast<std::int64_t>(count);
  return x;
}

// GCRA written out (DESIGN.md): T = period / count, admit iff max(TAT, t) + T - t <= b*T.
// The overshoot counted with its own window of admitted times.
Expected GcraReference(const std::vector<Event>& in_time_order, std::uint64_t count,
                       std::uint64_t burst) {
  Expected x;
  const std::int64_t T = kS / static_cast<std::int64_t>(count);
  std::map<int, std::int64_t> tat;
  std::map<int, std::deque<std::int64_t>> admitted;
  std::uint64_t most = 0;
  for (const Event& e : in_time_order) {
    const std::int64_t t = e.t_s * kS;
    const auto it = tat.find(e.key);
    const std::int64_t start = it == tat.end() ? t : std::max(it->second, t);
    if (start + T - t <= static_cast<std::int64_t>(burst) * T) {
      tat[e.key] = start + T;
      auto& log = admitted[e.key];
      while (!log.empty() && log.front() <= t - kS) log.pop_front();
      log.push_back(t);
      most = std::max<std::uint64_t>(most, log.size());
    } else {
      ++x.denied;
      ++x.per_key[e.key];
    }
  }
  x.clients_denied = x.per_key.size();
  x.worst_overshoot = static_cast<std::int64_t>(most) - static_cast<std::int64_t>(count);
  return x;
}

std::string TempPath(const std::string& name) { return ::testing::TempDir() + "/" + name; }

void WritePlain(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary);
  for (const std::string& l : lines) out << l << '\n';
}

void WriteGzip(const std::string& path, const std::vector<std::string>& lines) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  for (const std::string& l : lines) {
    gzwrite(gz, l.data(), static_cast<unsigned>(l.size()));
    gzwrite(gz, "\n", 1);
  }
  gzclose(gz);
}

struct Generated {
  std::vector<std::string> lines;        // file order (with malformed lines)
  std::vector<Event> in_time_order;      // the requests as the replay must decide them
  std::vector<std::uint64_t> malformed;  // their line numbers
};

// Bursty clients over two minutes; lines shuffled within one second of each other (written as
// requests finish), each in one of several zones; a malformed line every so often.
Generated Generate(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events;
  for (std::int64_t s = 0; s < 120; ++s) {
    for (int k = 0; k < 9; ++k) {
      // Key k sends around 3*k requests in this second, more in some seconds.
      const int n = static_cast<int>(rng() % static_cast<std::uint64_t>(3 * k + 2)) +
                    (rng() % 10 == 0 ? 25 : 0);
      for (int i = 0; i < n; ++i) events.push_back(Event{kBase + s, k});
    }
  }
  std::shuffle(events.begin(), events.end(), rng);
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.t_s < b.t_s; });
  // Out of order by up to a second: swap neighbours across a second's edge now and then.
  for (std::size_t i = 1; i < events.size(); ++i) {
    if (events[i].t_s != events[i - 1].t_s && rng() % 3 == 0) std::swap(events[i], events[i - 1]);
  }
  Generated g;
  static constexpr int kZones[] = {0, 330, -420, 60, -600, 840};
  for (const Event& e : events) {
    if (rng() % 500 == 0) {
      g.lines.push_back("198.51.100.1 - - [31/Foo/2025:00:00:00 +0000] \"GET / HTTP/1.1\" 200 1");
      g.malformed.push_back(g.lines.size());
    }
    g.lines.push_back(Line(e, kZones[rng() % 6]));
  }
  g.in_time_order = events;
  std::stable_sort(g.in_time_order.begin(), g.in_time_order.end(),
                   [](const Event& a, const Event& b) { return a.t_s < b.t_s; });
  return g;
}

LogReplayRequest Request(const std::string& file, const std::string& sweep,
                         std::vector<std::string> algorithms, std::uint64_t burst) {
  LogReplayRequest r;
  r.files = {file};
  r.parser.format = LogFormat::kCombined;
  r.replay.algorithms = std::move(algorithms);
  r.replay.window_ns = 2 * kS;
  r.sweep = *ParseSweep(sweep, Rate{10, std::chrono::seconds(1)}, burst);
  r.progress_on_terminal = false;
  return r;
}

TEST(ReplayTest, SweepMatchesIndependentReferences) {
  const Generated g = Generate(11);
  const std::string plain = TempPath("replay_sweep.log");
  const std::string gz = TempPath("replay_sweep.log.gz");
  WritePlain(plain, g.lines);
  WriteGzip(gz, g.lines);
  const std::uint64_t burst = 4;
  for (const std::string& file : {plain, gz}) {
    auto report = ReplayLogs(Request(file, "rate=2/s..40/s:7", {"gcra", "sliding-log"}, burst));
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->requests, g.in_time_order.size());
    EXPECT_EQ(report->clients, 9u);
    EXPECT_EQ(report->late, 0u);
    ASSERT_EQ(report->malformed, g.malformed.size());
    for (std::size_t i = 0; i < report->first_malformed.size(); ++i) {
      EXPECT_EQ(report->first_malformed[i].line, g.malformed[i]);
    }
    ASSERT_EQ(report->results.size(), 14u);
    for (const PointResult& p : report->results) {
      const std::uint64_t count = p.point.rate.count;
      const Expected want = p.algorithm == "gcra" ? GcraReference(g.in_time_order, count, burst)
                                                  : SlidingLogReference(g.in_time_order, count);
      SCOPED_TRACE(p.algorithm + " at " + p.point.rate.ToString() + " in " + file);
      EXPECT_EQ(p.requests, g.in_time_order.size());
      EXPECT_EQ(p.denied, want.denied);
      EXPECT_EQ(p.clients_denied, want.clients_denied);
      EXPECT_EQ(p.worst_overshoot, want.worst_overshoot);
      if (!want.per_key.empty()) {
        ASSERT_FALSE(p.top.empty());
        const auto most =
            std::max_element(want.per_key.begin(), want.per_key.end(),
                             [](const auto& a, const auto& b) { return a.second < b.second; });
        EXPECT_EQ(p.top.front().denied, most->second);
        for (std::size_t i = 1; i < p.top.size(); ++i) {
          EXPECT_GE(p.top[i - 1].denied, p.top[i].denied);
        }
      }
    }
  }
}

// A rate x burst grid in one pass, every point against the references, and its knees against
// the smallest rate (then burst) meeting the target found from the references themselves.
TEST(ReplayTest, GridSweepMatchesIndependentReferences) {
  const Generated g = Generate(23);
  const std::string plain = TempPath("replay_grid.log");
  WritePlain(plain, g.lines);
  LogReplayRequest request =
      Request(plain, "rate=2/s..60/s:5,burst=1,4,16,64", {"gcra", "sliding-log"}, 1);
  request.target = *ParseTarget("3%");
  auto report = ReplayLogs(request);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->sweep.dimension, SweepDimension::kGrid);
  ASSERT_EQ(report->results.size(), 2u * 5 * 4);
  const auto meets = [&](const Expected& x) {
    return 100.0 * static_cast<double>(x.denied) / static_cast<double>(g.in_time_order.size()) <=
           3.0;
  };
  std::optional<SweepPoint> gcra_knee;
  std::vector<std::optional<std::uint64_t>> per_burst(4);
  for (std::size_t i = 0; i < report->results.size(); ++i) {
    const PointResult& p = report->results[i];
    const std::uint64_t count = p.point.rate.count;
    const bool gcra = p.algorithm == "gcra";
    const Expected want = gcra ? GcraReference(g.in_time_order, count, p.point.burst)
                               : SlidingLogReference(g.in_time_order, count);
    SCOPED_TRACE(p.algorithm + " at " + p.point.rate.ToString() + " burst " +
                 std::to_string(p.point.burst));
    EXPECT_EQ(p.point.burst, (std::vector<std::uint64_t>{1, 4, 16, 64})[i % 4]);
    EXPECT_EQ(p.requests, g.in_time_order.size());
    EXPECT_EQ(p.denied, want.denied);
    EXPECT_EQ(p.clients_denied, want.clients_denied);
    EXPECT_EQ(p.worst_overshoot, want.worst_overshoot);
    if (gcra && meets(want)) {
      if (!gcra_knee) gcra_knee = p.point;
      if (!per_burst[i % 4]) per_burst[i % 4] = count;
    }
  }
  ASSERT_TRUE(gcra_knee.has_value());  // the sweep reaches the target somewhere
  const auto knee = Knee(report->results, "gcra", report->target);
  ASSERT_TRUE(knee.has_value());
  EXPECT_EQ(report->results[*knee].point, *gcra_knee);
  const auto knees = KneePerBurst(report->results, "gcra", report->sweep, report->target);
  ASSERT_EQ(knees.size(), 4u);
  for (std::size_t b = 0; b < 4; ++b) {
    ASSERT_EQ(knees[b].has_value(), per_burst[b].has_value()) << b;
    if (knees[b]) {
      EXPECT_EQ(report->results[*knees[b]].point.rate.count, *per_burst[b]) << b;
    }
  }
}

TEST(ReplayTest, EveryAlgorithmAtEveryPointInOnePassAgreesWithOnePointRuns) {
  const Generated g = Generate(5);
  const std::string plain = TempPath("replay_points.log");
  WritePlain(plain, g.lines);
  const std::vector<std::string> all = {"gcra",         "token-bucket",           "leaky-bucket",
                                        "fixed-window", "sliding-window-counter", "sliding-log"};
  auto swept = ReplayLogs(Request(plain, "rate=3/s,9/s,27/s", all, 5));
  ASSERT_TRUE(swept.ok()) << swept.status();
  for (const PointResult& p : swept->results) {
    auto one = ReplayLogs(Request(plain, "rate=" + p.point.rate.ToString(), {p.algorithm}, 5));
    ASSERT_TRUE(one.ok());
    ASSERT_EQ(one->results.size(), 1u);
    EXPECT_EQ(one->results[0].denied, p.denied) << p.algorithm << " " << p.point.rate.ToString();
    EXPECT_EQ(one->results[0].worst_overshoot, p.worst_overshoot) << p.algorithm;
  }
}

TEST(ReplayTest, OutOfOrderBeyondTheWindowIsLateAndCounted) {
  ReplayOptions o;
  o.algorithms = {"sliding-log"};
  o.points = {SweepPoint{Rate{1, std::chrono::seconds(1)}, 1}};
  o.window_ns = 2 * kS;
  auto r = Replay::Create(o);
  ASSERT_TRUE(r.ok());
  // In order within the window: 100.5 then 100 both decided in time order (100 first).
  (*r)->Add(100 * kS + kS / 2, "a", 1);
  (*r)->Add(100 * kS, "a", 1);
  for (int s = 101; s <= 110; ++s) (*r)->Add(s * kS, "b", 1);
  (*r)->Add(50 * kS, "a", 1);  // 60 s late: decided at the window's edge
  (*r)->Finish();
  EXPECT_EQ((*r)->late(), 1u);
  EXPECT_EQ((*r)->requests(), 13u);
  EXPECT_EQ((*r)->first_ns(), 100 * kS);
  const auto results = (*r)->Results();
  // a: 100 admitted, 100.5 denied; the late one at the edge (108 s) admitted.
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].denied, 1u);
  ASSERT_EQ(results[0].top.size(), 1u);
  EXPECT_EQ(results[0].top[0].key, "a");
}

TEST(ReplayTest, SpreadSpacesTheRequestsOfASecond) {
  for (const bool spread : {false, true}) {
    ReplayOptions o;
    o.algorithms = {"gcra"};
    o.points = {SweepPoint{Rate{10, std::chrono::seconds(1)}, 1}};
    o.spread = spread;
    auto r = Replay::Create(o);
    ASSERT_TRUE(r.ok());
    for (int s = 0; s < 3; ++s) {
      for (int i = 0; i < 10; ++i) (*r)->Add((kBase + s) * kS, "k", 1);
    }
    (*r)->Finish();
    // Whole seconds: one admitted per second (burst 1); spread 100 ms apart: all of them.
    EXPECT_EQ((*r)->Results()[0].denied, spread ? 0u : 27u);
  }
}

TEST(ReplayTest, MalformedLinesAreCountedAndOnlyAllBadIsAnError) {
  const std::string path = TempPath("replay_bad.log");
  WritePlain(path, {"nonsense", "",
                    "198.51.100.1 - - [01/Dec/2025:10:00:00 +0000] \"GET / "
                    "HTTP/1.1\" 200 1 \"-\" \"-\"",
                    "also nonsense"});
  auto ok = ReplayLogs(Request(path, "", {"gcra"}, 1));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->lines, 3u);
  EXPECT_EQ(ok->malformed, 2u);
  ASSERT_EQ(ok->first_malformed.size(), 2u);
  EXPECT_EQ(ok->first_malformed[0].line, 1u);
  EXPECT_EQ(ok->first_malformed[1].line, 4u);
  EXPECT_EQ(ok->requests, 1u);
  WritePlain(path, {"nonsense", "more nonsense"});
  auto bad = ReplayLogs(Request(path, "", {"gcra"}, 1));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("every line is malformed"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(ReplayLogs(Request(TempPath("does-not-exist.log"), "", {"gcra"}, 1)).ok());
}

TEST(ReplayTest, CorruptGzipIsAnError) {
  const Generated g = Generate(2);
  const std::string gz = TempPath("replay_cut.log.gz");
  WriteGzip(gz, g.lines);
  std::string bytes;
  {
    std::ifstream in(gz, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes.resize(bytes.size() / 2);  // cut short
  {
    std::ofstream out(gz, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  auto r = ReplayLogs(Request(gz, "", {"gcra"}, 1));
  EXPECT_FALSE(r.ok());
}

TEST(SweepTest, ParsesRangesListsAndTargets) {
  const Rate rate{10, std::chrono::seconds(1)};
  auto s = ParseSweep("rate=10/s..1000/s:5", rate, 20);
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::uint64_t> counts;
  for (const SweepPoint& p : s->points) counts.push_back(p.rate.count);
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{10, 32, 100, 316, 1000}));
  EXPECT_TRUE(s->geometric);
  s = ParseSweep("burst=1..8:4", rate, 20);
  ASSERT_TRUE(s.ok());
  counts.clear();
  for (const SweepPoint& p : s->points) counts.push_back(p.burst);
  EXPECT_EQ(counts, (std::vector<std::uint64_t>{1, 2, 4, 8}));
  s = ParseSweep("rate=50/m,10/m,20/m", rate, 20);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->points.front().rate, (Rate{10, std::chrono::minutes(1)}));
  for (const char* bad : {"rate", "rate=10/s..1/s", "rate=10/s..100/m", "rate=1/s..2/s:1",
                          "speed=1..2", "burst=0,1", "rate=x"}) {
    EXPECT_FALSE(ParseSweep(bad, rate, 20).ok()) << bad;
  }
  // A grid: rate-major, both axes parsed as alone; the order of the axes does not matter.
  s = ParseSweep("rate=1/s,4/s,2/s,burst=1..8:4", rate, 20);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dimension, SweepDimension::kGrid);
  EXPECT_EQ(s->rates, 3u);
  EXPECT_EQ(s->bursts, 4u);
  EXPECT_FALSE(s->geometric);
  EXPECT_TRUE(s->burst_geometric);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> grid;
  for (const SweepPoint& p : s->points) grid.emplace_back(p.rate.count, p.burst);
  EXPECT_EQ(grid, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{1, 1},
                                                                        {1, 2},
                                                                        {1, 4},
                                                                        {1, 8},
                                                                        {2, 1},
                                                                        {2, 2},
                                                                        {2, 4},
                                                                        {2, 8},
                                                                        {4, 1},
                                                                        {4, 2},
                                                                        {4, 4},
                                                                        {4, 8}}));
  auto swapped = ParseSweep("burst=1..8:4,rate=1/s,2/s,4/s", rate, 20);
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_EQ(swapped->points, s->points);
  for (const char* bad : {"rate=1/s,rate=2/s", "burst=1,2,burst=3", "rate=1/s,burst=1,rate=2/s",
                          "rate=1/s..100000/s:200,burst=1..100000:200", "rate=1/s,burst=0"}) {
    EXPECT_FALSE(ParseSweep(bad, rate, 20).ok()) << bad;
  }
  EXPECT_FALSE(ParseTarget("clients=0.5%")->clients == false);
  EXPECT_EQ(ParseTarget("requests=2%")->percent, 2.0);
  EXPECT_EQ(ParseTarget("1")->percent, 1.0);
  EXPECT_FALSE(ParseTarget("101%").ok());
  EXPECT_FALSE(ParseTarget("lots").ok());
}

}  // namespace
}  // namespace sluice::sim
