// The sluiced command line: --help is complete (every flag the binary defines, the signals, the
// config reference) and exits 0.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>

namespace sluice::e2e {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

Outcome Sluiced(const std::string& args) {
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
  const Outcome full = Sluiced("--helpfull");
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
    const Outcome help = Sluiced(args);
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
  const Outcome help = Sluiced("--listen 127.0.0.1:1 --help --threads nonsense");
  EXPECT_EQ(help.exit_code, 0) << help.out;
  EXPECT_EQ(help.out.find("listening on"), std::string::npos) << help.out;
}

TEST(E2eCliTest, BadFlagsExitNonZero) {
  EXPECT_EQ(Sluiced("--threads 0").exit_code, 2);
  EXPECT_EQ(Sluiced("stray").exit_code, 2);
  EXPECT_EQ(Sluiced("--rate 1/s").exit_code, 2);  // --burst and --key missing
  EXPECT_NE(Sluiced("--no-such-flag").exit_code, 0);
  EXPECT_EQ(Sluiced("--check-config /nonexistent/sluiced.yaml").exit_code, 1);
}

}  // namespace
}  // namespace sluice::e2e
