#include "sluice/policy.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

// FNV-1a over the fields that define a policy. Not keyed: the space id is mixed with the
// table's secret seed by KeyHasher, so it only needs to tell policies apart.
std::uint64_t SpaceOf(const PolicyConfig& c) {
  std::uint64_t h = 0xcbf29ce484222325;
  const auto mix_byte = [&h](unsigned char b) {
    h ^= b;
    h *= 0x100000001b3;
  };
  const auto mix_word = [&mix_byte](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) mix_byte(static_cast<unsigned char>(v >> (8 * i)));
  };
  if (!c.key_space.empty()) {
    // A shared key space: burst left out; the terminator 1 (a name's is 0) keeps it apart
    // from every name-rate-burst space.
    for (const char ch : c.key_space) mix_byte(static_cast<unsigned char>(ch));
    mix_byte(1);
    mix_word(c.rate.count);
    mix_word(static_cast<std::uint64_t>(c.rate.period.count()));
    return h;
  }
  for (const char ch : c.name) mix_byte(static_cast<unsigned char>(ch));
  mix_byte(0);
  for (const std::uint64_t v :
       {c.rate.count, static_cast<std::uint64_t>(c.rate.period.count()), c.burst}) {
    mix_word(v);
  }
  return h;
}

}  // namespace

absl::StatusOr<Policy> Policy::Make(PolicyConfig config) {
  if (config.name.empty()) return absl::InvalidArgumentError("policy: name must not be empty");
  auto params = GcraParams::Make(config.rate, config.burst);
  if (!params.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy '", config.name, "': ", params.status().message()));
  }
  const std::uint64_t space = SpaceOf(config);
  return Policy(std::move(config), *params, space);
}

}  // namespace sluice
