// --help for sluice-sim and sluice-load: the usage, then every flag the program defines with
// its meaning and default, read from abseil's flag registry so the text never lags the flags.
// (abseil's own --help lists only the flags defined in the file whose name matches the
// program's, and prints "No flags matched." for ours; --helpfull still lists all of abseil's.)
#ifndef SLUICE_TOOLS_HELP_H_
#define SLUICE_TOOLS_HELP_H_

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"

namespace sluice::tools {

// True (after printing the help to stdout) when argv asks for it: --help, -help or -h before
// any "--". The caller exits 0.
inline bool PrintHelpIfAsked(int argc, char** argv, std::string_view usage) {
  bool asked = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--help" || a == "-help" || a == "-h") asked = true;
  }
  if (!asked) return false;
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    // The program's own flags, not abseil's (--flagfile, --fromenv, ...).
    if (flag->Filename().find("absl/") == std::string::npos) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  std::printf("%.*s\n\nFlags:\n", static_cast<int>(usage.size()), usage.data());
  for (const absl::CommandLineFlag* flag : flags) {
    const std::string def = flag->DefaultValue();
    std::printf("  --%s (default: %s)\n      %s\n", std::string(flag->Name()).c_str(),
                def.empty() ? "\"\"" : def.c_str(), flag->Help().c_str());
  }
  std::printf(
      "  --help, -h\n      this text, exit 0 (--helpfull: abseil's list, with its own "
      "flags)\n");
  return true;
}

}  // namespace sluice::tools

#endif  // SLUICE_TOOLS_HELP_H_
