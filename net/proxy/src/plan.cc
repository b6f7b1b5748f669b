// The compiled proxy config (plan.h).
#include "sluice/net/proxy/plan.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sluice/net/http/host.h"
#include "sluice/net/http/http_target.h"

namespace sluice::net {
namespace {

absl::StatusOr<UpstreamServer> ToServer(const ListenAddress& a) {
  UpstreamServer s;
  if (a.host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s.address);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    if (inet_pton(AF_INET6, a.host.c_str(), &in6->sin6_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad upstream address ", a.host));
    }
    s.address_len = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&s.address);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(a.port);
    if (inet_pton(AF_INET, a.host.c_str(), &in4->sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("bad upstream address ", a.host));
    }
    s.address_len = sizeof(sockaddr_in);
  }
  s.text = a.ToString();
  return s;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProxyPlan>> ProxyPlan::Build(const ServerConfig& config) {
  if (config.routes.empty()) return std::unique_ptr<ProxyPlan>();
  auto plan = std::unique_ptr<ProxyPlan>(new ProxyPlan());
  plan->proxy_ = config.proxy;
  plan->max_body_bytes_ = config.limits.max_body_bytes;
  for (const UpstreamConfig& u : config.upstreams) {
    PlanUpstream pu;
    pu.config = u;
    for (const ListenAddress& a : u.servers) {
      auto s = ToServer(a);
      if (!s.ok()) return s.status();
      pu.servers.push_back(*std::move(s));
    }
    plan->server_count_ += pu.servers.size();
    plan->max_idle_ += pu.servers.size() * u.pool.idle_per_shard;
    plan->upstreams_.push_back(std::move(pu));
  }
  for (const RouteConfig& r : config.routes) {
    PlanRoute pr;
    pr.match = r.match;
    pr.websocket = r.websocket;
    bool found = false;
    for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
      if (config.upstreams[i].name == r.upstream) {
        pr.upstream = static_cast<std::uint32_t>(i);
        found = true;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("route: upstream '", r.upstream, "' is not defined"));
    }
    plan->any_host_ = plan->any_host_ || !r.match.host.empty();
    plan->routes_.push_back(std::move(pr));
  }
  return plan;
}

int ProxyPlan::Match(const HttpRequest& request) const noexcept {
  const std::string_view host = any_host_ ? RequestHost(request) : std::string_view();
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const RouteMatch& m = routes_[i].match;
    if (!m.method.empty() && request.method != m.method) continue;
    if (!m.host.empty() && !HostIs(host, m.host)) continue;
    if (!m.path_prefix.empty() &&
        !PathStartsWith(request.path, m.path_prefix, m.case_insensitive)) {
      continue;
    }
    return static_cast<int>(i);
  }
  return -1;
}

}  // namespace sluice::net
