#include "sim/trace.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sluice::sim {

bool IsTraceHeader(std::string_view line) {
  return absl::StripAsciiWhitespace(absl::string_view(line.data(), line.size())) == "t_ns,key,cost";
}

absl::StatusOr<TraceRecord> ParseTraceLine(std::string_view raw, std::size_t line_number) {
  absl::string_view line(raw.data(), raw.size());
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("trace line ", line_number, ": ",
                                                   std::string(why), " (expected t_ns,key,cost)"));
  };
  const std::size_t first = line.find(',');
  const std::size_t last = line.rfind(',');
  if (first == absl::string_view::npos || first == last) return bad("fewer than 3 fields");
  TraceRecord r;
  const absl::string_view t_text = line.substr(0, first);
  const absl::string_view cost_text = line.substr(last + 1);
  if (!absl::SimpleAtoi(t_text, &r.t_ns) || r.t_ns < 0) {
    return bad(absl::StrCat("time '", t_text, "' is not a non-negative integer"));
  }
  if (!absl::SimpleAtoi(cost_text, &r.cost)) {
    return bad(absl::StrCat("cost '", cost_text, "' is not a non-negative integer"));
  }
  r.key = std::string(line.substr(first + 1, last - first - 1));
  return r;
}

void WriteDecision(std::ostream& out, const TraceRecord& record, const Decision& d) {
  out << record.t_ns << ',' << record.key << ',' << record.cost << ',' << (d.allowed ? 1 : 0) << ','
      << d.remaining << ',' << d.retry_after.count() << ',' << d.reset_after.count() << '\n';
}

}  // namespace sluice::sim
