#include "forwarded.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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

// IpPrefix (config.h) is parsed here, next to the code that matches peers against it.
absl::StatusOr<IpPrefix> IpPrefix::Parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::string_view(text.data(), text.size()),
                     "': ", absl::string_view(why.data(), why.size()),
                     " (expected an IP address or CIDR prefix, e.g. 10.0.0.0/8 or ::1)"));
  };
  const std::size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  IpPrefix p;
  if (address.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, address.c_str(), p.bytes) != 1) return bad("not an IPv6 address");
    p.size = 16;
  } else {
    if (inet_pton(AF_INET, address.c_str(), p.bytes) != 1) return bad("not an IPv4 address");
    p.size = 4;
  }
  const unsigned max_bits = 8u * p.size;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    unsigned length = 0;
    const auto r = std::from_chars(digits.data(), end, length);
    if (digits.empty() || digits.front() < '0' || digits.front() > '9' || r.ec != std::errc() ||
        r.ptr != end || length > max_bits) {
      return bad(absl::StrCat("the prefix length must be a number in 0..", max_bits));
    }
    bits = length;
  }
  // Host bits must be zero: "10.0.0.1/8" may mean 10.0.0.0/8 or a typo for 10.0.0.1/32.
  for (unsigned i = bits; i < max_bits; ++i) {
    if ((p.bytes[i / 8] >> (7 - i % 8)) & 1u) {
      IpPrefix network = p;
      for (unsigned k = bits; k < max_bits; ++k) {
        network.bytes[k / 8] =
            static_cast<unsigned char>(network.bytes[k / 8] & ~(1u << (7 - k % 8)));
      }
      network.length = static_cast<std::uint8_t>(bits);
      return bad(absl::StrCat("bits are set after the /", bits, " prefix (did you mean ",
                              network.ToString(), "?)"));
    }
  }
  p.length = static_cast<std::uint8_t>(bits);
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4: peers are compared that way.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (p.size == 16 && p.length >= 96 && std::memcmp(p.bytes, kMapped, 12) == 0) {
    std::memmove(p.bytes, p.bytes + 12, 4);
    std::memset(p.bytes + 4, 0, 12);
    p.size = 4;
    p.length = static_cast<std::uint8_t>(p.length - 96);
  }
  return p;
}

std::string IpPrefix::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(size == 4 ? AF_INET : AF_INET6, bytes, text, sizeof(text));
  if (length == 8u * size) return text;
  return absl::StrCat(text, "/", length);
}

bool IpPrefix::Contains(const unsigned char* ip, std::size_t ip_size) const noexcept {
  if (ip_size != size) return false;
  const std::size_t whole = length / 8u;
  if (std::memcmp(ip, bytes, whole) != 0) return false;
  const unsigned rest = length % 8u;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xffu << (8 - rest));
  return (ip[whole] & mask) == (bytes[whole] & mask);
}

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

NormalisedPath ForwardedPath(std::string_view target, char* scratch,
                             std::size_t capacity) noexcept {
  std::string_view raw;
  if (!RawPathOfTarget(target, raw)) return {NormalisedPath::Status::kBadPath, {}};
  return NormalisePath(raw, scratch, capacity);
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
