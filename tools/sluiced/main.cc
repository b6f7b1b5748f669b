// sluiced: the rate-limiting HTTP/1.1 edge server.
//   sluiced [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--threads N]
//           [--rate N/UNIT --burst B --key SPEC]
//   sluiced --check-config FILE
//   sluiced --help
// SIGHUP reloads the config file; SIGTERM or SIGINT stop gracefully (exit 0).
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "sluice/net/config/config.h"
#include "sluice/net/server/server.h"

// The help strings are abseil's (--helpfull); --help prints kHelp below, which says more.
ABSL_FLAG(std::string, config, "",
          "YAML config file (docs/config.md); empty: the embedded default config");
ABSL_FLAG(std::string, check_config, "",
          "(spelled --check-config) validate FILE, print each error with its line, exit 0 if "
          "valid, 1 if not; starts nothing");
ABSL_FLAG(std::optional<std::string>, listen, std::nullopt,
          "HOST:PORT of the data listener; overrides the config's listen");
ABSL_FLAG(std::optional<std::string>, admin, std::nullopt,
          "HOST:PORT of the admin listener (/metrics /healthz /config); overrides admin");
ABSL_FLAG(std::optional<std::string>, threads, std::nullopt,
          "shards: N (1..1024) or auto; overrides the config's threads");
ABSL_FLAG(std::optional<std::string>, rate, std::nullopt,
          "with --burst and --key: one policy 'cli' replaces the config's; N/s, N/m, N/h or N/d");
ABSL_FLAG(std::optional<std::uint64_t>, burst, std::nullopt,
          "with --rate and --key: requests a fresh key may make at once (at least 1)");
ABSL_FLAG(std::optional<std::string>, key, std::nullopt,
          "with --rate and --burst: ip, ip/64, header:NAME, path or method, or a "
          "comma-separated list of these");

namespace {

constexpr std::string_view kUsage =
    "sluiced: the sluice rate-limiting HTTP/1.1 server\n"
    "  sluiced [--config FILE] [--listen HOST:PORT] [--admin HOST:PORT] [--threads N|auto]\n"
    "          [--rate N/UNIT --burst B --key SPEC]\n"
    "  sluiced --check-config FILE\n"
    "  sluiced --help";

// --help: every flag with its meaning and default, the signals, where the config keys are.
// (abseil's own --help lists flags by source file and would exit 1; --helpfull is kept.)
constexpr std::string_view kHelp = R"(
Flags (a flag given overrides the config file; --flag=value and --flag value both work):
  --config FILE        The YAML config file. Default: none, which runs the embedded
                       default config: listen 127.0.0.1:8080, admin 127.0.0.1:9901,
                       threads auto, one policy "per-ip" (key ip, rate 10/s, burst 20).
  --check-config FILE  Validate FILE and exit: prints "FILE: ok" and a summary (exit 0),
                       or every error with its line (exit 1). Starts nothing; the other
                       flags are not applied. (--check_config is the same flag.)
  --listen HOST:PORT   Address of the data listener, replacing the config's `listen`.
                       HOST is an IP address (IPv6 in brackets: [::]:8080); port 0 picks
                       a free port. Default: the config's (127.0.0.1:8080 if unset).
  --admin HOST:PORT    Address of the admin listener (GET /metrics, /healthz, /config;
                       no authentication: keep it on loopback or a management network),
                       replacing the config's `admin`. Default: the config's
                       (127.0.0.1:9901 if unset).
  --threads N|auto     Shards: one pinned thread with its own io_uring and listener each,
                       1..1024, or auto (one per CPU this process may run on), replacing
                       the config's `threads`. Default: the config's (auto if unset).
  --rate N/UNIT        Rate of a single policy named "cli", UNIT s, m, h or d (100/s).
  --burst B            Burst of that policy: requests a fresh key may make at once, >= 1.
  --key SPEC           Key of that policy: ip, ip/64, header:NAME, path or method, or a
                       comma-separated list of these (ip,path).
                       --rate, --burst and --key go together, have no default, and
                       replace all of the config's policies (other settings stay).
  --help, -h           This text, exit 0. --helpfull: abseil's list of all flags.

Signals:
  SIGHUP               Reload the config file: policies, responses, forwarded headers,
                       timeouts and log sampling change in place; unchanged policies keep
                       their state. A file that is invalid, or that changes what needs a
                       restart (listen, admin, threads, table, log.denials,
                       limits.header_bytes/output_bytes/connections_per_shard), is
                       refused and the running config stays. The flags above apply
                       over the reloaded file as they did at start. Without --config
                       there is nothing to reload.
  SIGTERM, SIGINT      Stop accepting, answer what was received (up to 5 s), exit 0.

Exit status: 0 after SIGTERM/SIGINT or a valid --check-config; 1 an invalid config, a
server that could not start, an unknown flag or a value its type cannot hold (--burst abc);
2 a flag value sluiced rejects (--threads 0) or a stray argument.

Every config key, with its type, default, unit and reload behaviour: docs/config.md in
the sluice sources. Example: config/example.yaml.
)";

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
  absl::SetProgramUsageMessage(absl::string_view(kUsage.data(), kUsage.size()));
  std::vector<std::string> args(argv, argv + argc);
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") break;  // what follows is not a flag
    if (args[i] == "--help" || args[i] == "-help" || args[i] == "-h") {
      std::cout << kUsage << "\n" << kHelp << std::flush;
      return 0;
    }
  }
  // DESIGN.md spells it --check-config; abseil flag names cannot hold '-'.
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

  auto server = sluice::net::Server::Start(config, path, overrides);
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
