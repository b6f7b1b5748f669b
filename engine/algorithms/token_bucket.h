// Token bucket: a bucket of `burst` tokens refilled at `rate`; a request of cost n takes n
// tokens or is denied. Lock-free over a SlotTable, 16 bytes per key of capacity.
//
// Exact rule, in integer nanoseconds of credit (one token = T = max(1, period/count) ns, the
// bucket holds at most C = burst*T):
//   tokens(now) = C - max(0, full_at - now)          (a fresh key has tokens = C)
//   n > burst:    never admissible (retry_after = kNever)
//   admit iff tokens(now) >= n*T; then tokens -= n*T
//   retry_after = n*T - tokens(now); remaining = floor(tokens_after / T); reset_after = C -
//   tokens_after.
//
// Why the state is `full_at` (the instant the bucket would be full again) and not the
// textbook pair (tokens, last): the pair needs 128 bits next to a 64-bit tag, and a 16-byte
// slot has room for one 64-bit word. `full_at = last + C - tokens` carries the same
// information in one word, so one CAS decides a request. That word is GCRA's TAT, and the rule
// above is GCRA's rule written in tokens: token-bucket and gcra admit and answer identically
// for equal rate and burst. tests/engine/algorithms_test.cc proves it decision by decision.
// Its SlotTable is the engine's state table with this step, and it hashes keys into the same
// space as GcraAlgorithm's policy: with the same seed even evictions happen alike.
// Time going backwards: tokens(now) only shrinks, so it never admits more.
#ifndef SLUICE_ALGORITHMS_TOKEN_BUCKET_H_
#define SLUICE_ALGORITHMS_TOKEN_BUCKET_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "algorithms/algorithm.h"
#include "algorithms/slot_algorithm.h"
#include "sluice/decision.h"
#include "sluice/gcra.h"
#include "sluice/key_hash.h"

namespace sluice::algorithms {

class TokenBucket : public SlotAlgorithm<TokenBucket> {
 public:
  static constexpr std::string_view kName = "token-bucket";

  // Errors: those of GcraParams::Make (burst 0, rate above 10^9/s, burst*T above 73 years)
  // and of the table capacity.
  static absl::StatusOr<std::unique_ptr<TokenBucket>> Create(const AlgorithmConfig& config);
  // Check, Peek, Decide, bytes_per_key, displaced: SlotAlgorithm's (thread-safe, lock-free).

 private:
  friend class SlotAlgorithm<TokenBucket>;
  TokenBucket(const GcraParams& params, std::uint64_t space, KeyHasher hasher,
              std::unique_ptr<SlotTable> table);
  // The rule above (the word is full_at), and when a word expires: once the bucket is full.
  [[nodiscard]] SlotStep Step(bool found, std::uint64_t word, std::int64_t now,
                              std::uint64_t cost) const noexcept;
  [[nodiscard]] static std::int64_t Expires(std::uint64_t word, std::int64_t /*now*/) noexcept {
    return static_cast<std::int64_t>(word);
  }
  GcraParams params_;  // emission_interval = T, window = C
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_TOKEN_BUCKET_H_
