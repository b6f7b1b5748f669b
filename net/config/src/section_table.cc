// The table and the answers: `table` (capacity, when_full) and `response` (deny status,
// legacy headers).
#include "sections.h"

namespace sluice::net {
namespace {
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 34;  // StateTable's own bound
}  // namespace

void ParseTable(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  auto table = reader.Map(value, "table", {"capacity", "when_full"});
  if (!table) return;
  table->Unsigned("capacity", 1, kMaxCapacity, config.table_capacity);
  if (const YAML::Node* n = table->Find("when_full")) {
    if (const auto text = reader.Scalar(*n, table->What("when_full"))) {
      auto w = ParseWhenFull(*text);
      if (w.ok()) {
        config.when_full = *w;
      } else {
        reader.Fail(*n, absl::StrCat("table ", w.status().message()));
      }
    }
  }
}

void EmitTable(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::BeginMap;
  out << YAML::Key << "capacity" << YAML::Value << config.table_capacity;
  out << YAML::Key << "when_full" << YAML::Value << std::string(ToString(config.when_full));
  out << YAML::EndMap;
}

void ParseResponse(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  auto response = reader.Map(value, "response", {"deny_status", "legacy_headers"});
  if (!response) return;
  response->Unsigned("deny_status", 400, 599, config.deny_status);
  response->Bool("legacy_headers", config.legacy_headers);
}

void EmitResponse(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::BeginMap;
  out << YAML::Key << "deny_status" << YAML::Value << config.deny_status;
  out << YAML::Key << "legacy_headers" << YAML::Value << config.legacy_headers;
  out << YAML::EndMap;
}

}  // namespace sluice::net
