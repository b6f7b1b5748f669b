// Server internals shared by server.cc (lifecycle, reload), metrics_text.cc and admin.cc.
#ifndef SLUICE_NET_SRC_SERVER_IMPL_H_
#define SLUICE_NET_SRC_SERVER_IMPL_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "decision_log.h"
#include "runtime.h"
#include "shard.h"
#include "sluice/net/server/server.h"

namespace sluice::net {

// Per-policy totals of retired runtimes, so counters survive reloads.
struct PolicyTotals {
  std::uint64_t admitted = 0;
  std::uint64_t denied = 0;
  std::uint64_t shadow_denied = 0;
  std::uint64_t missing_key = 0;
  std::uint64_t refunded = 0;
};

// Per-upstream totals (proxy mode), summed over shards and over retired runtimes by name.
struct UpstreamTotals {
  std::uint64_t answers[5] = {};
  std::uint64_t errors[kUpstreamCauses] = {};
  std::uint64_t aborted = 0;
  std::uint64_t retries = 0;
  std::uint64_t ejections = 0;
  std::uint64_t opened = 0;
  std::uint64_t reused = 0;
  std::uint64_t latency[kLatencyBuckets + 1] = {};
  std::uint64_t latency_sum_ns = 0;
  void Add(const UpstreamMetrics& m) noexcept;
};

class Server::Impl {
 public:
  ~Impl();
  absl::Status Start(ServerConfig config, std::string config_path, CliOverrides overrides);
  absl::Status Reload(ServerConfig config);
  absl::Status ReloadFromFile();
  void Stop();
  std::string MetricsText() const;
  std::string ConfigYaml() const;
  void UpstreamMetricsText(std::string& out) const;  // with control_mu_ held

  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;
  std::vector<std::unique_ptr<Shard>> shards;

 private:
  void RetireUnused();  // with control_mu_ held
  void AdminLoop();
  std::string AnswerAdmin(std::string_view method, std::string_view path) const;

  std::string config_path_;
  CliOverrides overrides_;  // re-applied over the file at every reload
  std::unique_ptr<DecisionLog> log_;
  // The control plane (reloads, admin requests) takes this lock; the data plane never does.
  mutable std::mutex control_mu_;
  std::vector<std::unique_ptr<Runtime>> runtimes_;  // back(): current; the rest retiring
  std::map<std::string, PolicyTotals> retired_totals_;
  std::map<std::string, UpstreamTotals> retired_upstreams_;
  std::uint64_t reloads_ok_ = 0;
  std::uint64_t reloads_failed_ = 0;
  int admin_fd_ = -1;
  std::atomic<bool> admin_stop_{false};
  std::thread admin_thread_;
  bool stopped_ = false;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_SERVER_IMPL_H_
