// libFuzzer target: ParseConfig on arbitrary YAML text. Errors are expected; crashes, hangs,
// leaks and uncaught exceptions (yaml-cpp throws on bad YAML) are not. An accepted config must
// also survive ToYaml() and parse back to an equal config (GET /config relies on that).
//
// yaml-cpp 0.7's LoadAll() loop on a stray leading ',' (issue 1040) is caught by ParseConfig()
// itself (net/config/src/yaml_guard.h), so every input goes through: a hang is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "sluice/net/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto config = sluice::net::ParseConfig(text, "fuzz.yaml");
  if (!config.ok()) {
    if (config.status().message().empty()) {
      std::fprintf(stderr, "config_fuzz: an error without a message\n");
      std::abort();
    }
    return 0;
  }
  const std::string yaml = sluice::net::ToYaml(*config);
  const auto again = sluice::net::ParseConfig(yaml, config->source);
  if (!again.ok()) {
    std::fprintf(stderr, "config_fuzz: ToYaml() output refused: %s\n%s\n",
                 std::string(again.status().message()).c_str(), yaml.c_str());
    std::abort();
  }
  sluice::net::ServerConfig expected = *config;
  sluice::net::ServerConfig actual = *again;
  // Lines of definition differ between the two texts; everything else must round-trip.
  for (auto& p : expected.policies) p.line = 0;
  for (auto& p : actual.policies) p.line = 0;
  if (!(expected == actual)) {
    std::fprintf(stderr, "config_fuzz: ToYaml() does not round-trip:\n%s\n", yaml.c_str());
    std::abort();
  }
  (void)sluice::net::Summary(*config);
  return 0;
}
