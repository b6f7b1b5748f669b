// libFuzzer target: key extraction and the multi-policy check. The input is parsed as a request
// head (default limits); a complete head is evaluated from an IPv4 and an IPv6 peer (and from
// no peer) against two policy sets: one whose scratch fits the parser's limits, one built with
// small limits so long header values and paths do not fit (they must count as missing, never
// be truncated or overflow the scratch). A third set trusts both peers' forwarded headers
// (X-Forwarded-For with two hops, X-Original-URI, X-Original-Method), and two policies carry
// their own `forwarded:` (one trusting only the IPv4 peer, one `off`). The outcome must be
// self-consistent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"

namespace {

using sluice::net::EvalOutcome;
using sluice::net::KeyScratch;
using sluice::net::PolicySet;

constexpr std::string_view kPolicies = R"(policies:
  - name: per-ip
    key: ip
    rate: 10/s
    burst: 3
  - name: per-net
    key: ip/64
    rate: 100/m
    burst: 5
  - name: api-key
    match: {path_prefix: /api/, method: POST}
    key: [header:x-api-key]
    when_missing: skip
    rate: 5/s
    burst: 2
  - name: by-path
    key: path
    rate: 1/s
    burst: 1
  - name: tenant
    key: [header:x-tenant, method, path, ip]
    when_missing: deny
    rate: 1000/h
    burst: 4
  - name: user-or-ip
    key: header:x-user
    when_missing: ip
    rate: 2/s
    burst: 2
  - name: shadow-auth
    match: {path_prefix: /admin}
    key: [header:authorization, ip/64]
    when_missing: deny
    mode: shadow
    rate: 1/d
    burst: 1
  - name: proxied
    match: {path_prefix: /api/}
    key: [ip, path, method]
    when_missing: ip
    rate: 3/s
    burst: 2
    forwarded: {trusted: [192.0.2.7], client_ip: x-real-ip, uri: x-original-uri}
  - name: direct
    key: [ip/64, path]
    rate: 50/s
    burst: 8
    forwarded: off
)";

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "policy_set_fuzz: property failed: %s\n", what);
    std::abort();
  }
}

struct Set {
  std::unique_ptr<PolicySet> set;
  std::unique_ptr<KeyScratch> scratch;
};

Set MakeSet(std::string_view prefix) {
  std::string yaml = "table: {capacity: 1024, when_full: evict}\n";
  yaml.append(prefix).append(kPolicies);
  auto config = sluice::net::ParseConfig(yaml, "policy_set_fuzz");
  Check(config.ok(), "the fuzzer's own config parses");
  auto set = PolicySet::Build(*config);
  Check(set.ok(), "the fuzzer's own policy set builds");
  Set s;
  s.set = *std::move(set);
  s.scratch = std::make_unique<KeyScratch>(s.set->scratch_bytes());
  return s;
}

struct Peers {
  sockaddr_storage v4{};
  sockaddr_storage v6{};
  Peers() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(40000);
    inet_pton(AF_INET, "192.0.2.7", &a.sin_addr);
    std::memcpy(&v4, &a, sizeof(a));
    sockaddr_in6 b{};
    b.sin6_family = AF_INET6;
    b.sin6_port = htons(40001);
    inet_pton(AF_INET6, "2001:db8::1", &b.sin6_addr);
    std::memcpy(&v6, &b, sizeof(b));
  }
};

void Evaluate(Set& s, const sluice::net::HttpRequest& request, const sockaddr* peer,
              std::chrono::nanoseconds now) {
  static EvalOutcome outcome;
  s.set->Evaluate(request, peer, now, *s.scratch, outcome);
  const auto policies = static_cast<int>(s.set->size());
  Check(outcome.result_count <= s.set->size(), "result_count <= policies");
  Check(outcome.reported >= -1 && outcome.reported < policies, "reported in range");
  if (!outcome.matched) {
    Check(outcome.allowed && outcome.reported == -1 && outcome.result_count == 0, "no match");
  }
  bool enforced_denial = false;
  int previous = -1;
  for (std::size_t i = 0; i < outcome.result_count; ++i) {
    const EvalOutcome::PolicyResult& r = outcome.results[i];
    Check(r.policy < s.set->size(), "result policy in range");
    Check(static_cast<int>(r.policy) > previous, "results in policy order, no repeats");
    previous = r.policy;
    const bool shadow = s.set->policy(r.policy).mode == sluice::net::PolicyMode::kShadow;
    Check(r.shadow == shadow, "shadow flag matches the policy");
    if (!r.allowed && !r.shadow) enforced_denial = true;
  }
  if (outcome.result_count > 0) Check(outcome.matched, "results imply matched");
  Check(outcome.allowed == !enforced_denial, "allowed iff no enforcing policy denied");
  Check(static_cast<std::size_t>(outcome.forwarded_missing) < sluice::net::kForwardedMissingKinds,
        "forwarded_missing in range");
  if (outcome.reported >= 0) {
    Check(outcome.decision.remaining >= 0 &&
              static_cast<std::uint64_t>(outcome.decision.remaining) <=
                  s.set->policy(static_cast<std::size_t>(outcome.reported)).burst,
          "remaining in [0, burst]");
    Check(outcome.key.data() == nullptr || outcome.key.empty() ||
              (outcome.key.data() >= s.scratch->buffer.data() &&
               outcome.key.data() + outcome.key.size() <=
                   s.scratch->buffer.data() + s.scratch->buffer.size()),
          "key views into the scratch");
    char rendered[64];
    const std::size_t written = sluice::net::FormatKey(outcome.key, rendered, sizeof(rendered));
    Check(written <= sizeof(rendered), "FormatKey within capacity");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Set fitting = MakeSet("");
  static Set small = MakeSet("limits: {header_bytes: 256, uri_bytes: 16}\n");
  static Set forwarded = MakeSet(
      "forwarded:\n  trusted: [192.0.2.0/24, \"2001:db8::/32\"]\n  client_ip: x-forwarded-for\n"
      "  hops: 2\n  uri: x-original-uri\n  method: x-original-method\n");
  static const Peers peers;
  static std::int64_t clock_ns = 1'000'000'000;
  static sluice::net::HttpRequest request;

  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parsed = sluice::net::ParseRequestHead(input, sluice::net::HttpLimits{}, request);
  if (parsed.status != sluice::net::ParseResult::Status::kComplete) return 0;
  clock_ns += 1'000'000 * static_cast<std::int64_t>(size % 7);  // time moves, sometimes not
  const std::chrono::nanoseconds now(clock_ns);
  for (Set* s : {&fitting, &small, &forwarded}) {
    Evaluate(*s, request, reinterpret_cast<const sockaddr*>(&peers.v4), now);
    Evaluate(*s, request, reinterpret_cast<const sockaddr*>(&peers.v6), now);
    Evaluate(*s, request, nullptr, now);
  }
  return 0;
}
