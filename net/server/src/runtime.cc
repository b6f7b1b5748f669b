#include "runtime.h"

#include <utility>

namespace sluice::net {
namespace {

absl::StatusOr<std::unique_ptr<Runtime>> Assemble(ServerConfig config,
                                                  std::unique_ptr<PolicySet> policies,
                                                  std::size_t shards, std::uint64_t generation) {
  auto proxy = ProxyPlan::Build(config);
  if (!proxy.ok()) return proxy.status();
  auto r = std::make_unique<Runtime>();
  r->proxy = *std::move(proxy);
  r->responses = std::make_unique<ResponseTemplates>(config);
  r->config = std::move(config);
  r->policies = std::move(policies);
  r->generation = generation;
  r->shards = shards;
  r->policy_metrics = std::make_unique<PolicyMetrics[]>(shards * r->policies->size());
  r->upstream_count = r->proxy ? r->proxy->upstreams().size() : 0;
  r->upstream_metrics = std::make_unique<UpstreamMetrics[]>(shards * r->upstream_count);
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Build(ServerConfig config, std::size_t shards,
                                                        std::uint64_t generation) {
  auto policies = PolicySet::Build(config);
  if (!policies.ok()) return policies.status();
  return Assemble(std::move(config), *std::move(policies), shards, generation);
}

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Rebuild(const Runtime& previous,
                                                          ServerConfig config) {
  auto policies = previous.policies->Rebuild(config);
  if (!policies.ok()) return policies.status();
  return Assemble(std::move(config), *std::move(policies), previous.shards,
                  previous.generation + 1);
}

}  // namespace sluice::net
