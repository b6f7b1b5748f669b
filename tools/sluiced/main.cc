// sluiced: the rate-limiting HTTP/1.1 edge server.
//   sluiced [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--threads N]
//           [--rate N/UNIT --burst B --key SPEC]
//   sluiced --check-config FILE
// SIGHUP reloads the config file; SIGTERM or SIGINT stop gracefully (exit 0).
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "sluice/net/config.h"
#include "sluice/net/server.h"

ABSL_FLAG(std::string, config, "", "YAML config file (default: the embedded default)");
ABSL_FLAG(std::string, check_config, "",
          "(--check-config) validate FILE, print each error with its line, exit");
ABSL_FLAG(std::optional<std::string>, listen, std::nullopt, "HOST:PORT to serve on");
ABSL_FLAG(std::optional<std::string>, admin, std::nullopt, "HOST:PORT of the admin listener");
ABSL_FLAG(std::optional<std::string>, threads, std::nullopt, "shards: N or auto");
ABSL_FLAG(std::optional<std::string>, rate, std::nullopt, "one policy's rate, N/s|m|h|d");
ABSL_FLAG(std::optional<std::uint64_t>, burst, std::nullopt, "one policy's burst");
ABSL_FLAG(std::optional<std::string>, key, std::nullopt,
          "one policy's key: ip, ip/64, header:NAME, path, method (comma-separated list)");

namespace {

int CheckConfig(const std::string& path) {
  auto config = sluice::net::LoadConfigFile(path);
  if (!config.ok()) {
    std::cerr << config.status().message() << "\n";
    return 1;
  }
  std::cout << path << ": ok\n" << sluice::net::Summary(*config);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "rate-limiting HTTP/1.1 edge server\n"
      "  sluiced [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--threads N]\n"
      "          [--rate N/UNIT --burst B --key SPEC]\n"
      "  sluiced --check-config FILE");
  // DESIGN.md spells it --check-config; abseil flag names cannot hold '-'.
  std::vector<std::string> args(argv, argv + argc);
  for (std::string& a : args) {
    if (a.rfind("--check-config", 0) == 0) a.replace(0, 14, "--check_config");
  }
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  const std::vector<char*> rest =
      absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (rest.size() > 1) {
    std::cerr << "sluiced: unexpected argument '" << rest[1] << "'\n";
    return 2;
  }
  if (const std::string path = absl::GetFlag(FLAGS_check_config); !path.empty()) {
    return CheckConfig(path);
  }

  const std::string path = absl::GetFlag(FLAGS_config);
  sluice::net::ServerConfig config = sluice::net::EmbeddedDefault();
  if (!path.empty()) {
    auto loaded = sluice::net::LoadConfigFile(path);
    if (!loaded.ok()) {
      std::cerr << loaded.status().message() << "\nsluiced: not started\n";
      return 1;
    }
    config = *std::move(loaded);
  }
  sluice::net::CliOverrides overrides;
  overrides.listen = absl::GetFlag(FLAGS_listen);
  overrides.admin = absl::GetFlag(FLAGS_admin);
  overrides.threads = absl::GetFlag(FLAGS_threads);
  overrides.rate = absl::GetFlag(FLAGS_rate);
  overrides.burst = absl::GetFlag(FLAGS_burst);
  overrides.key = absl::GetFlag(FLAGS_key);
  if (absl::Status s = sluice::net::ApplyOverrides(overrides, config); !s.ok()) {
    std::cerr << "sluiced: " << s.message() << "\n";
    return 2;
  }

  // Signals are taken synchronously by this thread only: block them before any thread starts
  // so every shard inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = sluice::net::Server::Start(config, path);
  if (!server.ok()) {
    std::cerr << "sluiced: " << server.status().message() << "\n";
    return 1;
  }
  std::cout << sluice::net::Summary(config) << (*server)->RingSummary() << "sluiced: listening on "
            << config.listen.host << ":" << (*server)->port() << " (" << (*server)->shards()
            << " shards)\n"
            << "sluiced: admin on " << config.admin.host << ":" << (*server)->admin_port()
            << " (/metrics /healthz /config)\n"
            << std::flush;

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      const absl::Status s = (*server)->ReloadFromFile();
      if (s.ok()) {
        std::cout << "sluiced: reloaded " << path << "\n" << std::flush;
      } else {
        std::cerr << "sluiced: reload rejected, the running config stays:\n"
                  << s.message() << "\n"
                  << std::flush;
      }
      continue;
    }
    std::cout << "sluiced: stopping (signal " << sig << ")\n" << std::flush;
    (*server)->Stop();
    std::cout << "sluiced: stopped\n" << std::flush;
    return 0;
  }
}
