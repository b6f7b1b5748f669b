// A named GCRA policy: validated configuration plus the precomputed constants.
#ifndef SLUICE_POLICY_H_
#define SLUICE_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "sluice/gcra.h"
#include "sluice/rate.h"

namespace sluice {

struct PolicyConfig {
  std::string name;
  Rate rate;
  std::uint64_t burst = 1;
  // Empty (the default): the key space is a function of name, rate and burst. Otherwise a
  // function of this and the rate only, so policies of one key space and rate share every
  // key's state whatever their bursts, each applying its own burst at decision time (nginx's
  // limit_req: one zone, several `burst=` values). A burst change then keeps the state too.
  std::string key_space = {};
};

class Policy {
 public:
  // Errors name the policy and the bad field: empty name, zero burst, rate above 10^9/s,
  // burst * emission interval above 73 years.
  static absl::StatusOr<Policy> Make(PolicyConfig config);

  [[nodiscard]] const std::string& name() const noexcept { return config_.name; }
  [[nodiscard]] const Rate& rate() const noexcept { return config_.rate; }
  [[nodiscard]] std::uint64_t burst() const noexcept { return config_.burst; }
  [[nodiscard]] const GcraParams& params() const noexcept { return params_; }
  // The key space of this policy within a table: a stable function of name, rate and burst
  // (or of key_space and rate, when set), so a reload that keeps a policy unchanged keeps its
  // keys' state, and a changed policy starts afresh.
  [[nodiscard]] std::uint64_t space() const noexcept { return space_; }

 private:
  Policy(PolicyConfig config, GcraParams params, std::uint64_t space)
      : config_(std::move(config)), params_(params), space_(space) {}

  PolicyConfig config_;
  GcraParams params_;
  std::uint64_t space_;
};

}  // namespace sluice

#endif  // SLUICE_POLICY_H_
