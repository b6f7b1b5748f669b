// One config in force: what every request is judged by. Immutable after Build() except for
// its counters. Shards receive a new Runtime on reload through their inbox and acknowledge
// the generation they run; the server frees a Runtime once every shard has moved past it.
#ifndef SLUICE_NET_SRC_RUNTIME_H_
#define SLUICE_NET_SRC_RUNTIME_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "metrics.h"
#include "sluice/net/config/config.h"
#include "sluice/net/policy/policy_set.h"
#include "sluice/net/policy/response.h"
#include "sluice/net/proxy/plan.h"

namespace sluice::net {

struct Runtime {
  ServerConfig config;
  std::unique_ptr<PolicySet> policies;
  std::unique_ptr<ResponseTemplates> responses;
  std::unique_ptr<ProxyPlan> proxy;  // proxy mode (routes); nullptr: the decision service
  std::uint64_t generation = 0;
  std::size_t shards = 0;
  // [shard * policies->size() + policy]
  std::unique_ptr<PolicyMetrics[]> policy_metrics;

  PolicyMetrics& metrics(std::size_t shard, std::size_t policy) const noexcept {
    return policy_metrics[shard * policies->size() + policy];
  }
  // [shard * upstream_count + upstream] (proxy mode only; upstream_count 0 otherwise)
  std::size_t upstream_count = 0;
  std::unique_ptr<UpstreamMetrics[]> upstream_metrics;
  UpstreamMetrics& upstream(std::size_t shard, std::size_t u) const noexcept {
    return upstream_metrics[shard * upstream_count + u];
  }

  // First config: a new table.
  static absl::StatusOr<std::unique_ptr<Runtime>> Build(ServerConfig config, std::size_t shards,
                                                        std::uint64_t generation);
  // A reload over the same table as `previous`.
  static absl::StatusOr<std::unique_ptr<Runtime>> Rebuild(const Runtime& previous,
                                                          ServerConfig config);
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_RUNTIME_H_
