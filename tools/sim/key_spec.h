// The key of a replayed log line, spelled as sluiced's config spells a policy's `key`
// (docs/config.md): one part or a list of them, each `ip`, `ip/64` (an IPv6 client's /64
// prefix; an IPv4 client as it is), `header:NAME`, `path` or `method`. On the command line a
// list is written `ip,path` or `[ip, path]`. The parser accepts exactly the spellings
// net/'s KeyPart::Parse accepts (tests/tools/key_spec_test.cc compares both on a list of
// strings when the server is built), without depending on the server's libraries.
#ifndef SLUICE_TOOLS_SIM_KEY_SPEC_H_
#define SLUICE_TOOLS_SIM_KEY_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::sim {

enum class KeyPartKind : std::uint8_t { kIp, kIp64, kHeader, kPath, kMethod };

struct KeyPartSpec {
  KeyPartKind kind = KeyPartKind::kIp;
  std::string header;  // kHeader: the name, lower-cased

  // One part: "ip" | "ip/64" | "header:NAME" | "path" | "method".
  static absl::StatusOr<KeyPartSpec> Parse(std::string_view text);
  [[nodiscard]] std::string ToString() const;
  friend bool operator==(const KeyPartSpec&, const KeyPartSpec&) = default;
};

struct KeySpec {
  static constexpr std::size_t kMaxParts = 8;  // as sluiced's config
  std::vector<KeyPartSpec> parts;              // at least one

  // "ip", "ip,path", "[ip, path]" (spaces around parts are ignored).
  static absl::StatusOr<KeySpec> Parse(std::string_view text);
  [[nodiscard]] std::string ToString() const;
  [[nodiscard]] bool Needs(KeyPartKind kind) const;
};

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_KEY_SPEC_H_
