// Reading what a trusted proxy says about the request it forwards (`forwarded:` in the config):
// the client address from a header list, the original path and method. Allocation-free and
// noexcept: PolicySet::Evaluate() calls these per request. The semantics are documented at
// Evaluate() (policy_set.h) and in docs/config.md.
#ifndef SLUICE_NET_SRC_FORWARDED_H_
#define SLUICE_NET_SRC_FORWARDED_H_

#include <sys/socket.h>

#include <cstddef>
#include <string_view>

#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"

namespace sluice::net {

inline constexpr std::size_t kMaxIpBytes = 16;

// An address as key bytes.
struct IpBytes {
  unsigned char bytes[kMaxIpBytes] = {};
  std::size_t size = 0;  // 4 (IPv4, also IPv4-mapped IPv6), 16 (IPv6) or 0 (unknown)
};

// The address of a sockaddr_in / sockaddr_in6 (anything else, or nullptr: size 0).
IpBytes IpOfPeer(const sockaddr* peer) noexcept;

// Whether `ip` falls in one of `config.trusted` (an unknown address never does).
bool IsTrusted(const ForwardedConfig& config, const IpBytes& ip) noexcept;

// The last non-empty line of the header named `lower` (a lower-case name), or nullptr.
const HttpHeader* FindLastHeader(const HttpRequest& request, std::string_view lower) noexcept;

// The path of a request target sent in a header: origin-form "/a?q#f" gives "/a",
// absolute-form "http://h/a?q" gives "/a" ("/" without a path), anything else up to '?' or '#'.
std::string_view PathOfTarget(std::string_view target) noexcept;

// One element of a client-address list: IPv4, or IPv6 optionally in brackets; no port, no
// zone. IPv4-mapped IPv6 becomes IPv4. False when it is none of these.
bool ParseClientIp(std::string_view text, IpBytes& out) noexcept;

// The client address `config.client_ip` names: the config.hops-th non-empty element from the
// right of all lines of that header, taken as one list in order. kNone: `out` holds it.
ForwardedMissing ClientFromHeader(const ForwardedConfig& config, const HttpRequest& request,
                                  IpBytes& out) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_FORWARDED_H_
