#include "load/report.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::load {

namespace {

constexpr double kQuantiles[] = {0.5, 0.9, 0.99, 0.999};
constexpr const char* kQuantileNames[] = {"p50", "p90", "p99", "p99_9"};

std::string Duration(double ns) {
  if (ns < 1e3) return absl::StrFormat("%.0fns", ns);
  if (ns < 1e6) return absl::StrFormat("%.1fus", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.2fms", ns / 1e6);
  return absl::StrFormat("%.2fs", ns / 1e9);
}

std::uint64_t Errors(const WorkerResult& r) {
  std::uint64_t n = 0;
  for (const auto e : r.errors) n += e;
  return n;
}

double PerSecond(const RunSummary& s) {
  return s.elapsed_s > 0 ? static_cast<double>(s.merged.completed) / s.elapsed_s : 0;
}

double CpuPerRequestUs(const RunSummary& s) {
  return s.merged.completed > 0 ? s.client_cpu_s / static_cast<double>(s.merged.completed) * 1e6
                                : 0;
}

std::string JsonString(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

WorkerResult Merge(std::vector<WorkerResult>& results) {
  WorkerResult merged;
  for (const auto& r : results) {
    merged.latency.Merge(r.latency);
    for (std::size_t i = 0; i < merged.status.size(); ++i) merged.status[i] += r.status[i];
    for (std::size_t i = 0; i < merged.errors.size(); ++i) merged.errors[i] += r.errors[i];
    merged.sent += r.sent;
    merged.completed += r.completed;
  }
  return merged;
}

std::string FormatText(const RunSummary& s) {
  const WorkerResult& m = s.merged;
  std::string out = absl::StrFormat(
      "sluice-load %s: %.2f s, %u threads, %u connections, pipeline %u, %s, keys %s%s\n", s.target,
      s.elapsed_s, s.threads, s.connections, s.pipeline,
      s.rate > 0 ? absl::StrFormat("open loop at %.0f/s", s.rate) : std::string("closed loop"),
      s.keys, s.key_header.empty() ? "" : absl::StrCat(" in ", s.key_header));
  absl::StrAppendFormat(&out, "  requests   %d answered (%.1f/s), %d sent, %d errors\n",
                        m.completed, PerSecond(s), m.sent, Errors(m));
  absl::StrAppend(&out, "  status    ");
  for (std::size_t i = 0; i < m.status.size(); ++i) {
    if (m.status[i] != 0) {
      absl::StrAppendFormat(&out, " %s: %d", i == 0 ? std::string("other") : absl::StrCat(i),
                            m.status[i]);
    }
  }
  absl::StrAppend(&out, "\n  latency   ");
  for (std::size_t i = 0; i < 4; ++i) {
    absl::StrAppendFormat(&out, " %s %s", kQuantileNames[i],
                          Duration(static_cast<double>(m.latency.ValueAt(kQuantiles[i]))));
  }
  absl::StrAppendFormat(&out, " max %s mean %s%s\n", Duration(static_cast<double>(m.latency.max())),
                        Duration(m.latency.mean()),
                        s.rate > 0 ? " (from the intended send time)" : "");
  if (Errors(m) != 0) {
    absl::StrAppend(&out, "  errors    ");
    for (std::size_t i = 0; i < kErrorKinds; ++i) {
      if (m.errors[i] != 0) {
        absl::StrAppendFormat(&out, " %s: %d", ErrorName(static_cast<ErrorKind>(i)), m.errors[i]);
      }
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppendFormat(&out, "  client CPU %.3f s, %.2f us per request\n", s.client_cpu_s,
                        CpuPerRequestUs(s));
  return out;
}

std::string FormatJson(const RunSummary& s) {
  const WorkerResult& m = s.merged;
  std::string out = "{";
  absl::StrAppendFormat(&out,
                        "\"target\":\"%s\",\"keys\":\"%s\",\"key_header\":\"%s\",\"threads\":%u,"
                        "\"connections\":%u,\"pipeline\":%u,\"rate\":%.3f,\"elapsed_s\":%.6f,",
                        JsonString(s.target), JsonString(s.keys), JsonString(s.key_header),
                        s.threads, s.connections, s.pipeline, s.rate, s.elapsed_s);
  absl::StrAppendFormat(&out,
                        "\"sent\":%d,\"requests\":%d,\"requests_per_s\":%.3f,\"errors_total\":%d,",
                        m.sent, m.completed, PerSecond(s), Errors(m));
  absl::StrAppend(&out, "\"status\":{");
  bool first = true;
  for (std::size_t i = 0; i < m.status.size(); ++i) {
    if (m.status[i] == 0) continue;
    absl::StrAppendFormat(&out, "%s\"%s\":%d", first ? "" : ",",
                          i == 0 ? std::string("other") : absl::StrCat(i), m.status[i]);
    first = false;
  }
  absl::StrAppend(&out, "},\"errors\":{");
  for (std::size_t i = 0; i < kErrorKinds; ++i) {
    absl::StrAppendFormat(&out, "%s\"%s\":%d", i == 0 ? "" : ",",
                          ErrorName(static_cast<ErrorKind>(i)), m.errors[i]);
  }
  absl::StrAppend(&out, "},\"latency_us\":{");
  for (std::size_t i = 0; i < 4; ++i) {
    absl::StrAppendFormat(&out, "\"%s\":%.3f,", kQuantileNames[i],
                          static_cast<double>(m.latency.ValueAt(kQuantiles[i])) / 1e3);
  }
  absl::StrAppendFormat(&out, "\"max\":%.3f,\"mean\":%.3f},",
                        static_cast<double>(m.latency.max()) / 1e3, m.latency.mean() / 1e3);
  absl::StrAppendFormat(&out, "\"client_cpu_s\":%.6f,\"client_cpu_per_request_us\":%.4f}\n",
                        s.client_cpu_s, CpuPerRequestUs(s));
  return out;
}

}  // namespace sluice::load
