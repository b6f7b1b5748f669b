// FormatKey(): a decided key (KeyScratch encoding) as text for the decision log and humans.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string_view>

#include "forwarded.h"
#include "key_encoding.h"
#include "sluice/net/policy/policy_set.h"

namespace sluice::net {
namespace {

// Truncating text output for FormatKey().
class TextOut {
 public:
  TextOut(char* out, std::size_t capacity) noexcept : out_(out), capacity_(capacity) {}
  void Put(std::string_view s) noexcept {
    for (const char c : s) {
      if (size_ == capacity_) return;
      const auto u = static_cast<unsigned char>(c);
      out_[size_++] = u >= 0x20 && u < 0x7f ? c : '?';
    }
  }
  void PutIp(const unsigned char* bytes, std::size_t size, bool prefix64) noexcept {
    char text[INET6_ADDRSTRLEN] = {};
    unsigned char v6[kMaxIpBytes] = {};
    if (size == 4) {
      inet_ntop(AF_INET, bytes, text, sizeof(text));
      Put(text);
    } else if (size == 8 || size == kMaxIpBytes) {
      std::memcpy(v6, bytes, size);
      inet_ntop(AF_INET6, v6, text, sizeof(text));
      Put(text);
      if (prefix64) Put("/64");
    } else {
      Put("-");
    }
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  char* out_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

}  // namespace

std::size_t FormatKey(std::string_view key, char* out, std::size_t capacity) noexcept {
  TextOut text(out, capacity);
  std::size_t pos = 0;
  while (key.size() - pos >= kPartHeader) {
    const char kind = key[pos];
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) {
      length |= static_cast<std::uint32_t>(
                    static_cast<unsigned char>(key[pos + 1 + static_cast<std::size_t>(i)]))
                << (8 * i);
    }
    pos += kPartHeader;
    if (length > key.size() - pos) break;  // not a key of Evaluate()
    const std::string_view bytes = key.substr(pos, length);
    pos += length;
    if (text.size() != 0) text.Put(" ");
    const auto* raw = reinterpret_cast<const unsigned char*>(bytes.data());
    switch (kind) {
      case kKindIp:
      case kKindFallbackIp:
        text.Put("ip=");
        text.PutIp(raw, bytes.size(), false);
        break;
      case kKindIp64:
        text.Put("ip/64=");
        text.PutIp(raw, bytes.size(), true);
        break;
      case kKindHeader:
        text.Put("header=");
        text.Put(bytes);
        break;
      case kKindPath:
        text.Put("path=");
        text.Put(bytes);
        break;
      case kKindMethod:
        text.Put("method=");
        text.Put(bytes);
        break;
      default:
        text.Put("?=");
        text.Put(bytes);
        break;
    }
  }
  return text.size();
}

}  // namespace sluice::net
