// The options of the log parsers: --format names and --field mappings (log_format.h).
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "sim/log_format.h"

namespace sluice::sim {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "combined") return LogFormat::kCombined;
  if (name == "common") return LogFormat::kCommon;
  if (name == "json") return LogFormat::kJson;
  if (name == "sluiced") return LogFormat::kSluiced;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log format '", Absl(name), "' (known: ", Absl(kLogFormats), ")"));
}

absl::Status ApplyFieldFlag(std::string_view text, LogFields& fields) {
  for (absl::string_view item : absl::StrSplit(Absl(text), ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const std::size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--field '", item, "': expected NAME=FIELD (NAME: ", Absl(kFieldNames),
                       " or header:NAME)"));
    }
    const absl::string_view name = item.substr(0, eq);
    std::string field(item.substr(eq + 1));
    if (name == "time") {
      fields.time = std::move(field);
    } else if (name == "ip") {
      fields.ip = std::move(field);
    } else if (name == "method") {
      fields.method = std::move(field);
    } else if (name == "path") {
      fields.path = std::move(field);
    } else if (name == "request") {
      fields.request = std::move(field);
    } else if (name == "key") {
      fields.key = std::move(field);
    } else if (name == "cost") {
      fields.cost = std::move(field);
    } else if (absl::StartsWith(name, "header:")) {
      auto part = KeyPartSpec::Parse(std::string_view(name.data(), name.size()));
      if (!part.ok()) return part.status();
      fields.headers.emplace_back(part->header, std::move(field));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--field '", item, "': unknown name '", name,
                                                     "' (known: ", Absl(kFieldNames),
                                                     " or header:NAME)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::sim
