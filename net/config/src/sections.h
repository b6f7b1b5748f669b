// The sections of the config file, one file each (section_*.cc), and the table that lists
// them in file order (config.cc). A section reads its part of the YAML into ServerConfig with
// the field readers of reader.h and writes it back for ToYaml() (GET /config), so that what it
// writes reads back to an equal config. A new top-level key (upstreams, routes, redis) is a new
// section_*.cc and one row of the table.
#ifndef SLUICE_NET_CONFIG_SRC_SECTIONS_H_
#define SLUICE_NET_CONFIG_SRC_SECTIONS_H_

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reader.h"
#include "sluice/net/config/config.h"

namespace sluice::net {

// Bounds a config must respect so that a config that loads always runs.
inline constexpr std::uint64_t kMaxThreads = 1024;
inline constexpr std::size_t kMaxKeyParts = 8;

struct Section {
  std::string_view key;
  // Reads `value` (the key's value, maybe empty) into `config`; errors go to `reader`.
  void (*parse)(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
  // Writes the key's value (the emitter is just after the key).
  void (*emit)(YAML::Emitter& out, const ServerConfig& config);
  // Whether ToYaml() writes the key at all (nullptr: always).
  bool (*present)(const ServerConfig& config) = nullptr;
};

// section_server.cc: listen, admin, threads, log.
void ParseListen(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitListen(YAML::Emitter& out, const ServerConfig& config);
void ParseAdmin(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitAdmin(YAML::Emitter& out, const ServerConfig& config);
void ParseThreads(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitThreads(YAML::Emitter& out, const ServerConfig& config);
void ParseLog(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitLog(YAML::Emitter& out, const ServerConfig& config);

// section_table.cc: table, response.
void ParseTable(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitTable(YAML::Emitter& out, const ServerConfig& config);
void ParseResponse(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitResponse(YAML::Emitter& out, const ServerConfig& config);

// section_limits.cc: limits.
void ParseLimits(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitLimits(YAML::Emitter& out, const ServerConfig& config);

// section_forwarded.cc: the top-level forwarded, and the mapping a policy's forwarded shares.
void ParseForwardedSection(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitForwardedSection(YAML::Emitter& out, const ServerConfig& config);
bool HasForwardedSection(const ServerConfig& config);
// A `forwarded:` mapping whose messages start with `label`; false (reported) when invalid.
bool ParseForwarded(ConfigReader& reader, const YAML::Node& node, const std::string& label,
                    ForwardedConfig& out);
void EmitForwarded(YAML::Emitter& out, const ForwardedConfig& forwarded);

// section_policies.cc: policies.
void ParsePolicies(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitPolicies(YAML::Emitter& out, const ServerConfig& config);
// A `match:` mapping (host, path_prefix, method) of a policy or a route, whose messages start
// with "<label> match"; and its YAML, and whether it matches every request (written as none).
void ParseMatch(ConfigReader& reader, const YAML::Node& node, const std::string& label,
                PolicyMatch& match);
void EmitMatch(YAML::Emitter& out, const PolicyMatch& match);
bool MatchesEverything(const PolicyMatch& match);
std::string_view ToString(WhenMissing when_missing);
std::string_view ToString(PolicyMode mode);

// section_upstreams.cc: upstreams.
void ParseUpstreams(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitUpstreams(YAML::Emitter& out, const ServerConfig& config);
bool HasUpstreams(const ServerConfig& config);

// section_routes.cc: routes (after upstreams: a route names one), and proxy.
void ParseRoutes(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitRoutes(YAML::Emitter& out, const ServerConfig& config);
bool HasRoutes(const ServerConfig& config);
void ParseProxy(ConfigReader& reader, const YAML::Node& value, ServerConfig& config);
void EmitProxy(YAML::Emitter& out, const ServerConfig& config);
bool HasProxy(const ServerConfig& config);

}  // namespace sluice::net

#endif  // SLUICE_NET_CONFIG_SRC_SECTIONS_H_
