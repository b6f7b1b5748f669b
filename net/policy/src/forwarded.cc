#include "forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace sluice::net {
namespace {

// `lower` is already lower-case (config names are).
bool EqualsLower(std::string_view name, std::string_view lower) noexcept {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

std::string_view TrimSpaces(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

IpBytes IpOfPeer(const sockaddr* peer) noexcept {
  IpBytes ip;
  if (peer == nullptr) return ip;
  if (peer->sa_family == AF_INET) {
    sockaddr_in a;
    std::memcpy(&a, peer, sizeof(a));
    std::memcpy(ip.bytes, &a.sin_addr, 4);
    ip.size = 4;
  } else if (peer->sa_family == AF_INET6) {
    sockaddr_in6 a;
    std::memcpy(&a, peer, sizeof(a));
    if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
      std::memcpy(ip.bytes, a.sin6_addr.s6_addr + 12, 4);
      ip.size = 4;
    } else {
      std::memcpy(ip.bytes, a.sin6_addr.s6_addr, kMaxIpBytes);
      ip.size = kMaxIpBytes;
    }
  }
  return ip;
}

bool IsTrusted(const ForwardedConfig& config, const IpBytes& ip) noexcept {
  if (ip.size == 0) return false;
  return std::any_of(config.trusted.begin(), config.trusted.end(),
                     [&](const IpPrefix& prefix) { return prefix.Contains(ip.bytes, ip.size); });
}

const HttpHeader* FindLastHeader(const HttpRequest& request, std::string_view lower) noexcept {
  for (std::size_t i = std::min(request.header_count, kMaxHeaders); i-- > 0;) {
    const HttpHeader& h = request.headers[i];
    if (!h.value.empty() && EqualsLower(h.name, lower)) return &h;
  }
  return nullptr;
}

std::string_view PathOfTarget(std::string_view target) noexcept {
  const std::size_t scheme = target.find("://");
  if (scheme != std::string_view::npos && target.find_first_of("/?#") == scheme + 1) {
    const std::string_view rest = target.substr(scheme + 3);
    const std::size_t begin = rest.find_first_of("/?#");
    if (begin == std::string_view::npos || rest[begin] != '/') return "/";
    target = rest.substr(begin);
  }
  return target.substr(0, target.find_first_of("?#"));
}

bool ParseClientIp(std::string_view text, IpBytes& out) noexcept {
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    if (text.size() < 2 || text.back() != ']') return false;
    text = text.substr(1, text.size() - 2);
    bracketed = true;
  }
  char z[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(z)) return false;
  std::memcpy(z, text.data(), text.size());
  z[text.size()] = '\0';
  if (text.find(':') == std::string_view::npos) {
    if (bracketed || inet_pton(AF_INET, z, out.bytes) != 1) return false;
    out.size = 4;
    return true;
  }
  unsigned char v6[kMaxIpBytes];
  if (inet_pton(AF_INET6, z, v6) != 1) return false;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMapped, sizeof(kMapped)) == 0) {
    std::memcpy(out.bytes, v6 + 12, 4);
    out.size = 4;
  } else {
    std::memcpy(out.bytes, v6, kMaxIpBytes);
    out.size = kMaxIpBytes;
  }
  return true;
}

ForwardedMissing ClientFromHeader(const ForwardedConfig& f, const HttpRequest& request,
                                  IpBytes& out) noexcept {
  std::uint32_t seen = 0;
  for (std::size_t i = std::min(request.header_count, kMaxHeaders); i-- > 0;) {
    const HttpHeader& h = request.headers[i];
    if (!EqualsLower(h.name, f.client_ip)) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const std::size_t comma = rest.rfind(',');
      const std::string_view element =
          TrimSpaces(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      if (element.empty()) continue;
      if (++seen == f.hops) {
        return ParseClientIp(element, out) ? ForwardedMissing::kNone : ForwardedMissing::kInvalid;
      }
    }
  }
  return seen == 0 ? ForwardedMissing::kAbsent : ForwardedMissing::kTooFewHops;
}

}  // namespace sluice::net
