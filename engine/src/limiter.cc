#include "sluice/limiter.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal/table_path.h"

namespace sluice {
namespace {

using internal::TablePath;

absl::StatusOr<std::vector<Policy>> MakePolicies(std::vector<PolicyConfig> configs) {
  if (configs.empty()) return absl::InvalidArgumentError("at least one policy is needed");
  absl::flat_hash_set<std::string> names;
  std::vector<Policy> policies;
  policies.reserve(configs.size());
  for (PolicyConfig& config : configs) {
    if (!names.insert(config.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy '", config.name, "' is defined twice"));
    }
    auto policy = Policy::Make(std::move(config));
    if (!policy.ok()) return policy.status();
    policies.push_back(*std::move(policy));
  }
  if (policies.size() > UINT32_MAX) return absl::InvalidArgumentError("too many policies");
  return policies;
}

// Is `a` more restrictive than `b`, for reporting in headers?
bool MoreRestrictive(const Decision& a, const Decision& b) {
  if (a.remaining != b.remaining) return a.remaining < b.remaining;
  return a.reset_after > b.reset_after;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Limiter>> Limiter::Create(LimiterOptions options) {
  auto policies = MakePolicies(std::move(options.policies));
  if (!policies.ok()) return policies.status();
  auto table = StateTable::Create(options.capacity, options.when_full, options.seed);
  if (!table.ok()) return table.status();
  const KeyHasher hasher((*table)->seed());
  return std::unique_ptr<Limiter>(
      new Limiter(std::shared_ptr<StateTable>(*std::move(table)), hasher, *std::move(policies)));
}

absl::StatusOr<std::unique_ptr<Limiter>> Limiter::Over(std::shared_ptr<StateTable> table,
                                                       std::vector<PolicyConfig> configs) {
  if (table == nullptr) return absl::InvalidArgumentError("no table");
  auto policies = MakePolicies(std::move(configs));
  if (!policies.ok()) return policies.status();
  const KeyHasher hasher(table->seed());
  return std::unique_ptr<Limiter>(new Limiter(std::move(table), hasher, *std::move(policies)));
}

absl::StatusOr<std::unique_ptr<Limiter>> Limiter::WithPolicies(
    std::vector<PolicyConfig> configs) const {
  auto policies = MakePolicies(std::move(configs));
  if (!policies.ok()) return policies.status();
  return std::unique_ptr<Limiter>(new Limiter(table_, hasher_, *std::move(policies)));
}

std::optional<PolicyId> Limiter::FindPolicy(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < policies_.size(); ++i) {
    if (policies_[i].name() == name) return PolicyId{static_cast<std::uint32_t>(i)};
  }
  return std::nullopt;
}

Decision Limiter::Check(PolicyId policy, std::string_view key, std::chrono::nanoseconds now,
                        std::uint64_t cost) noexcept {
  // One function from the key to the answer: hash, bucket and decision are inlined here.
  const Policy& p = policies_[policy.index];
  return TablePath::Check(*table_, hasher_.Hash(p.space(), key), p.params(), ClampTime(now.count()),
                          cost);
}

namespace {

// out = d, field by field: assigning the Decision as a whole copies it through the stack as two
// 16-byte blocks, and the first one (the bool and `remaining`) is a 16-byte load of a 1-byte
// and an 8-byte store, which cannot forward (a stall per decided request).
inline void Store(Decision& out, const Decision& d) noexcept {
  out.allowed = d.allowed;
  out.remaining = d.remaining;
  out.retry_after = d.retry_after;
  out.reset_after = d.reset_after;
}

}  // namespace

void Limiter::CheckBatch(std::span<const Request> requests, std::chrono::nanoseconds now,
                         std::span<Decision> out) noexcept {
  // A rolling window: while request i is decided, the buckets of the next kAhead requests are
  // being fetched, so cache misses overlap instead of queueing one behind the other. 48 ahead:
  // on a loaded machine (longer memory latency) it was 25-30% faster than 16 at 16M keys
  // (PERF.md); hashing and prefetching whole groups of 16 before deciding them (the floor's
  // pattern), two groups in flight, or groups of 32 and 64 were within noise of a window.
  constexpr std::size_t kAhead = 48;
  std::uint64_t hashes[kAhead];
  const std::size_t n = requests.size();
  const std::int64_t t = ClampTime(now.count());
  const auto hash_of = [&](std::size_t i) {
    const Request& r = requests[i];
    return hasher_.Hash(policies_[r.policy.index].space(), r.key);
  };
  for (std::size_t i = 0; i < std::min(kAhead, n); ++i) {
    hashes[i] = hash_of(i);
    table_->Prefetch(hashes[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t hash = hashes[i % kAhead];
    if (i + kAhead < n) {
      hashes[i % kAhead] = hash_of(i + kAhead);
      table_->Prefetch(hashes[i % kAhead]);
    }
    const Request& r = requests[i];
    // Random keys land in a different slot of their bucket every time: kIndexed picks the
    // matched slot without a branch on which one it is.
    Store(out[i], TablePath::Check<TablePath::Select::kIndexed>(
                      *table_, hash, policies_[r.policy.index].params(), t, r.cost));
  }
}

MultiDecision Limiter::CheckAll(std::span<const PolicyCheck> checks, std::chrono::nanoseconds now,
                                std::span<Decision> out) noexcept {
  MultiDecision result;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const PolicyCheck& c = checks[i];
    const Policy& p = policies_[c.policy.index];
    out[i] = TablePath::Check(*table_, hasher_.Hash(p.space(), c.key), p.params(),
                              ClampTime(now.count()), c.cost);
    result.decided = i + 1;
    if (!out[i].allowed && !c.shadow) {
      // Give back what the earlier checks took: the request consumes nothing anywhere.
      for (std::size_t j = 0; j < i; ++j) {
        if (!out[j].allowed) continue;
        const Policy& q = policies_[checks[j].policy.index];
        table_->Refund(hasher_.Hash(q.space(), checks[j].key), q.params(), checks[j].cost);
      }
      result.allowed = false;
      result.reported = i;
      return result;
    }
    if (result.reported == MultiDecision::kNone || MoreRestrictive(out[i], out[result.reported])) {
      result.reported = i;
    }
  }
  return result;
}

}  // namespace sluice
