// sluice::Limiter: what an embedder creates. A fixed state table, a keyed hasher and a set of
// named GCRA policies.
#ifndef SLUICE_LIMITER_H_
#define SLUICE_LIMITER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"
#include "sluice/policy.h"
#include "sluice/state_table.h"

namespace sluice {

struct LimiterOptions {
  std::size_t capacity = std::size_t{1} << 20;  // keys held at once (16 bytes each)
  WhenFull when_full = WhenFull::kEvict;
  std::vector<PolicyConfig> policies;
  // Fixed seed for reproducible placement (tests); by default a random one per table.
  std::optional<HashSeed> seed;
};

// Index of a policy within its limiter, from FindPolicy() or the order of `policies`.
struct PolicyId {
  std::uint32_t index = 0;
  friend bool operator==(PolicyId, PolicyId) = default;
};

struct Request {
  PolicyId policy;
  std::string_view key;
  std::uint64_t cost = 1;
};

// One policy of a multi-policy check. A shadow check is decided and consumes quota like an
// enforcing one, but its denial does not deny the request.
struct PolicyCheck {
  PolicyId policy;
  std::string_view key;
  std::uint64_t cost = 1;
  bool shadow = false;
};

struct MultiDecision {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  bool allowed = true;
  // The check whose decision a response should report: the denying one, or else the one with
  // the fewest remaining requests (ties: the longest reset). kNone for an empty list.
  std::size_t reported = kNone;
  // Checks decided, in order; the ones after an enforcing denial are not decided at all.
  std::size_t decided = 0;
};

class Limiter {
 public:
  // Errors (absl::InvalidArgumentError) name the bad policy and field: no policies, duplicate
  // names, zero burst, rates above 10^9/s, bad capacity.
  static absl::StatusOr<std::unique_ptr<Limiter>> Create(LimiterOptions options);

  // A limiter over an existing table (shared memory, a file, caller memory: StateTable's
  // Format/Attach/CreateShared/OpenFile), hashing keys with the seed kept in the table, so
  // limiters of every process sharing it place a key in the same bucket. Errors as Create().
  static absl::StatusOr<std::unique_ptr<Limiter>> Over(std::shared_ptr<StateTable> table,
                                                       std::vector<PolicyConfig> policies);

  // A limiter with other policies over the same table and seed (a config reload): policies
  // whose name, rate and burst are unchanged keep every key's state.
  absl::StatusOr<std::unique_ptr<Limiter>> WithPolicies(std::vector<PolicyConfig> policies) const;

  [[nodiscard]] std::optional<PolicyId> FindPolicy(std::string_view name) const noexcept;
  [[nodiscard]] const Policy& policy(PolicyId id) const noexcept { return policies_[id.index]; }
  [[nodiscard]] std::size_t policy_count() const noexcept { return policies_.size(); }

  // Decides one request. Thread-safe and lock-free; no allocation, syscall or exception.
  // `now` is any monotonic clock in ns (the limiter never reads a clock); a `now` earlier than
  // one already seen never admits more. `cost` 0 asks without consuming.
  [[nodiscard]] Decision Check(PolicyId policy, std::string_view key, std::chrono::nanoseconds now,
                               std::uint64_t cost = 1) noexcept;

  // Decides `requests` in order at one `now`, writing out[i] for requests[i]
  // (out.size() >= requests.size()). Hashes and prefetches buckets ahead, so large tables run
  // near memory bandwidth. Same guarantees as Check().
  void CheckBatch(std::span<const Request> requests, std::chrono::nanoseconds now,
                  std::span<Decision> out) noexcept;

  // Checks one request against several policies. If an enforcing policy denies, what the
  // earlier checks admitted is given back (the request consumes nothing anywhere) and later
  // checks are not decided. out[i] receives the decision of checks[i] for i < decided.
  MultiDecision CheckAll(std::span<const PolicyCheck> checks, std::chrono::nanoseconds now,
                         std::span<Decision> out) noexcept;

  // Gives back `admitted`, an admission of `cost` for `key` that Check() decided at
  // `decided_at`, as seen at `now` (pass `decided_at` again when refunding right away, as a
  // multi-check does): never leaves the key's state below what it would be had the admission
  // not happened, and exact in the cases StateTable::Refund lists. A denied decision is
  // ignored. Thread-safe, lock-free; no allocation, syscall or exception.
  void Refund(PolicyId policy, std::string_view key, std::uint64_t cost, const Decision& admitted,
              std::chrono::nanoseconds decided_at, std::chrono::nanoseconds now) noexcept;

  [[nodiscard]] std::uint64_t HashKey(PolicyId policy, std::string_view key) const noexcept {
    return hasher_.Hash(policies_[policy.index].space(), key);
  }
  [[nodiscard]] StateTable& table() const noexcept { return *table_; }
  [[nodiscard]] TableStats Stats() const noexcept { return table_->Stats(); }

 private:
  Limiter(std::shared_ptr<StateTable> table, KeyHasher hasher, std::vector<Policy> policies)
      : table_(std::move(table)), hasher_(hasher), policies_(std::move(policies)) {}

  std::shared_ptr<StateTable> table_;
  KeyHasher hasher_;
  std::vector<Policy> policies_;
};

}  // namespace sluice

#endif  // SLUICE_LIMITER_H_
