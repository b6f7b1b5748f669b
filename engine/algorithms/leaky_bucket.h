// Leaky bucket as nginx's limit_req with `nodelay`: every admitted request adds one request of
// "excess" that leaks away at `rate`; a request that would take the excess above the burst is
// rejected (never delayed). Lock-free over a SlotTable, 16 bytes per key of capacity.
//
// Exact rule (nginx ngx_http_limit_req_module.c, in its units: excess in milli-requests, time
// in whole milliseconds, rate in milli-requests per second, integer division):
//   rate_m  = count * 1000 * 10^9 / period_ns                         (floor; must be >= 1)
//   now_ms  = now_ns / 10^6;  ms = max(0, now_ms - last_ms)           (a fresh key: excess 0)
//   leaked  = rate_m * ms / 1000
//   excess' = max(0, excess - leaked) + 1000 * n
//   reject iff excess' > 1000 * burst   (n > burst: never admissible, retry_after = kNever)
//   admitted: excess = excess', and last_ms = now_ms when ms > 0; rejected: nothing changes.
//   retry_after: to the first millisecond at which leaked >= excess - 1000*(burst - n).
//   remaining = floor((1000*burst - excess_after) / 1000); reset_after: until excess leaks to 0.
// `burst` is what a fresh key may make at once, as for gcra. nginx adds the 1000 before it
// clamps at 0 and starts a fresh key at excess 0 after its first request, so its excess is
// always ours minus 1000: this rule is nginx `limit_req ... burst=B-1 nodelay` exactly. Like
// nginx, the fraction of a millisecond and of a milli-request leaked is dropped at every
// admission: the figures sluice-sim reports show what that costs.
//
// State word: last_ms in the high 42 bits (139 years from 0: Unix time in ms fits), excess in
// the low 22 bits, so burst is at most 4194 (Create() says so) and times past 2^42 ms are
// clamped. Time going backwards counts as no time elapsed: it never admits more.
#ifndef SLUICE_ALGORITHMS_LEAKY_BUCKET_H_
#define SLUICE_ALGORITHMS_LEAKY_BUCKET_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "algorithms/slot_algorithm.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"

namespace sluice::algorithms {

class LeakyBucket : public SlotAlgorithm<LeakyBucket> {
 public:
  static constexpr std::string_view kName = "leaky-bucket";
  static constexpr std::uint64_t kMaxBurst = ((std::uint64_t{1} << 22) - 1) / 1000;  // 4194

  // Errors: burst 0 or above kMaxBurst, a rate below 0.001/s or above 10^9/s, bad capacity.
  static absl::StatusOr<std::unique_ptr<LeakyBucket>> Create(const AlgorithmConfig& config);
  // Check, Peek, Decide, bytes_per_key, displaced: SlotAlgorithm's (thread-safe, lock-free).

  struct Params {
    std::uint64_t rate_m = 1;  // milli-requests per second
    std::uint64_t burst = 1;
  };

 private:
  friend class SlotAlgorithm<LeakyBucket>;
  LeakyBucket(Params params, KeyHasher hasher, std::unique_ptr<SlotTable> table);
  // The rule above, and when a word expires: once its excess has leaked to 0 (as fresh).
  [[nodiscard]] SlotStep Step(bool found, std::uint64_t word, std::int64_t now,
                              std::uint64_t cost) const noexcept;
  [[nodiscard]] std::int64_t Expires(std::uint64_t word, std::int64_t now) const noexcept;
  Params params_;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_LEAKY_BUCKET_H_
