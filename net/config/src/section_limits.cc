// `limits`: what one request and one connection may take (DESIGN.md, SECURITY.md).
#include "sections.h"

namespace sluice::net {
namespace {
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr std::uint64_t kDayMs = 86'400'000;
}  // namespace

void ParseLimits(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  auto limits =
      reader.Map(value, "limits",
                 {"header_bytes", "headers", "uri_bytes", "idle_timeout_ms", "header_timeout_ms",
                  "connections_per_shard", "output_bytes", "body_bytes"});
  if (!limits) return;
  ServerLimits& l = config.limits;
  limits->Unsigned("header_bytes", 256, kMiB, l.http.max_header_bytes);
  limits->Unsigned("headers", 1, kMaxHeaders, l.http.max_headers);
  limits->Unsigned("uri_bytes", 16, kMiB, l.http.max_uri_bytes);
  limits->Millis("idle_timeout_ms", 1, kDayMs, l.idle_timeout);
  limits->Millis("header_timeout_ms", 1, kDayMs, l.header_timeout);
  limits->Unsigned("connections_per_shard", 1, kMiB, l.max_connections_per_shard);
  limits->Unsigned("output_bytes", 1024, 1024 * kMiB, l.max_output_bytes);
  limits->Unsigned("body_bytes", 0, std::uint64_t{1} << 40, l.max_body_bytes);
}

void EmitLimits(YAML::Emitter& out, const ServerConfig& config) {
  const ServerLimits& l = config.limits;
  out << YAML::BeginMap;
  out << YAML::Key << "header_bytes" << YAML::Value << l.http.max_header_bytes;
  out << YAML::Key << "headers" << YAML::Value << l.http.max_headers;
  out << YAML::Key << "uri_bytes" << YAML::Value << l.http.max_uri_bytes;
  out << YAML::Key << "idle_timeout_ms" << YAML::Value << l.idle_timeout.count();
  out << YAML::Key << "header_timeout_ms" << YAML::Value << l.header_timeout.count();
  out << YAML::Key << "connections_per_shard" << YAML::Value << l.max_connections_per_shard;
  out << YAML::Key << "output_bytes" << YAML::Value << l.max_output_bytes;
  out << YAML::Key << "body_bytes" << YAML::Value << l.max_body_bytes;
  out << YAML::EndMap;
}

}  // namespace sluice::net
