// Summary(): the few human lines sluiced prints at startup and --check-config prints.
#include <algorithm>

#include "sections.h"

namespace sluice::net {
namespace {

std::string KeyToString(const std::vector<KeyPart>& key) {
  std::vector<std::string> parts;
  parts.reserve(key.size());
  for (const KeyPart& part : key) parts.push_back(part.ToString());
  return absl::StrJoin(parts, ",");
}

std::string ForwardedSummary(const ForwardedConfig& f) {
  std::vector<std::string> trusted;
  trusted.reserve(f.trusted.size());
  for (const IpPrefix& p : f.trusted) trusted.push_back(p.ToString());
  std::string s = absl::StrCat("from ", absl::StrJoin(trusted, " "), ":");
  if (!f.client_ip.empty()) absl::StrAppend(&s, " client ", f.client_ip, " hop ", f.hops);
  if (!f.uri.empty()) absl::StrAppend(&s, " uri ", f.uri);
  if (!f.method.empty()) absl::StrAppend(&s, " method ", f.method);
  return s;
}

// "[host ]METHOD /prefix*", "*" for any method.
std::string MatchSummary(const PolicyMatch& m) {
  return absl::StrCat(
      m.host.empty() ? "" : absl::StrCat(m.host, " "), m.method.empty() ? "*" : m.method, " ",
      m.path_prefix.empty() ? "/" : m.path_prefix, "*", m.case_insensitive ? " (any case)" : "");
}

}  // namespace

std::string Summary(const ServerConfig& config) {
  std::string s;
  absl::StrAppend(&s, "config ", config.source, "\n");
  absl::StrAppend(&s, "listen ", config.listen.ToString(), ", admin ", config.admin.ToString(),
                  ", threads ",
                  config.threads == 0 ? std::string("auto") : absl::StrCat(config.threads), "\n");
  absl::StrAppend(&s, "table ", config.table_capacity, " keys, when_full ",
                  Absl(ToString(config.when_full)), "; deny status ", config.deny_status,
                  config.legacy_headers ? ", legacy X-RateLimit headers" : "", "\n");
  if (config.forwarded) {
    absl::StrAppend(&s, "forwarded headers ", ForwardedSummary(*config.forwarded), "\n");
  }
  for (const ServerPolicy& p : config.policies) {
    absl::StrAppend(&s, "policy ", p.name, ": ", MatchSummary(p.match), ", key ",
                    KeyToString(p.key));
    const ForwardedConfig* fwd = p.forwarded_mode == ForwardedMode::kOwn   ? &p.forwarded
                                 : p.forwarded_mode == ForwardedMode::kOff ? nullptr
                                 : config.forwarded                        ? &*config.forwarded
                                                                           : nullptr;
    const bool forwarded_ip = fwd != nullptr && !fwd->client_ip.empty();
    const bool has_header = std::any_of(p.key.begin(), p.key.end(), [&](const KeyPart& k) {
      return k.kind == KeyPartKind::kHeader ||
             (forwarded_ip && (k.kind == KeyPartKind::kIp || k.kind == KeyPartKind::kIp64));
    });
    if (has_header) absl::StrAppend(&s, " (when missing: ", Absl(ToString(p.when_missing)), ")");
    absl::StrAppend(&s, ", ", p.rate.ToString(), " burst ", p.burst, ", ", Absl(ToString(p.mode)));
    if (p.forwarded_mode == ForwardedMode::kOff && config.forwarded) {
      absl::StrAppend(&s, ", forwarded headers off");
    } else if (p.forwarded_mode == ForwardedMode::kOwn) {
      absl::StrAppend(&s, ", forwarded headers ", ForwardedSummary(p.forwarded));
    }
    absl::StrAppend(&s, "\n");
  }
  for (const UpstreamConfig& u : config.upstreams) {
    std::vector<std::string> servers;
    servers.reserve(u.servers.size());
    for (const ListenAddress& a : u.servers) servers.push_back(a.ToString());
    absl::StrAppend(&s, "upstream ", u.name, ": ", absl::StrJoin(servers, " "), ", ",
                    u.balance == Balance::kRoundRobin ? "round_robin" : "least_in_flight",
                    ", pool ", u.pool.idle_per_shard, " idle per shard\n");
  }
  for (const RouteConfig& r : config.routes) {
    absl::StrAppend(&s, "route ", MatchSummary(r.match), " -> ", r.upstream,
                    r.websocket ? " (websocket)" : "", "\n");
  }
  if (!config.routes.empty()) {
    absl::StrAppend(&s,
                    "proxy mode: admitted requests go to the route's upstream (no route: 404)\n");
  }
  return s;
}

}  // namespace sluice::net
