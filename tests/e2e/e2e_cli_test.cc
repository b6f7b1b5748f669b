// The sluiced command line: --help is complete (every flag the binary defines, the signals, the
// config reference) and exits 0; flags keep their effect across a reload.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>

#include "harness.h"

namespace sluice::e2e {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

Outcome RunSluiced(const std::string& args) {
  Outcome r;
  const std::string command = std::string(SLUICED_PATH) + " " + args + " 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The flags defined in tools/sluiced/main.cc, from abseil's --helpfull listing
// ("  Flags from .../tools/sluiced/main.cc:" then "    --name (help); default: ...;").
std::set<std::string> DefinedFlags() {
  const Outcome full = RunSluiced("--helpfull");
  std::set<std::string> flags;
  std::istringstream lines(full.out);
  std::string line;
  bool ours = false;
  while (std::getline(lines, line)) {
    if (line.find("Flags from ") != std::string::npos) {
      ours = line.find("tools/sluiced/main.cc") != std::string::npos;
      continue;
    }
    if (!ours || line.rfind("    --", 0) != 0) continue;
    const std::size_t end = line.find(' ', 6);
    flags.insert(line.substr(6, end - 6));
  }
  return flags;
}

TEST(E2eCliTest, HelpNamesEveryFlagAndExitsZero) {
  const std::set<std::string> flags = DefinedFlags();
  ASSERT_GE(flags.size(), 8u) << "could not read the flag list from --helpfull";
  for (const char* args : {"--help", "-h"}) {
    const Outcome help = RunSluiced(args);
    EXPECT_EQ(help.exit_code, 0) << args << "\n" << help.out;
    for (std::string flag : flags) {
      for (char& c : flag) c = c == '_' ? '-' : c;  // --check_config is spelled --check-config
      EXPECT_NE(help.out.find("--" + flag + " "), std::string::npos)
          << "--help does not describe --" << flag << "\n"
          << help.out;
    }
    for (const char* needle : {"docs/config.md", "SIGHUP", "SIGTERM", "SIGINT", "Default",
                               "127.0.0.1:8080", "127.0.0.1:9901", "per-ip"}) {
      EXPECT_NE(help.out.find(needle), std::string::npos) << needle << "\n" << help.out;
    }
    // Readable: not abseil's per-library dump of its own flags.
    EXPECT_EQ(help.out.find("--flagfile"), std::string::npos) << help.out;
    EXPECT_EQ(help.out.find("Flags from "), std::string::npos) << help.out;
  }
}

TEST(E2eCliTest, HelpWinsOverOtherFlagsAndStartsNothing) {
  const Outcome help = RunSluiced("--listen 127.0.0.1:1 --help --threads nonsense");
  EXPECT_EQ(help.exit_code, 0) << help.out;
  EXPECT_EQ(help.out.find("listening on"), std::string::npos) << help.out;
}

TEST(E2eCliTest, BadFlagsExitNonZero) {
  EXPECT_EQ(RunSluiced("--threads 0").exit_code, 2);
  EXPECT_EQ(RunSluiced("stray").exit_code, 2);
  EXPECT_EQ(RunSluiced("--rate 1/s").exit_code, 2);  // --burst and --key missing
  EXPECT_NE(RunSluiced("--no-such-flag").exit_code, 0);
  EXPECT_EQ(RunSluiced("--check-config /nonexistent/sluiced.yaml").exit_code, 1);
}

// A flag that differs from the file (here --threads) used to make every SIGHUP look like a
// change of threads, and be refused.
TEST(E2eCliTest, FlagsStillApplyAfterAReload) {
  using namespace std::chrono_literals;
  const auto config = [](int burst) {
    return "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 2\npolicies:\n"
           "  - {name: per-key, key: header:x-key, rate: 1/h, burst: " +
           std::to_string(burst) + "}\n";
  };
  Sluiced server(config(1), {"--threads", "1"});
  if (server.io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring";
  ASSERT_TRUE(server.ok()) << server.output();
  EXPECT_TRUE(server.Running());
  server.WriteConfig(config(7));
  server.Signal(SIGHUP);
  ASSERT_TRUE(PollUntil(
      [&] {
        auto r = Get(server.admin_port(), Request("/config"));
        return r.has_value() && r->body.find("burst: 7") != std::string::npos;
      },
      10s))
      << server.DrainOutput();
  auto r = Get(server.admin_port(), Request("/config"));
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->body.find("threads: 1"), std::string::npos) << r->body;
  const auto metrics = server.Metrics();
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(MetricSum(*metrics, "sluice_config_reloads_total{result=\"error\"}"), 0u);
}

}  // namespace
}  // namespace sluice::e2e
