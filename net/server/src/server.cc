// sluiced as a library (server.h): start, reload, stop. This comment is the map of net/server/.
//
// The request path, in the order a byte goes through it:
//   1. ring_loop.cc  Shard::Loop::Run(): one io_uring_submit_and_wait per loop pass. A
//      multishot receive fills a buffer of the provided-buffer ring; its completion names
//      the connection slot and generation (a stale one is dropped).
//   2. ring_loop.cc  OnRecv() hands the bytes to Pipeline::Receive(), then gives the buffer
//      back to the ring at the end of the pass. The ring never looks inside the bytes.
//   3. pipeline.cc   Receive()/Drive(): the head is parsed in place from the ring's buffer
//      (ParseRequestHead, sluice::http); only an unfinished tail is copied into the
//      connection's input buffer. A body is framed (BodyFramer) and discarded.
//   4. pipeline.cc   Answer(): the policies decide (PolicySet::Evaluate, sluice::policy, one
//      CAS per policy in the engine's table), counters and the decision log are updated.
//   5. pipeline.cc   the answer is written into the connection's output buffer
//      (ResponseTemplates::WriteDecision) and Effects{send} goes back to the ring; a full
//      output stops reading (Effects{stop_reading}) until the client has read its answers.
//   6. ring_loop.cc  Apply() queues the connection; FlushSends() at the end of the pass
//      sends everything answered this pass in one send per connection, submitted with the
//      next pass's single syscall. OnSend() reports progress to Pipeline::Sent().
//   7. ring_close.cc a final answer (error, Connection: close) half-closes and lingers;
//      close is cancel-then-close through the ring; Sweep() applies the timeouts.
// The pipeline knows no socket and the ring knows no HTTP: between them are Stream (one
// connection's HTTP state, in its slot) and Effects (what the ring must do next).
//
// Proxy mode (issue 12) plugs in at step 4: with routes, the Loop is the pipeline's Forwarder.
// An admitted request goes to Forward() (ring_forward.cc): route (ProxyPlan, sluice::proxy),
// server (Balancer), connection (the server's IdlePool, or a new socket connected through
// IORING_OP_CONNECT with a LINK_TIMEOUT, ring_upstream.cc), the canonical head
// (WriteForwardedHead) into that connection's output. The stream then relays the request's
// body to Body() (BodyRelay) and parses no further head, so answers stay in request order; the
// upstream's answer is relayed (AnswerRelay) into the client's output as its receives complete
// (Pipeline::AnswerRoom / AnswerWritten / FinishAnswer). Upstream connections live in their
// own slot table with generations (upstream_conn.h) and their own Op values in Handle().
//
// Around the path: shard.cc (the shard thread, its inbox of Runtimes), runtime.cc (one config
// in force), listener.cc, admin.cc (GET /metrics, /healthz, /config), metrics_text.cc,
// decision_log.cc (a writer thread fed by per-shard queues).
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "listener.h"
#include "ring_loop.h"
#include "server_impl.h"

namespace sluice::net {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerConfig config, std::string config_path,
                                                      CliOverrides overrides) {
  auto impl = std::make_unique<Impl>();
  absl::Status s = impl->Start(std::move(config), std::move(config_path), std::move(overrides));
  if (!s.ok()) return s;  // ~Impl stops whatever had started
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }
std::uint16_t Server::port() const noexcept { return impl_->port; }
std::uint16_t Server::admin_port() const noexcept { return impl_->admin_port; }
std::size_t Server::shards() const noexcept { return impl_->shards.size(); }
absl::Status Server::ReloadFromFile() { return impl_->ReloadFromFile(); }
absl::Status Server::Reload(ServerConfig config) { return impl_->Reload(std::move(config)); }
void Server::Stop() { impl_->Stop(); }
std::string Server::MetricsText() const { return impl_->MetricsText(); }
std::string Server::ConfigYaml() const { return impl_->ConfigYaml(); }

std::string Server::RingSummary() const {
  std::string out;
  for (std::size_t i = 0; i < impl_->shards.size(); ++i) {
    const RingFeatures f = impl_->shards[i]->features();
    absl::StrAppend(&out, "shard ", i, ": io_uring", f.single_issuer ? " SINGLE_ISSUER" : "",
                    f.defer_taskrun ? " DEFER_TASKRUN" : "", f.coop_taskrun ? " COOP_TASKRUN" : "",
                    ", multishot accept and recv, provided buffer ring\n");
  }
  return out;
}

Server::Impl::~Impl() { Stop(); }

absl::Status Server::Impl::Start(ServerConfig config, std::string config_path,
                                 CliOverrides overrides) {
  config_path_ = std::move(config_path);
  overrides_ = std::move(overrides);
  // The CPUs this process may run on (taskset, cgroup cpusets): shards are pinned among
  // those, and "auto" means one shard per such CPU.
  std::vector<int> cpus;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
    }
  }
  std::size_t threads = config.threads;
  if (threads == 0) threads = std::max<std::size_t>(1, cpus.size());
  if (!config.log.denials_path.empty()) {
    auto log = DecisionLog::Open(config.log.denials_path, threads);
    if (!log.ok()) return log.status();
    log_ = *std::move(log);
  }
  auto runtime = Runtime::Build(config, threads, 1);
  if (!runtime.ok()) return runtime.status();
  runtimes_.push_back(*std::move(runtime));

  auto admin = Listen(config.admin, /*reuse_port=*/false, 64);
  if (!admin.ok()) return admin.status();
  admin_fd_ = *admin;
  admin_port = *BoundPort(admin_fd_);

  ListenAddress data = config.listen;
  for (std::size_t i = 0; i < threads; ++i) {
    auto fd = Listen(data, /*reuse_port=*/true, /*backlog=*/4096, kSocketReceiveBuffer);
    if (!fd.ok()) return fd.status();
    if (i == 0) {
      port = *BoundPort(*fd);
      data.port = port;  // the other shards join the port the first one got
    }
    Shard::Options options;
    options.index = i;
    options.cpu = cpus.empty() ? -1 : cpus[i % cpus.size()];
    options.listen_fd = *fd;
    options.runtime = runtimes_.back().get();
    options.log = log_.get();
    auto shard = std::make_unique<Shard>(options);
    absl::Status s = shard->Start();
    if (!s.ok()) {
      ::close(*fd);
      return absl::UnavailableError(absl::StrCat("shard ", i, ": ", s.message()));
    }
    shards.push_back(std::move(shard));
  }
  admin_thread_ = std::thread([this] { AdminLoop(); });
  return absl::OkStatus();
}

absl::Status Server::Impl::ReloadFromFile() {
  if (config_path_.empty()) {
    std::lock_guard<std::mutex> lock(control_mu_);
    ++reloads_failed_;
    return absl::FailedPreconditionError("no config file to reload (started without --config)");
  }
  auto config = LoadConfigFile(config_path_);
  if (config.ok()) {
    // The command line wins over the file now as at start: without this, a --listen or
    // --threads differing from the file made every reload "change" it and be refused.
    if (absl::Status s = ApplyOverrides(overrides_, *config); !s.ok()) config = s;
  }
  if (!config.ok()) {
    std::lock_guard<std::mutex> lock(control_mu_);
    ++reloads_failed_;
    return config.status();
  }
  return Reload(*std::move(config));
}

absl::Status Server::Impl::Reload(ServerConfig config) {
  std::lock_guard<std::mutex> lock(control_mu_);
  if (stopped_) return absl::FailedPreconditionError("reload: the server is stopping");
  const Runtime& current = *runtimes_.back();
  // What the running process cannot change in place: refuse rather than half-apply.
  const auto fixed = [&](bool same, std::string_view what) -> absl::Status {
    if (same) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("reload: ", std::string(what), " cannot change without a restart"));
  };
  const ServerConfig& was = current.config;
  for (const absl::Status& s :
       {fixed(config.listen == was.listen, "listen"), fixed(config.admin == was.admin, "admin"),
        fixed(config.threads == was.threads, "threads"),
        fixed(config.table_capacity == was.table_capacity && config.when_full == was.when_full,
              "table"),
        fixed(config.log.denials_path == was.log.denials_path, "log.denials"),
        fixed(config.limits.http.max_header_bytes == was.limits.http.max_header_bytes &&
                  config.limits.max_output_bytes == was.limits.max_output_bytes &&
                  config.limits.max_connections_per_shard == was.limits.max_connections_per_shard,
              "limits.header_bytes/output_bytes/connections_per_shard")}) {
    if (!s.ok()) {
      ++reloads_failed_;
      return s;
    }
  }
  auto next = Runtime::Rebuild(current, std::move(config));
  if (!next.ok()) {
    ++reloads_failed_;
    return next.status();
  }
  runtimes_.push_back(*std::move(next));
  const Runtime* published = runtimes_.back().get();
  for (auto& shard : shards) {
    while (!shard->stopped() && !shard->Deliver(published)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (log_) log_->RequestReopen();
  ++reloads_ok_;
  // Shards switch at their next loop pass (they were woken): wait briefly to reclaim now.
  for (int i = 0; i < 200; ++i) {
    bool all = true;
    for (auto& shard : shards) {
      all = all && (shard->stopped() || shard->generation() >= published->generation);
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  RetireUnused();
  return absl::OkStatus();
}

void Server::Impl::RetireUnused() {
  std::uint64_t oldest_in_use = runtimes_.back()->generation;
  for (auto& shard : shards) {
    if (!shard->stopped()) oldest_in_use = std::min(oldest_in_use, shard->generation());
  }
  auto it = runtimes_.begin();
  while (it + 1 != runtimes_.end() && (*it)->generation < oldest_in_use) {
    // No shard reads it any more (their acquire/release generation handshake): fold its
    // counters into the totals and free it.
    const Runtime& r = **it;
    for (std::size_t p = 0; p < r.policies->size(); ++p) {
      PolicyTotals& t = retired_totals_[r.policies->policy(p).name];
      for (std::size_t s = 0; s < r.shards; ++s) {
        const PolicyMetrics& m = r.metrics(s, p);
        t.admitted += m.admitted.Get();
        t.denied += m.denied.Get();
        t.shadow_denied += m.shadow_denied.Get();
        t.missing_key += m.missing_key.Get();
        t.refunded += m.refunded.Get();
      }
    }
    for (std::size_t u = 0; u < r.upstream_count; ++u) {
      UpstreamTotals& t = retired_upstreams_[r.proxy->upstreams()[u].config.name];
      for (std::size_t s = 0; s < r.shards; ++s) t.Add(r.upstream(s, u));
    }
    it = runtimes_.erase(it);
  }
}

void Server::Impl::Stop() {
  {
    std::lock_guard<std::mutex> lock(control_mu_);  // no reload runs past this point
    if (stopped_) return;
    stopped_ = true;
  }
  for (auto& shard : shards) shard->RequestStop();
  for (auto& shard : shards) shard->Join();
  admin_stop_.store(true, std::memory_order_relaxed);
  if (admin_thread_.joinable()) admin_thread_.join();
  if (admin_fd_ >= 0) ::close(admin_fd_);
  admin_fd_ = -1;
  if (log_) log_->Stop();
}

std::string Server::Impl::ConfigYaml() const {
  std::lock_guard<std::mutex> lock(control_mu_);
  return ToYaml(runtimes_.back()->config);
}

}  // namespace sluice::net
