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
#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"

namespace sluice::net {

// Why a trusted peer's request had no usable client address (`forwarded: client_ip`), for the
// metrics. Only counted when a policy needed the address (an ip part, or when_missing: ip).
enum class ForwardedMissing : std::uint8_t {
  kNone,
  kAbsent,      // no such header, or only empty values
  kTooFewHops,  // fewer than `hops` entries
  kInvalid,     // the chosen entry is not an IP address (a port, a name, "unknown", ...)
};
inline constexpr std::size_t kForwardedMissingKinds = 4;

// Why a request that parsed was refused by what the policies needed of it (answer 400 and
// close; nothing was consumed anywhere). Counted per kind.
enum class Refusal : std::uint8_t {
  kNone,
  kAmbiguousKey,  // a header a matching policy keys on appears more than once
  kBadForwarded,  // a trusted proxy's uri (not normalisable, '#', ...) or method (not A-Z-_)
};
inline constexpr std::size_t kRefusalKinds = 3;

// What one request got.
struct EvalOutcome {
  // Not kNone: answer 400 and close; nothing else below is meaningful.
  Refusal refusal = Refusal::kNone;
  bool matched = false;  // at least one policy applied; otherwise answer 200 without headers
  bool allowed = true;
  // The enforcing policy the response reports (the denying one, or the most restrictive), or
  // -1: the rate-limit headers name enforcing policies only, since clients obey them.
  int reported = -1;
  Decision decision;  // of `reported`
  // The key `reported` was decided under (KeyScratch encoding; FormatKey() renders it). Views
  // into the scratch: valid until the next Evaluate() with it. Empty for when_missing: deny.
  std::string_view key;
  // What the decision log names, which may be a shadow policy: `reported`; or, when the request
  // was admitted while a shadow policy would have denied it, the first such (`log_shadow`,
  // `shadow_denied`); or, when only shadow policies were decided, the most restrictive of them.
  int log_policy = -1;
  bool log_shadow = false;
  bool shadow_denied = false;  // some shadow policy said no (the request may still be admitted)
  Decision log_decision;
  std::string_view log_key;
  // Per decided policy, for counters: index into the policy set and what it said.
  struct PolicyResult {
    std::uint16_t policy = 0;
    bool allowed = false;
    bool shadow = false;
    bool missing_key = false;  // when_missing: deny fired (no key)
    // Admitted here, then given back because a later enforcing policy denied the request.
    bool refunded = false;
  };
  std::size_t result_count = 0;
  PolicyResult results[kMaxPolicies];
  // Forwarded headers (`forwarded:`): an untrusted peer sent one of the configured headers
  // (client_ip, uri or method), which were ignored; and the first reason a trusted peer's
  // client address was missing (kNone: it was not, or nothing needed it).
  bool forwarded_untrusted = false;
  ForwardedMissing forwarded_missing = ForwardedMissing::kNone;
};

// One `forwarded:` setting applied to the current request (working memory of Evaluate()).
struct ForwardedView {
  bool resolved = false;         // trusted, path and method are set
  bool client_resolved = false;  // client and client_size are set
  bool trusted = false;          // the peer is in the setting's trusted list
  std::string_view path;         // normalised, for the path key and match.path_prefix
  std::string_view method;       // for the method key and match.method
  unsigned char client[16] = {};
  std::uint8_t client_size = 0;  // 4, 16, or 0: missing
};

// Scratch memory for one Evaluate() at a time, owned by the caller (one per shard): no
// allocation per request. `buffer` holds the keys of all matching policies at once and the
// normalised forwarded paths; make it PolicySet::scratch_bytes() long (and remake it when a
// reload changes that figure). A key that does not fit is treated like a missing header
// (when_missing decides), never truncated; a forwarded path that does not fit is refused.
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
  ForwardedView forwarded[kMaxPolicies + 1];  // per distinct `forwarded:` setting
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
  // `request.path` is taken as normalised (ParseRequestHead's). match.path_prefix compares
  // with it (ASCII case-insensitively under match.case_insensitive, which also lower-cases the
  // path key part). A header key part whose header appears more than once is ambiguous: the
  // request is refused (Refusal::kAmbiguousKey) before anything is consumed.
  // A header part whose header is absent or empty is missing: the policy's when_missing says
  // what happens (skip: the policy does not apply; deny: the request is denied with
  // Decision::kNever, no Retry-After, results[].missing_key set; ip: the key is the peer ip).
  // An enforcing denial (CheckAll, or when_missing: deny) consumes nothing in other policies.
  //
  // Forwarded headers: a policy under a `forwarded:` setting (its own, else the listener's)
  // whose peer falls in `trusted` takes its path and method (keys and match) from the `uri`
  // and `method` headers when present (the last such line; the uri is read and normalised as a
  // request target is, and refused with Refusal::kBadForwarded when the request line would have
  // been: a '#', a path that cannot be normalised, a method not of 'A'-'Z', '-', '_'), and its
  // ip and ip/64 parts from the `client_ip` header: all lines with that
  // name form one comma-separated list in order, empty elements ignored, and the client is
  // the hops-th element from the right. An absent header, a shorter list or an element that
  // is not an address (optionally a bracketed IPv6, no port) makes the ip part missing
  // (when_missing decides; its `ip` then means the peer address). when_missing: ip for other
  // missing parts uses the client address when there is one. Untrusted peers: headers ignored.
  // `results` are in policy order. `reported` is -1 when no enforcing policy was decided by the
  // table (none matched, or only shadow ones): answer 200 without rate-limit headers then.
  void Evaluate(const HttpRequest& request, const sockaddr* peer, std::chrono::nanoseconds now,
                KeyScratch& scratch, EvalOutcome& outcome) const noexcept;

  // The client address a trusted proxy named for `request` under policy `policy`'s forwarded
  // setting (as Evaluate() reads it), copied to `out`: returns 4 (IPv4) or 16 (IPv6), or 0 when
  // the policy has no client_ip setting, the peer is not trusted, or the header names no valid
  // address. For logs: behind a proxy the peer is the proxy. No allocation, lock or syscall.
  std::size_t ForwardedClient(std::size_t policy, const HttpRequest& request, const sockaddr* peer,
                              unsigned char (&out)[16]) const noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return policies_.size(); }
  [[nodiscard]] const ServerPolicy& policy(std::size_t i) const noexcept { return policies_[i]; }
  [[nodiscard]] const Limiter& limiter() const noexcept { return *limiter_; }
  // The KeyScratch::buffer size this set needs: every matching policy's longest key at once,
  // header values and paths bounded by the config's limits.http (max_header_bytes, uri), and
  // one forwarded path per distinct setting with a `uri` header.
  [[nodiscard]] std::size_t scratch_bytes() const noexcept { return scratch_bytes_; }

 private:
  PolicySet(const ServerConfig& config, std::unique_ptr<Limiter> limiter);
  std::vector<ServerPolicy> policies_;
  std::unique_ptr<Limiter> limiter_;
  std::size_t scratch_bytes_;
  // The distinct `forwarded:` settings in force, and per policy the index of its own (-1: the
  // policy reads the connection and the request line).
  std::vector<ForwardedConfig> forwarded_;
  std::vector<int> policy_forwarded_;
  bool any_host_match_ = false;  // some policy has match.host: find the request's host once
};

}  // namespace sluice::net

#endif  // SLUICE_NET_POLICY_SET_H_
