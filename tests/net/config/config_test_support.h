// What the config tests share: DESIGN.md's example config, a one-policy config to splice
// settings into, and the error lines of a config that must not load.
#ifndef SLUICE_TESTS_NET_CONFIG_CONFIG_TEST_SUPPORT_H_
#define SLUICE_TESTS_NET_CONFIG_CONFIG_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sluice/net/config/config.h"

namespace sluice::net::testing_support {

// The example of DESIGN.md, verbatim.
inline constexpr std::string_view kDesignExample = R"(listen: 0.0.0.0:8080
admin: 127.0.0.1:9901
threads: auto
table: {capacity: 1048576, when_full: evict}
response: {deny_status: 429, legacy_headers: false}
policies:
  - name: per-ip
    key: ip                      # ip | ip/64 (IPv6 prefix) | header:NAME | path | method | a list of these
    rate: 100/s                  # N/s | N/m | N/h | N/d
    burst: 50
  - name: api-key
    match: {path_prefix: /api/, method: POST}
    key: [header:x-api-key]
    when_missing: skip           # skip | deny | ip
    rate: 1000/m
    burst: 100
    mode: enforce                # enforce | shadow (count, never deny)
)";

// The error lines of a config that must not load (each a "FILE:LINE: what" line), after
// checking that it does not, with InvalidArgument.
inline std::vector<std::string> Errors(std::string_view yaml) {
  auto config = ParseConfig(yaml, "t.yaml");
  EXPECT_FALSE(config.ok()) << "loaded:\n" << yaml;
  if (config.ok()) return {};
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(std::string(config.status().message()), '\n');
}

// A valid one-policy config with `extra` spliced in at the top level (line 1 onwards).
inline std::string WithPolicy(const std::string& extra) {
  return absl::StrCat(extra, "policies:\n  - {name: p, key: ip, rate: 1/s, burst: 1}\n");
}

}  // namespace sluice::net::testing_support

#endif  // SLUICE_TESTS_NET_CONFIG_CONFIG_TEST_SUPPORT_H_
