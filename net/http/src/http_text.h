// Byte classes and small text helpers of HTTP/1.1 (RFC 9110 section 5.6), shared by the parts of
// net/http that read or write upstream traffic: the response parser, the chunked decoder, the
// hop-by-hop classifier and the request re-serialiser. Constexpr tables and inline functions
// only: nothing here allocates or throws.
#ifndef SLUICE_NET_HTTP_SRC_HTTP_TEXT_H_
#define SLUICE_NET_HTTP_SRC_HTTP_TEXT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::net::http_text {

// kToken: tchar. kValue: a field-value byte (VCHAR, obs-text, SP, HTAB). kOws: SP or HTAB.
// kQdText: what a quoted-string may hold unescaped. kHex: a hex digit.
enum : std::uint8_t { kToken = 1, kValue = 2, kOws = 4, kQdText = 8, kHex = 16 };

constexpr std::array<std::uint8_t, 256> MakeByteClasses() {
  std::array<std::uint8_t, 256> table{};
  constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  for (unsigned c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9';
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    unsigned bits = 0;
    if (digit || alpha || kTokenPunctuation.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kToken;
    }
    if ((c >= 0x20 && c <= 0x7E) || c == '\t' || c >= 0x80) bits |= kValue;
    if (c == ' ' || c == '\t') bits |= kOws;
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
        (c >= 0x5D && c <= 0x7E) || c >= 0x80) {
      bits |= kQdText;
    }
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) bits |= kHex;
    table[c] = static_cast<std::uint8_t>(bits);
  }
  return table;
}

inline constexpr std::array<std::uint8_t, 256> kByteClasses = MakeByteClasses();

inline bool Is(char c, std::uint8_t byte_class) noexcept {
  return (kByteClasses[static_cast<unsigned char>(c)] & byte_class) != 0;
}

// The first byte in [p, end) outside `byte_class`, or end.
inline const char* SkipClass(const char* p, const char* end, std::uint8_t byte_class) noexcept {
  while (end - p >= 4) {
    if (!Is(p[0], byte_class)) return p;
    if (!Is(p[1], byte_class)) return p + 1;
    if (!Is(p[2], byte_class)) return p + 2;
    if (!Is(p[3], byte_class)) return p + 3;
    p += 4;
  }
  while (p < end && Is(*p, byte_class)) ++p;
  return p;
}

inline bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

inline char AsciiLower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `lower` must be lower-case already (the names we compare against are literals).
inline bool EqualsLower(std::string_view s, std::string_view lower) noexcept {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (AsciiLower(s[i]) != lower[i]) return false;
  }
  return true;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline std::string_view TrimOws(std::string_view s) noexcept {
  while (!s.empty() && Is(s.front(), kOws)) s.remove_prefix(1);
  while (!s.empty() && Is(s.back(), kOws)) s.remove_suffix(1);
  return s;
}

inline int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls fn(element) for each element of a comma-separated list, OWS trimmed, empty elements
// included; stops at (and returns) the first result fn gives that is not `ok`.
template <typename Result, typename Fn>
Result ForEachListElement(std::string_view list, Result ok, Fn&& fn) noexcept {
  for (;;) {
    const std::size_t comma = list.find(',');
    const Result result = fn(TrimOws(list.substr(0, comma)));
    if (result != ok || comma == std::string_view::npos) return result;
    list.remove_prefix(comma + 1);
  }
}

// 1*DIGIT into `out`; false on an empty string, a non-digit or overflow of 64 bits.
inline bool ParseDecimal(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  std::uint64_t value = 0;
  for (const char c : s) {
    if (!IsDigit(c)) return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

}  // namespace sluice::net::http_text

#endif  // SLUICE_NET_HTTP_SRC_HTTP_TEXT_H_
