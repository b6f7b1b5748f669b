// `upstreams`: the servers proxy mode forwards to (DESIGN.md "Proxy mode"), each a name, its
// servers, how a shard spreads requests over them, its keep-alive pool, timeouts, retries and
// passive ejection.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "sections.h"

namespace sluice::net {
namespace {

constexpr std::uint64_t kDayMs = 86'400'000;
constexpr std::size_t kMaxNameBytes = 64;

// Upstream names appear in metric labels.
bool IsUpstreamName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

void ParseServers(ConfigReader& reader, const YAML::Node& node, const std::string& what,
                  std::vector<ListenAddress>& servers) {
  const std::vector<YAML::Node> items = ConfigReader::Items(node);
  if (node.IsSequence() && node.size() == 0) {
    reader.Fail(node, absl::StrCat(what, ": at least one server is needed (e.g. 127.0.0.1:9000)"));
    return;
  }
  if (items.size() > kMaxServersPerUpstream) {
    reader.Fail(
        node, absl::StrCat(what, ": ", items.size(), " servers, at most ", kMaxServersPerUpstream));
    return;
  }
  for (const YAML::Node& item : items) {
    auto server = reader.Parsed(item, what, ListenAddress::Parse);
    if (!server) continue;
    if (server->port == 0) {
      reader.Fail(item, absl::StrCat(what, ": ", Quoted(server->ToString()), " needs a port"));
      continue;
    }
    if (std::find(servers.begin(), servers.end(), *server) != servers.end()) {
      reader.Fail(item, absl::StrCat(what, ": ", Quoted(server->ToString()), " is listed twice"));
      continue;
    }
    servers.push_back(*std::move(server));
  }
}

std::optional<UpstreamConfig> ParseUpstream(ConfigReader& reader, const YAML::Node& node,
                                            std::size_t index,
                                            std::vector<std::pair<std::string, int>>& names) {
  auto fields = reader.Map(node, absl::StrCat("upstream #", index),
                           {"name", "servers", "balance", "pool", "timeouts", "retry", "eject"});
  if (!fields) return std::nullopt;
  const std::size_t errors_before = reader.error_count();
  UpstreamConfig u;
  u.line = reader.Line(node);
  if (const YAML::Node* n = fields->Require("name")) {
    if (auto name = reader.Scalar(*n, fields->What("name"))) {
      if (!IsUpstreamName(*name)) {
        reader.Fail(*n, absl::StrCat(fields->label(), ": name ", Quoted(*name), " must be 1 to ",
                                     kMaxNameBytes, " letters, digits or '-', '_', '.'"));
      } else {
        fields->set_label(absl::StrCat("upstream ", Quoted(*name)));
        const auto first = std::find_if(names.begin(), names.end(),
                                        [&](const auto& e) { return e.first == *name; });
        if (first != names.end()) {
          reader.Fail(*n, absl::StrCat(fields->label(), " is defined twice (first at line ",
                                       first->second, ")"));
        } else {
          names.emplace_back(*name, reader.Line(*n));
        }
        u.name = *std::move(name);
      }
    }
  }
  const std::string label = fields->label();
  if (const YAML::Node* n = fields->Require("servers", "e.g. servers: [127.0.0.1:9000]")) {
    ParseServers(reader, *n, fields->What("servers"), u.servers);
  }
  fields->Enum(
      "balance",
      {{"round_robin", Balance::kRoundRobin}, {"least_in_flight", Balance::kLeastInFlight}},
      u.balance);
  if (const YAML::Node* n = fields->Find("pool")) {
    if (auto pool = reader.Map(*n, absl::StrCat(label, " pool"),
                               {"idle_per_shard", "max_requests", "idle_timeout_ms"})) {
      pool->Unsigned("idle_per_shard", 0, 4096, u.pool.idle_per_shard);
      pool->Unsigned("max_requests", 1, 1'000'000'000, u.pool.max_requests);
      pool->Millis("idle_timeout_ms", 1, kDayMs, u.pool.idle_timeout);
    }
  }
  if (const YAML::Node* n = fields->Find("timeouts")) {
    if (auto timeouts = reader.Map(*n, absl::StrCat(label, " timeouts"),
                                   {"connect_ms", "response_header_ms", "idle_ms"})) {
      timeouts->Millis("connect_ms", 1, kDayMs, u.timeouts.connect);
      timeouts->Millis("response_header_ms", 1, kDayMs, u.timeouts.response_header);
      timeouts->Millis("idle_ms", 1, kDayMs, u.timeouts.idle);
    }
  }
  if (const YAML::Node* n = fields->Find("retry")) {
    if (auto retry = reader.Map(*n, absl::StrCat(label, " retry"), {"attempts"})) {
      retry->Unsigned("attempts", 0, 10, u.retry_attempts);
    }
  }
  if (const YAML::Node* n = fields->Find("eject")) {
    if (auto eject = reader.Map(*n, absl::StrCat(label, " eject"), {"failures", "for_ms"})) {
      eject->Unsigned("failures", 0, 1000, u.eject_failures);
      eject->Millis("for_ms", 1, kDayMs, u.eject_for);
    }
  }
  if (reader.error_count() != errors_before) return std::nullopt;
  return u;
}

}  // namespace

void ParseUpstreams(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  if (!value.IsSequence()) {
    reader.Fail(value, "upstreams must be a list (each entry starting with '- name: ...')");
    return;
  }
  if (value.size() == 0) {
    reader.Fail(value, "upstreams: at least one upstream is needed");
    return;
  }
  if (value.size() > kMaxUpstreams) {
    reader.Fail(value, absl::StrCat("upstreams: ", value.size(), " upstreams, at most ",
                                    kMaxUpstreams, " are supported"));
    return;
  }
  std::vector<std::pair<std::string, int>> names;
  std::size_t index = 0;
  for (const YAML::Node& entry : value) {
    ++index;
    if (auto upstream = ParseUpstream(reader, entry, index, names)) {
      config.upstreams.push_back(*std::move(upstream));
    }
  }
}

void EmitUpstreams(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::BeginSeq;
  for (const UpstreamConfig& u : config.upstreams) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << u.name;
    out << YAML::Key << "servers" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const ListenAddress& server : u.servers) out << YAML::DoubleQuoted << server.ToString();
    out << YAML::EndSeq;
    out << YAML::Key << "balance" << YAML::Value
        << (u.balance == Balance::kRoundRobin ? "round_robin" : "least_in_flight");
    out << YAML::Key << "pool" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "idle_per_shard" << YAML::Value << u.pool.idle_per_shard;
    out << YAML::Key << "max_requests" << YAML::Value << u.pool.max_requests;
    out << YAML::Key << "idle_timeout_ms" << YAML::Value << u.pool.idle_timeout.count();
    out << YAML::EndMap;
    out << YAML::Key << "timeouts" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "connect_ms" << YAML::Value << u.timeouts.connect.count();
    out << YAML::Key << "response_header_ms" << YAML::Value << u.timeouts.response_header.count();
    out << YAML::Key << "idle_ms" << YAML::Value << u.timeouts.idle.count();
    out << YAML::EndMap;
    out << YAML::Key << "retry" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "attempts" << YAML::Value << u.retry_attempts;
    out << YAML::EndMap;
    out << YAML::Key << "eject" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "failures" << YAML::Value << u.eject_failures;
    out << YAML::Key << "for_ms" << YAML::Value << u.eject_for.count();
    out << YAML::EndMap;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

bool HasUpstreams(const ServerConfig& config) { return !config.upstreams.empty(); }

}  // namespace sluice::net
