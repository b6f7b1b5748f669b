#include "load/response.h"

#include <cstring>

namespace sluice::load {

namespace {

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxBody = std::size_t{1} << 30;

char Lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Does `line` start with `name` (lower case, with its colon), ignoring case?
bool HasName(std::string_view line, std::string_view name) noexcept {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (Lower(line[i]) != name[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view v) noexcept {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

ResponseHead ParseResponse(std::string_view data) noexcept {
  ResponseHead head;
  // "HTTP/1.1 200 " is 13 bytes; check what is there so garbage fails early.
  constexpr std::string_view kVersion = "HTTP/1.";
  const std::size_t prefix = data.size() < kVersion.size() ? data.size() : kVersion.size();
  if (data.substr(0, prefix) != kVersion.substr(0, prefix)) {
    head.result = ResponseHead::Result::kError;
    return head;
  }
  const void* found = memmem(data.data(), data.size(), "\r\n\r\n", 4);
  if (found == nullptr) {
    if (data.size() > kMaxHead) head.result = ResponseHead::Result::kError;
    return head;
  }
  const std::size_t head_end =
      static_cast<std::size_t>(static_cast<const char*>(found) - data.data()) + 4;
  if (head_end < 16 || data[8] != ' ' || (data[12] != ' ' && data[12] != '\r')) {
    head.result = ResponseHead::Result::kError;
    return head;
  }
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (data[i] < '0' || data[i] > '9') {
      head.result = ResponseHead::Result::kError;
      return head;
    }
    status = status * 10 + (data[i] - '0');
  }
  head.status = status;
  bool have_length = false;
  std::size_t body = 0;
  // Header lines, from the one after the status line to the blank line.
  std::size_t pos = static_cast<std::size_t>(
      static_cast<const char*>(memchr(data.data(), '\n', head_end)) - data.data() + 1);
  while (pos + 2 < head_end) {
    const char* eol = static_cast<const char*>(memchr(data.data() + pos, '\n', head_end - pos));
    const std::size_t next = static_cast<std::size_t>(eol - data.data()) + 1;
    std::string_view line = data.substr(pos, next - pos - 1);  // without the '\n'
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    const char first = Lower(line[0]);
    if (first == 'c') {
      if (HasName(line, "content-length:")) {
        const std::string_view value = Trim(line.substr(15));
        if (value.empty() || have_length) {
          head.result = ResponseHead::Result::kError;
          return head;
        }
        for (const char c : value) {
          if (c < '0' || c > '9' || body > kMaxBody) {
            head.result = ResponseHead::Result::kError;
            return head;
          }
          body = body * 10 + static_cast<std::size_t>(c - '0');
        }
        have_length = true;
      } else if (HasName(line, "connection:")) {
        const std::string_view value = Trim(line.substr(11));
        head.close = value.size() == 5 && HasName(value, "close");
      }
    } else if (first == 't' && HasName(line, "transfer-encoding:")) {
      head.result = ResponseHead::Result::kError;  // chunked: not supported
      return head;
    }
    pos = next;
  }
  const bool bodiless = status < 200 || status == 204 || status == 304;
  if (!have_length && !bodiless) {
    head.result = ResponseHead::Result::kError;
    return head;
  }
  if (bodiless) body = 0;
  if (data.size() - head_end < body) return head;  // partial body
  head.length = head_end + body;
  head.result = ResponseHead::Result::kComplete;
  return head;
}

}  // namespace sluice::load
