#include "sluice/net/policy/policy_set.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "forwarded.h"
#include "key_encoding.h"
#include "sluice/net/http/host.h"
#include "sluice/net/http/http_target.h"

namespace sluice::net {
namespace {

// Appends key parts into caller memory; never writes past `capacity`.
class KeyWriter {
 public:
  KeyWriter(char* out, std::size_t capacity) noexcept : out_(out), capacity_(capacity) {}

  void Part(char kind, const void* data, std::size_t size) noexcept {
    if (overflow_ || size > std::numeric_limits<std::uint32_t>::max() ||
        capacity_ - size_ < kPartHeader || capacity_ - size_ - kPartHeader < size) {
      overflow_ = true;
      return;
    }
    char* p = out_ + size_;
    p[0] = kind;
    const auto length = static_cast<std::uint32_t>(size);
    for (int i = 0; i < 4; ++i) p[1 + i] = static_cast<char>((length >> (8 * i)) & 0xff);
    if (size != 0) std::memcpy(p + kPartHeader, data, size);
    size_ += kPartHeader + size;
  }
  void Part(char kind, std::string_view text) noexcept { Part(kind, text.data(), text.size()); }
  // The same, ASCII letters lower-cased (a case-insensitive match's path).
  void PartLower(char kind, std::string_view text) noexcept {
    const std::size_t start = size_;
    Part(kind, text);
    if (overflow_) return;
    for (std::size_t i = start + kPartHeader; i < size_; ++i) {
      if (out_[i] >= 'A' && out_[i] <= 'Z') out_[i] = static_cast<char>(out_[i] - 'A' + 'a');
    }
  }
  void Reset() noexcept {
    size_ = 0;
    overflow_ = false;
  }

  [[nodiscard]] bool overflow() const noexcept { return overflow_; }
  [[nodiscard]] std::string_view view() const noexcept { return {out_, size_}; }

 private:
  char* out_;
  std::size_t capacity_;
  std::size_t size_ = 0;
  bool overflow_ = false;
};

bool Matches(const PolicyMatch& match, std::string_view method, std::string_view path,
             std::string_view host) noexcept {
  if (!match.method.empty() && method != match.method) return false;
  if (!match.host.empty() && !HostIs(host, match.host)) return false;
  return match.path_prefix.empty() ||
         PathStartsWith(path, match.path_prefix, match.case_insensitive);
}

// ASCII case-insensitive; `lower` is lower-case (config names are).
bool NameEquals(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// The one line of header `lower`, or nullptr; `repeated` when there is more than one line (a
// backend may read another copy than we keyed on).
const HttpHeader* FindOnly(const HttpRequest& request, std::string_view lower,
                           bool& repeated) noexcept {
  const HttpHeader* found = nullptr;
  repeated = false;
  for (std::size_t i = 0; i < std::min(request.header_count, kMaxHeaders); ++i) {
    if (!NameEquals(request.headers[i].name, lower)) continue;
    if (found != nullptr) {
      repeated = true;
      return found;
    }
    found = &request.headers[i];
  }
  return found;
}

// The more restrictive of two admitting decisions, as the engine reports them: fewer remaining,
// then the longer reset.
bool MoreRestrictive(const Decision& a, const Decision& b) noexcept {
  if (a.remaining != b.remaining) return a.remaining < b.remaining;
  return a.reset_after > b.reset_after;
}

absl::Status Validate(const ServerConfig& config) {
  if (config.policies.empty()) return absl::InvalidArgumentError("at least one policy is needed");
  if (config.policies.size() > kMaxPolicies) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.policies.size(), " policies, at most ", kMaxPolicies));
  }
  const auto check = [](const ForwardedConfig& f, const std::string& where) {
    if (f.trusted.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, "forwarded: no trusted peers"));
    }
    if (f.hops < 1 || f.hops > kMaxForwardedHops) {
      return absl::InvalidArgumentError(absl::StrCat(where, "forwarded: hops out of range"));
    }
    return absl::OkStatus();
  };
  if (config.forwarded) {
    if (absl::Status s = check(*config.forwarded, ""); !s.ok()) return s;
  }
  for (const ServerPolicy& p : config.policies) {
    if (p.key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("policy '", p.name, "': empty key"));
    }
    if (p.forwarded_mode == ForwardedMode::kOwn) {
      if (absl::Status s = check(p.forwarded, absl::StrCat("policy '", p.name, "': ")); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

std::vector<PolicyConfig> EngineConfigs(const ServerConfig& config) {
  std::vector<PolicyConfig> out;
  out.reserve(config.policies.size());
  for (const ServerPolicy& p : config.policies) out.push_back({p.name, p.rate, p.burst});
  return out;
}

// The keys of all policies at once, each at its largest. Every variable part comes from the
// request head, which the parser bounds by max_header_bytes (the URI also by max_uri_bytes);
// a path or method from a forwarded header is a header value, an ip part from a header is
// still 4 or 16 bytes.
std::size_t ScratchBytes(const ServerConfig& config) {
  const HttpLimits& http = config.limits.http;
  const std::size_t text = std::max(http.max_header_bytes, http.max_uri_bytes);
  std::size_t total = 0;
  for (const ServerPolicy& p : config.policies) {
    std::size_t key = 0;
    for (const KeyPart& part : p.key) {
      const bool ip = part.kind == KeyPartKind::kIp || part.kind == KeyPartKind::kIp64;
      key += kPartHeader + (ip ? kMaxIpBytes : text);
    }
    total += std::max(key, kPartHeader + kMaxIpBytes);  // when_missing: ip
  }
  return std::max<std::size_t>(total, 1);
}

}  // namespace

PolicySet::PolicySet(const ServerConfig& config, std::unique_ptr<Limiter> limiter)
    : policies_(config.policies),
      limiter_(std::move(limiter)),
      scratch_bytes_(ScratchBytes(config)) {
  // Policies with equal settings share one entry, so a request resolves each setting once.
  const auto index_of = [&](const ForwardedConfig& f) {
    const auto it = std::find(forwarded_.begin(), forwarded_.end(), f);
    if (it != forwarded_.end()) return static_cast<int>(it - forwarded_.begin());
    forwarded_.push_back(f);
    return static_cast<int>(forwarded_.size() - 1);
  };
  policy_forwarded_.reserve(policies_.size());
  for (const ServerPolicy& p : policies_) {
    int index = -1;
    if (p.forwarded_mode == ForwardedMode::kOwn) {
      index = index_of(p.forwarded);
    } else if (p.forwarded_mode == ForwardedMode::kInherit && config.forwarded) {
      index = index_of(*config.forwarded);
    }
    policy_forwarded_.push_back(index);
    any_host_match_ = any_host_match_ || !p.match.host.empty();
  }
  // A normalised forwarded path per setting that reads one (no longer than its header value).
  const std::size_t text =
      std::max(config.limits.http.max_header_bytes, config.limits.http.max_uri_bytes);
  for (const ForwardedConfig& f : forwarded_) {
    if (!f.uri.empty()) scratch_bytes_ += text;
  }
}

absl::StatusOr<std::unique_ptr<PolicySet>> PolicySet::Build(const ServerConfig& config) {
  if (absl::Status s = Validate(config); !s.ok()) return s;
  LimiterOptions options;
  options.capacity = config.table_capacity;
  options.when_full = config.when_full;
  options.policies = EngineConfigs(config);
  auto limiter = Limiter::Create(std::move(options));
  if (!limiter.ok()) return limiter.status();
  return std::unique_ptr<PolicySet>(new PolicySet(config, *std::move(limiter)));
}

absl::StatusOr<std::unique_ptr<PolicySet>> PolicySet::Rebuild(const ServerConfig& config) const {
  if (absl::Status s = Validate(config); !s.ok()) return s;
  auto limiter = limiter_->WithPolicies(EngineConfigs(config));
  if (!limiter.ok()) return limiter.status();
  return std::unique_ptr<PolicySet>(new PolicySet(config, *std::move(limiter)));
}

std::size_t PolicySet::ForwardedClient(std::size_t policy, const HttpRequest& request,
                                       const sockaddr* peer,
                                       unsigned char (&out)[16]) const noexcept {
  if (policy >= policy_forwarded_.size() || policy_forwarded_[policy] < 0) return 0;
  const ForwardedConfig& config = forwarded_[static_cast<std::size_t>(policy_forwarded_[policy])];
  if (config.client_ip.empty() || !IsTrusted(config, IpOfPeer(peer))) return 0;
  IpBytes client;
  if (ClientFromHeader(config, request, client) != ForwardedMissing::kNone) return 0;
  std::memcpy(out, client.bytes, kMaxIpBytes);
  return client.size;
}

void PolicySet::Evaluate(const HttpRequest& request, const sockaddr* peer,
                         std::chrono::nanoseconds now, KeyScratch& scratch,
                         EvalOutcome& outcome) const noexcept {
  outcome.refusal = Refusal::kNone;
  outcome.matched = false;
  outcome.allowed = true;
  outcome.reported = -1;
  outcome.decision = Decision{};
  outcome.key = {};
  outcome.log_policy = -1;
  outcome.log_shadow = false;
  outcome.shadow_denied = false;
  outcome.log_decision = Decision{};
  outcome.log_key = {};
  outcome.result_count = 0;
  outcome.forwarded_untrusted = false;
  outcome.forwarded_missing = ForwardedMissing::kNone;

  char* const buffer = scratch.buffer.data();
  const std::size_t capacity = scratch.buffer.size();
  std::size_t used = 0;  // keys and forwarded paths, packed from the start of `buffer`

  const IpBytes ip = IpOfPeer(peer);
  for (std::size_t f = 0; f < forwarded_.size(); ++f) {
    scratch.forwarded[f].resolved = false;
    scratch.forwarded[f].client_resolved = false;
  }
  // The setting `f` applied to this request: trust, path and method on first use. A trusted
  // uri or method that breaks the request line's rules sets outcome.refusal.
  const auto view_of = [&](std::size_t f) noexcept -> ForwardedView& {
    ForwardedView& v = scratch.forwarded[f];
    if (v.resolved) return v;
    const ForwardedConfig& config = forwarded_[f];
    v.resolved = true;
    v.trusted = IsTrusted(config, ip);
    v.path = request.path;
    v.method = request.method;
    const HttpHeader* uri = config.uri.empty() ? nullptr : FindLastHeader(request, config.uri);
    const HttpHeader* method =
        config.method.empty() ? nullptr : FindLastHeader(request, config.method);
    if (v.trusted) {
      if (uri != nullptr) {
        const NormalisedPath path = ForwardedPath(uri->value, buffer + used, capacity - used);
        if (path.status != NormalisedPath::Status::kOk) {
          outcome.refusal = Refusal::kBadForwarded;
        } else {
          v.path = path.path;
          if (path.path.data() == buffer + used) used += path.path.size();
        }
      }
      if (method != nullptr) {
        if (!IsValidMethod(method->value)) outcome.refusal = Refusal::kBadForwarded;
        v.method = method->value;
      }
    } else if (uri != nullptr || method != nullptr ||
               (!config.client_ip.empty() &&
                FindLastHeader(request, config.client_ip) != nullptr)) {
      outcome.forwarded_untrusted = true;  // ignored, and counted: a proxy missing from trusted?
    }
    return v;
  };
  // Addresses by reference: the direct path copies nothing.
  struct IpView {
    const unsigned char* bytes;
    std::size_t size;
  };
  const IpView peer_ip{ip.bytes, ip.size};
  // The address the ip parts of a policy under setting `f` use (size 0: missing).
  const auto client_of = [&](std::size_t f) noexcept -> IpView {
    ForwardedView& v = view_of(f);
    if (!v.client_resolved) {
      v.client_resolved = true;
      IpBytes client = ip;
      if (v.trusted && !forwarded_[f].client_ip.empty()) {
        const ForwardedMissing why = ClientFromHeader(forwarded_[f], request, client);
        if (why != ForwardedMissing::kNone) {
          client.size = 0;
          if (outcome.forwarded_missing == ForwardedMissing::kNone) {
            outcome.forwarded_missing = why;
          }
        }
      }
      std::memcpy(v.client, client.bytes, kMaxIpBytes);
      v.client_size = static_cast<std::uint8_t>(client.size);
    }
    return IpView{v.client, v.client_size};
  };
  std::size_t checks = 0;
  std::size_t missing = 0;
  const std::size_t count = std::min(policies_.size(), kMaxPolicies);
  // Refused before anything was consumed: no results, no counters but the refusal's.
  const auto refuse = [&](Refusal why) noexcept {
    outcome.refusal = why;
    outcome.matched = false;
    outcome.allowed = true;
    outcome.reported = -1;
    outcome.result_count = 0;
  };

  // Copies the when_missing: deny results and the table's decisions into `outcome`, merged in
  // policy order. `denied`: an enforcing check denied, so the ones it admitted were given back.
  const auto finish = [&](std::size_t decided, bool denied) noexcept {
    std::size_t a = 0;
    std::size_t b = 0;
    while (a < missing || b < decided) {
      if (b == decided ||
          (a < missing && scratch.missing[a].policy < scratch.checks[b].policy.index)) {
        outcome.results[outcome.result_count++] = scratch.missing[a++];
      } else {
        const PolicyCheck& c = scratch.checks[b];
        const bool allowed = scratch.decisions[b].allowed;
        outcome.results[outcome.result_count++] = {static_cast<std::uint16_t>(c.policy.index),
                                                   allowed, c.shadow, false, allowed && denied};
        ++b;
      }
    }
  };

  // The request's own host (match.host): a trusted proxy's forwarded headers do not name one.
  const std::string_view host = any_host_match_ ? RequestHost(request) : std::string_view();
  for (std::size_t i = 0; i < count; ++i) {
    const ServerPolicy& p = policies_[i];
    const int fwd = policy_forwarded_[i];
    std::string_view path = request.path;
    std::string_view method = request.method;
    if (fwd >= 0) {
      const ForwardedView& v = view_of(static_cast<std::size_t>(fwd));
      if (outcome.refusal != Refusal::kNone) return refuse(outcome.refusal);
      path = v.path;
      method = v.method;
    }
    if (!Matches(p.match, method, path, host)) continue;
    const bool shadow = p.mode == PolicyMode::kShadow;
    KeyWriter key(buffer + used, capacity - used);
    bool absent = false;
    for (const KeyPart& part : p.key) {
      switch (part.kind) {
        case KeyPartKind::kIp:
        case KeyPartKind::kIp64: {
          const IpView client = fwd >= 0 ? client_of(static_cast<std::size_t>(fwd)) : peer_ip;
          if (fwd >= 0 && client.size == 0 && ip.size != 0) {
            absent = true;  // a trusted peer did not say who the client is
          } else if (part.kind == KeyPartKind::kIp) {
            key.Part(kKindIp, client.bytes, client.size);
          } else {
            key.Part(kKindIp64, client.bytes, client.size == kMaxIpBytes ? 8 : client.size);
          }
          break;
        }
        case KeyPartKind::kHeader: {
          bool repeated = false;
          const HttpHeader* h = FindOnly(request, part.header, repeated);
          if (repeated) return refuse(Refusal::kAmbiguousKey);
          if (h == nullptr || h->value.empty()) {
            absent = true;
          } else {
            key.Part(kKindHeader, h->value);
          }
          break;
        }
        case KeyPartKind::kPath:
          if (p.match.case_insensitive) {
            key.PartLower(kKindPath, path);
          } else {
            key.Part(kKindPath, path);
          }
          break;
        case KeyPartKind::kMethod:
          key.Part(kKindMethod, method);
          break;
      }
      if (absent) break;
    }
    // Overflow cannot happen with a buffer of scratch_bytes() and a head within the limits.
    if (key.overflow()) absent = true;
    if (absent) {
      if (p.when_missing == WhenMissing::kSkip) continue;
      if (p.when_missing == WhenMissing::kIp) {
        // The client's address when a trusted proxy named one, else the peer's.
        IpView fallback = fwd >= 0 ? client_of(static_cast<std::size_t>(fwd)) : peer_ip;
        if (fallback.size == 0) fallback = peer_ip;
        key.Reset();
        key.Part(kKindFallbackIp, fallback.bytes, fallback.size);
        if (key.overflow()) continue;
      } else {  // kDeny: decided here, without the table.
        outcome.matched = true;
        scratch.missing[missing++] = {static_cast<std::uint16_t>(i), false, shadow, true, false};
        if (!shadow) {
          // Nothing was checked yet, so nothing was consumed anywhere.
          outcome.allowed = false;
          outcome.reported = static_cast<int>(i);
          outcome.decision = Decision{false, 0, Decision::kNever, std::chrono::nanoseconds{0}};
          outcome.log_policy = outcome.reported;
          outcome.log_decision = outcome.decision;
          finish(0, false);
          return;
        }
        outcome.shadow_denied = true;
        continue;
      }
    }
    outcome.matched = true;
    const std::string_view k = key.view();
    scratch.checks[checks++] = PolicyCheck{PolicyId{static_cast<std::uint32_t>(i)}, k, 1, shadow};
    used += k.size();
  }

  if (checks == 0) {
    finish(0, false);
    return;
  }
  const MultiDecision md = limiter_->CheckAll(std::span<const PolicyCheck>(scratch.checks, checks),
                                              now, std::span<Decision>(scratch.decisions, checks));
  outcome.allowed = md.allowed;
  // The headers' policy: the enforcing denier, or the most restrictive enforcing admission. The
  // log's: that one, or the first shadow denial of an admitted request, or (only shadow
  // policies decided) the engine's most restrictive.
  std::size_t reported = MultiDecision::kNone;
  std::size_t shadow_denier = MultiDecision::kNone;
  if (!md.allowed) {
    reported = md.reported;
  } else {
    for (std::size_t c = 0; c < md.decided; ++c) {
      const Decision& d = scratch.decisions[c];
      if (scratch.checks[c].shadow) {
        if (!d.allowed && shadow_denier == MultiDecision::kNone) shadow_denier = c;
      } else if (reported == MultiDecision::kNone ||
                 MoreRestrictive(d, scratch.decisions[reported])) {
        reported = c;
      }
    }
  }
  for (std::size_t c = 0; c < md.decided; ++c) {
    if (scratch.checks[c].shadow && !scratch.decisions[c].allowed) outcome.shadow_denied = true;
  }
  if (reported != MultiDecision::kNone) {
    outcome.reported = static_cast<int>(scratch.checks[reported].policy.index);
    outcome.decision = scratch.decisions[reported];
    outcome.key = scratch.checks[reported].key;
  }
  const std::size_t logged = shadow_denier != MultiDecision::kNone ? shadow_denier
                             : reported != MultiDecision::kNone    ? reported
                                                                   : md.reported;
  if (logged != MultiDecision::kNone) {
    outcome.log_policy = static_cast<int>(scratch.checks[logged].policy.index);
    outcome.log_shadow = scratch.checks[logged].shadow;
    outcome.log_decision = scratch.decisions[logged];
    outcome.log_key = scratch.checks[logged].key;
  }
  finish(md.decided, !md.allowed);
}

}  // namespace sluice::net
