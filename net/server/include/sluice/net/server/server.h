// sluiced as a library: shards, admin listener, reloads and a graceful stop. tools/sluiced is a
// thin main() over this; tests run it in-process or as the real binary.
#ifndef SLUICE_NET_SERVER_H_
#define SLUICE_NET_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/net/config/config.h"

namespace sluice::net {

class Server {
 public:
  // Builds the policies and table, binds the listeners (port 0: any free port), starts one
  // shard per thread and the admin listener. `config_path` (may be empty) is what a reload
  // reads; `overrides` (the command line's) are applied over every reloaded file as they were
  // over the first, so a flag keeps its effect across SIGHUP. Nothing is left running when
  // this fails.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerConfig config, std::string config_path,
                                                       CliOverrides overrides = {});
  ~Server();  // Stop()

  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::uint16_t admin_port() const noexcept;
  [[nodiscard]] std::size_t shards() const noexcept;
  // Human lines: the io_uring features each shard got.
  [[nodiscard]] std::string RingSummary() const;

  // Re-reads the config file (SIGHUP). On any error the running config stays and the error is
  // returned (and counted). Connections stay up; unchanged policies keep their state.
  absl::Status ReloadFromFile();
  absl::Status Reload(ServerConfig config);

  // Stop accepting, answer requests already received, close, join (SIGTERM). Idempotent.
  void Stop();

  // Prometheus text exposition of every counter (GET /metrics).
  std::string MetricsText() const;
  // The effective config as YAML (GET /config).
  std::string ConfigYaml() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SERVER_H_
