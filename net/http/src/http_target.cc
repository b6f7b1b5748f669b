// Request-target checks and path normalisation (the rules are at the top of http_target.h).
#include "sluice/net/http/http_target.h"

#include <arpa/inet.h>

#include <cstring>

namespace sluice::net {
namespace {

inline bool IsAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

inline int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline char AsciiLower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 3986 reg-name bytes other than pct-encoded: unreserved and sub-delims.
inline bool IsRegNameByte(char c) noexcept {
  if (IsAlpha(c) || IsDigit(c)) return true;
  constexpr std::string_view kOther = "-._~!$&'()*+,;=";
  return kOther.find(c) != std::string_view::npos;
}

bool IsValidPort(std::string_view port) noexcept {
  if (port.empty() || port.size() > 5) return false;
  unsigned value = 0;
  for (const char c : port) {
    if (!IsDigit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool IsValidIpv6Literal(std::string_view text) noexcept {
  char z[INET6_ADDRSTRLEN];  // inet_pton wants a NUL-terminated string
  if (text.empty() || text.size() >= sizeof(z)) return false;
  std::memcpy(z, text.data(), text.size());
  z[text.size()] = '\0';
  unsigned char address[16];
  return inet_pton(AF_INET6, z, address) == 1;  // refuses zones ('%') and IPvFuture
}

bool IsValidRegName(std::string_view host) noexcept {
  if (host.empty()) return false;  // RFC 9110 section 4.2.1: an http URI has a host
  for (std::size_t i = 0; i < host.size(); ++i) {
    if (host[i] == '%') {
      if (host.size() - i < 3 || HexValue(host[i + 1]) < 0 || HexValue(host[i + 2]) < 0) {
        return false;
      }
      i += 2;
    } else if (!IsRegNameByte(host[i])) {
      return false;  // '@' (userinfo), ':' twice, '[', spaces...
    }
  }
  return true;
}

// A raw path byte: visible ASCII, as in a request target.
inline bool IsRawPathByte(char c) noexcept { return c >= 0x21 && c <= 0x7E; }

}  // namespace

bool IsValidMethod(std::string_view method) noexcept {
  if (method.empty()) return false;
  for (const char c : method) {
    if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_')) return false;
  }
  return true;
}

bool IsValidAuthority(std::string_view authority, bool port_required) noexcept {
  std::string_view host = authority;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    if (!IsValidIpv6Literal(authority.substr(1, close - 1))) return false;
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return false;
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (!IsValidRegName(host)) return false;
    if (colon != std::string_view::npos) rest = authority.substr(colon);
  }
  if (rest.empty()) return !port_required;
  return IsValidPort(rest.substr(1));  // rest is ":" port
}

bool RawPathOfTarget(std::string_view target, std::string_view& path) noexcept {
  if (target.empty() || target.find('#') != std::string_view::npos) return false;
  if (target.front() == '/') {  // origin-form
    path = target.substr(0, target.find('?'));
    return true;
  }
  // absolute-form: scheme "://" authority [ "/" path ] [ "?" query ]
  if (!IsAlpha(target.front())) return false;
  std::size_t i = 1;
  while (i < target.size() && (IsAlpha(target[i]) || IsDigit(target[i]) || target[i] == '+' ||
                               target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  if (target.substr(i, 3) != "://") return false;
  const std::string_view rest = target.substr(i + 3);
  const std::size_t end = rest.find_first_of("/?");
  if (!IsValidAuthority(rest.substr(0, end), false)) return false;
  if (end == std::string_view::npos || rest[end] == '?') {
    path = "/";  // static storage: no path means "/" (RFC 9112 section 3.2.1)
  } else {
    const std::string_view p = rest.substr(end);
    path = p.substr(0, p.find('?'));
  }
  return true;
}

NormalisedPath NormalisePath(std::string_view raw, char* scratch, std::size_t capacity) noexcept {
  using Status = NormalisedPath::Status;
  if (raw.empty() || raw.front() != '/') return {Status::kBadPath, {}};
  // Fast path: no '%', no "//", no "/." means nothing to rewrite (a "/." that starts a name
  // such as "/.well-known" takes the slow path and comes out unchanged).
  bool rewrite = false;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (!IsRawPathByte(c)) return {Status::kBadPath, {}};
    if (c == '%' || (c == '/' && i + 1 < raw.size() && (raw[i + 1] == '/' || raw[i + 1] == '.'))) {
      rewrite = true;
    }
  }
  if (!rewrite) return {Status::kOk, raw};
  if (raw.size() > capacity) return {Status::kTooLong, {}};

  // 1. Decode into the scratch.
  std::size_t n = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      scratch[n++] = raw[i];
      continue;
    }
    const int hi = raw.size() - i >= 3 ? HexValue(raw[i + 1]) : -1;
    const int lo = hi >= 0 ? HexValue(raw[i + 2]) : -1;
    if (lo < 0) return {Status::kBadPath, {}};
    const auto byte = static_cast<unsigned char>(hi * 16 + lo);
    if (byte < 0x20 || byte == 0x7F) return {Status::kBadPath, {}};  // incl. %00
    scratch[n++] = static_cast<char>(byte);
    i += 2;
  }

  // 2 and 3. Segments, in place: the write end `w` never passes the read position `r`. The
  // output so far is "" or "/seg/.../seg" (no trailing slash); `trailing` adds one at the end.
  std::size_t w = 0;
  std::size_t r = 0;
  bool trailing = false;
  while (r < n) {
    ++r;                                     // the '/' that starts a segment
    while (r < n && scratch[r] == '/') ++r;  // merge repeated slashes
    const std::size_t begin = r;
    while (r < n && scratch[r] != '/') ++r;
    const std::size_t size = r - begin;
    const char* segment = scratch + begin;
    if (size == 0 || (size == 1 && segment[0] == '.')) {
      trailing = true;  // "" only at the end (slashes merged); "." anywhere
      continue;
    }
    if (size == 2 && segment[0] == '.' && segment[1] == '.') {
      if (w == 0) return {Status::kBadPath, {}};  // above the root
      while (scratch[w - 1] != '/') --w;          // drop the last segment...
      --w;                                        // ...and its slash
      trailing = true;
      continue;
    }
    scratch[w++] = '/';
    std::memmove(scratch + w, segment, size);
    w += size;
    trailing = false;
  }
  if (w == 0 || trailing) scratch[w++] = '/';
  return {Status::kOk, std::string_view(scratch, w)};
}

bool PathStartsWith(std::string_view text, std::string_view prefix,
                    bool case_insensitive) noexcept {
  if (text.size() < prefix.size()) return false;
  if (!case_insensitive) return text.substr(0, prefix.size()) == prefix;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (AsciiLower(text[i]) != AsciiLower(prefix[i])) return false;
  }
  return true;
}

}  // namespace sluice::net
