// The policies of a running config, compiled: matching, key extraction and the multi-policy
// check of one request. Immutable after Build(); shared by all shards.
#ifndef SLUICE_NET_POLICY_SET_H_
#define SLUICE_NET_POLICY_SET_H_

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/limiter.h"
#include "sluice/net/config.h"
#include "sluice/net/http_parser.h"

namespace sluice::net {

// What one request got.
struct EvalOutcome {
  bool matched = false;  // at least one policy applied; otherwise answer 200 without headers
  bool allowed = true;
  // The policy the response reports (the denying one, or the most restrictive), or -1.
  int reported = -1;
  Decision decision;  // of `reported`
  // The key `reported` was decided under (KeyScratch encoding; FormatKey() renders it). Views
  // into the scratch: valid until the next Evaluate() with it. Empty for when_missing: deny.
  std::string_view key;
  // Per decided policy, for counters: index into the policy set and what it said.
  struct PolicyResult {
    std::uint16_t policy = 0;
    bool allowed = false;
    bool shadow = false;
    bool missing_key = false;  // when_missing: deny fired (no key)
  };
  std::size_t result_count = 0;
  PolicyResult results[kMaxPolicies];
};

// Scratch memory for one Evaluate() at a time, owned by the caller (one per shard): no
// allocation per request. `buffer` holds the keys of all matching policies at once; make it
// PolicySet::scratch_bytes() long (and remake it when a reload changes that figure). A key that
// does not fit is treated like a missing header (when_missing decides), never truncated.
//
// Key bytes: per key part, one kind byte, its length as 4 bytes little-endian, the bytes. So
// parts can never run into each other and "path=/a" never equals a header value "/a".
//   'i' ip (4 bytes IPv4, IPv4-mapped IPv6 included; 16 bytes IPv6; 0 bytes: no peer)
//   'n' ip/64 (IPv6: the first 8 bytes; IPv4: the 4 bytes)   'h' header value   'p' path
//   'm' method   'F' the peer ip that replaces a whole key under when_missing: ip
struct KeyScratch {
  explicit KeyScratch(std::size_t bytes) : buffer(bytes) {}
  std::vector<char> buffer;
  // Working arrays of Evaluate(), kept here so a call does not initialize them on the stack.
  PolicyCheck checks[kMaxPolicies];
  Decision decisions[kMaxPolicies];
  EvalOutcome::PolicyResult missing[kMaxPolicies];
};

// Renders a key of Evaluate() for logs, e.g. "ip=10.0.0.1 header=abc path=/x", truncated to
// `capacity`; bytes outside printable ASCII become '?'. Returns the bytes written.
std::size_t FormatKey(std::string_view key, char* out, std::size_t capacity) noexcept;

class PolicySet {
 public:
  // A new table (capacity and when_full from `config`) with these policies.
  static absl::StatusOr<std::unique_ptr<PolicySet>> Build(const ServerConfig& config);
  // The same table with `config`'s policies: unchanged policies (same name, rate, burst) keep
  // their keys' state. Table capacity and when_full cannot change without a restart: the
  // config's values are ignored here (compare them yourself to warn).
  absl::StatusOr<std::unique_ptr<PolicySet>> Rebuild(const ServerConfig& config) const;

  // Decides one request from `peer` at `now`. Thread-safe; no allocation, lock or syscall.
  // `peer` is a sockaddr_in or sockaddr_in6 (anything else, or nullptr: the ip parts are empty).
  // A header part whose header is absent or empty is missing: the policy's when_missing says
  // what happens (skip: the policy does not apply; deny: the request is denied with
  // Decision::kNever, no Retry-After, results[].missing_key set; ip: the key is the peer ip).
  // An enforcing denial (CheckAll, or when_missing: deny) consumes nothing in other policies.
  // `results` are in policy order. `reported` is -1 when no policy was decided by the table
  // (only shadow when_missing: deny fired): answer 200 without rate-limit headers then.
  void Evaluate(const HttpRequest& request, const sockaddr* peer, std::chrono::nanoseconds now,
                KeyScratch& scratch, EvalOutcome& outcome) const noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return policies_.size(); }
  [[nodiscard]] const ServerPolicy& policy(std::size_t i) const noexcept { return policies_[i]; }
  [[nodiscard]] const Limiter& limiter() const noexcept { return *limiter_; }
  // The KeyScratch::buffer size this set needs: every matching policy's longest key at once,
  // header values and paths bounded by the config's limits.http (max_header_bytes, uri).
  [[nodiscard]] std::size_t scratch_bytes() const noexcept { return scratch_bytes_; }

 private:
  PolicySet(std::vector<ServerPolicy> policies, std::unique_ptr<Limiter> limiter,
            std::size_t scratch_bytes);
  std::vector<ServerPolicy> policies_;
  std::unique_ptr<Limiter> limiter_;
  std::size_t scratch_bytes_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_POLICY_SET_H_
