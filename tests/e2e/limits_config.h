// The limits, decision-log and policy e2e suites' shared config: one server (1 shard by default)
// with a 65536-slot evicting table, and a per-key policy that never refills during a test.
#ifndef SLUICE_TESTS_E2E_LIMITS_CONFIG_H_
#define SLUICE_TESTS_E2E_LIMITS_CONFIG_H_

#include <cstdint>
#include <string>

#include "harness.h"

namespace sluice::e2e {

inline std::string Config(const std::string& policies, const std::string& extra = "",
                          int threads = 1, const std::string& listen = "127.0.0.1:0") {
  return "listen: \"" + listen + "\"\nadmin: 127.0.0.1:0\nthreads: " + std::to_string(threads) +
         "\ntable: {capacity: 65536, when_full: evict}\n" + extra + "policies:\n" + policies;
}

// A policy on header x-key (skipped without it) that never refills during a test.
inline std::string PerKey(const std::string& name, int burst, const std::string& extra = "") {
  return "  - name: " + name + "\n    key: header:x-key\n    when_missing: skip\n    rate: 1/h\n" +
         "    burst: " + std::to_string(burst) + "\n" + extra;
}

inline std::uint64_t Metric(const Sluiced& server, const std::string& series) {
  return server.Metric(series);
}

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_E2E_LIMITS_CONFIG_H_
