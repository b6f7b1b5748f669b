// Proxy mode's compiled config (DESIGN.md "Proxy mode"): the upstreams with their servers as
// socket addresses, and the routes that pick one for a request. Built once per config (start,
// reload) on the control thread; immutable after, shared read-only by every shard.
//
// A shard never keeps a pointer into a plan across loop passes: an exchange copies what it
// needs (the server address, its timeouts) when it starts, so a reload can retire the old plan
// while requests forwarded under it finish on the connections they were given.
#ifndef SLUICE_NET_PROXY_PLAN_H_
#define SLUICE_NET_PROXY_PLAN_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"

namespace sluice::net {

struct UpstreamServer {
  sockaddr_storage address{};
  socklen_t address_len = 0;
  std::string text;  // "127.0.0.1:9000", "[::1]:9001": the metrics label
};

struct PlanUpstream {
  UpstreamConfig config;
  std::vector<UpstreamServer> servers;
};

struct PlanRoute {
  RouteMatch match;
  std::uint32_t upstream = 0;  // index into ProxyPlan::upstreams
  bool websocket = false;
};

class ProxyPlan {
 public:
  // nullptr when `config` has no routes (decision mode). Fails only on a server address that
  // does not convert (the config parser already validated them).
  static absl::StatusOr<std::unique_ptr<ProxyPlan>> Build(const ServerConfig& config);

  // The first route whose match holds for `request`, or -1 (answer 404). No allocation.
  [[nodiscard]] int Match(const HttpRequest& request) const noexcept;

  [[nodiscard]] const std::vector<PlanUpstream>& upstreams() const noexcept { return upstreams_; }
  [[nodiscard]] const std::vector<PlanRoute>& routes() const noexcept { return routes_; }
  [[nodiscard]] const ProxyConfig& proxy() const noexcept { return proxy_; }
  [[nodiscard]] std::uint64_t max_body_bytes() const noexcept { return max_body_bytes_; }
  // Servers over all upstreams (a shard sizes its per-server state by it).
  [[nodiscard]] std::size_t server_count() const noexcept { return server_count_; }
  // Idle connections a shard may keep over all servers (sum of idle_per_shard x servers).
  [[nodiscard]] std::size_t max_idle() const noexcept { return max_idle_; }

 private:
  std::vector<PlanUpstream> upstreams_;
  std::vector<PlanRoute> routes_;
  ProxyConfig proxy_;
  std::uint64_t max_body_bytes_ = 0;
  std::size_t server_count_ = 0;
  std::size_t max_idle_ = 0;
  bool any_host_ = false;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_PLAN_H_
