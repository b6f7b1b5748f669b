#include "sim/log_json.h"

#include <cstring>

namespace sluice::sim::json {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

}  // namespace

// The closing quote of a quoted field whose first byte is at `i`, skipping backslash escapes;
// npos when it does not close.
std::size_t CloseQuote(std::string_view s, std::size_t i) noexcept {
  while (i < s.size()) {
    const char* q = static_cast<const char*>(std::memchr(s.data() + i, '"', s.size() - i));
    if (q == nullptr) return std::string_view::npos;
    const std::size_t at = static_cast<std::size_t>(q - s.data());
    std::size_t slashes = 0;
    while (at - slashes > i && s[at - slashes - 1] == '\\') ++slashes;
    if (slashes % 2 == 0) return at;
    i = at + 1;
  }
  return std::string_view::npos;
}

// Skips whitespace.
std::size_t SkipWs(std::string_view s, std::size_t i) noexcept {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
  return i;
}

// JSON: the end of the value starting at `i` (one past it), npos when malformed. `string` says
// whether it is a string (then [i+1, end-1) is its raw text) and `escaped` whether it has '\'.
std::size_t ValueEnd(std::string_view s, std::size_t i, bool& string, bool& escaped) noexcept {
  string = false;
  escaped = false;
  if (i >= s.size()) return std::string_view::npos;
  if (s[i] == '"') {
    const std::size_t close = CloseQuote(s, i + 1);
    if (close == std::string_view::npos) return close;
    string = true;
    escaped = std::memchr(s.data() + i + 1, '\\', close - i - 1) != nullptr;
    return close + 1;
  }
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    for (std::size_t j = i; j < s.size(); ++j) {
      const char c = s[j];
      if (c == '"') {
        j = CloseQuote(s, j + 1);
        if (j == std::string_view::npos) return j;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return j + 1;
      }
    }
    return std::string_view::npos;
  }
  std::size_t j = i;
  while (j < s.size() && s[j] != ',' && s[j] != '}' && s[j] != ' ' && s[j] != '\t') ++j;
  return j == i ? std::string_view::npos : j;
}

// JSON string escapes to UTF-8. False: a bad escape.
bool Unescape(std::string_view raw, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      out.push_back(raw[i]);
      continue;
    }
    if (++i == raw.size()) return false;
    switch (raw[i]) {
      case '"':
      case '\\':
      case '/':
        out.push_back(raw[i]);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        if (raw.size() - i < 5) return false;
        unsigned cp = 0;
        for (int k = 1; k <= 4; ++k) {
          const int h = HexDigit(raw[i + static_cast<std::size_t>(k)]);
          if (h < 0) return false;
          cp = cp * 16 + static_cast<unsigned>(h);
        }
        i += 4;
        // Surrogates are kept as their own 3-byte sequences: a key needs identity, not text.
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
          out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

}  // namespace sluice::sim::json
