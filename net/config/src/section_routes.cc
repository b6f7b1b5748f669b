// `routes` (which upstream a request goes to: the first route whose match holds; none: 404)
// and `proxy` (what sluiced adds to what it forwards). With no routes sluiced is the decision
// service, and `upstreams` alone would do nothing: that is refused (config.cc).
#include <algorithm>

#include "sections.h"

namespace sluice::net {
namespace {

std::optional<RouteConfig> ParseRoute(ConfigReader& reader, const YAML::Node& node,
                                      std::size_t index, const ServerConfig& config) {
  auto fields =
      reader.Map(node, absl::StrCat("route #", index), {"match", "upstream", "websocket"});
  if (!fields) return std::nullopt;
  const std::size_t errors_before = reader.error_count();
  RouteConfig r;
  r.line = reader.Line(node);
  if (const YAML::Node* n = fields->Find("match")) {
    ParseMatch(reader, *n, fields->label(), r.match);
  }
  if (const YAML::Node* n = fields->Require("upstream", "the name of one of upstreams")) {
    if (auto name = reader.Scalar(*n, fields->What("upstream"))) {
      const bool known = std::any_of(config.upstreams.begin(), config.upstreams.end(),
                                     [&](const UpstreamConfig& u) { return u.name == *name; });
      if (!known) {
        reader.Fail(*n, absl::StrCat(fields->label(), ": upstream ", Quoted(*name),
                                     " is not defined in upstreams"));
      } else {
        r.upstream = *std::move(name);
      }
    }
  }
  fields->Bool("websocket", r.websocket);
  if (reader.error_count() != errors_before) return std::nullopt;
  return r;
}

}  // namespace

void ParseRoutes(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  if (!value.IsSequence()) {
    reader.Fail(value, "routes must be a list (each entry starting with '- upstream: ...')");
    return;
  }
  if (value.size() == 0) {
    reader.Fail(value, "routes: at least one route is needed (or leave routes out)");
    return;
  }
  if (value.size() > kMaxRoutes) {
    reader.Fail(value, absl::StrCat("routes: ", value.size(), " routes, at most ", kMaxRoutes,
                                    " are supported"));
    return;
  }
  std::size_t index = 0;
  int catch_all_line = 0;  // a route before which every later one is unreachable
  for (const YAML::Node& entry : value) {
    ++index;
    if (catch_all_line != 0) {
      reader.Fail(entry, absl::StrCat("route #", index, " is never used: the route at line ",
                                      catch_all_line, " matches every request"));
      continue;
    }
    if (auto route = ParseRoute(reader, entry, index, config)) {
      if (MatchesEverything(route->match)) catch_all_line = route->line;
      config.routes.push_back(*std::move(route));
    }
  }
}

void EmitRoutes(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::BeginSeq;
  for (const RouteConfig& r : config.routes) {
    out << YAML::BeginMap;
    if (!MatchesEverything(r.match)) {
      out << YAML::Key << "match" << YAML::Value;
      EmitMatch(out, r.match);
    }
    out << YAML::Key << "upstream" << YAML::Value << YAML::DoubleQuoted << r.upstream;
    out << YAML::Key << "websocket" << YAML::Value << r.websocket;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

bool HasRoutes(const ServerConfig& config) { return !config.routes.empty(); }

void ParseProxy(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  auto proxy = reader.Map(value, "proxy", {"x_forwarded_for", "x_real_ip", "ratelimit_headers"});
  if (!proxy) return;
  proxy->Enum("x_forwarded_for",
              {{"append", XForwardedFor::kAppend},
               {"replace", XForwardedFor::kReplace},
               {"off", XForwardedFor::kOff}},
              config.proxy.x_forwarded_for);
  proxy->Bool("x_real_ip", config.proxy.x_real_ip);
  proxy->Bool("ratelimit_headers", config.proxy.ratelimit_headers);
}

void EmitProxy(YAML::Emitter& out, const ServerConfig& config) {
  const ProxyConfig& p = config.proxy;
  out << YAML::BeginMap;
  out << YAML::Key << "x_forwarded_for" << YAML::Value
      << (p.x_forwarded_for == XForwardedFor::kAppend    ? "append"
          : p.x_forwarded_for == XForwardedFor::kReplace ? "replace"
                                                         : "off");
  out << YAML::Key << "x_real_ip" << YAML::Value << p.x_real_ip;
  out << YAML::Key << "ratelimit_headers" << YAML::Value << p.ratelimit_headers;
  out << YAML::EndMap;
}

bool HasProxy(const ServerConfig& config) {
  return !config.routes.empty() || !(config.proxy == ProxyConfig{});
}

}  // namespace sluice::net
