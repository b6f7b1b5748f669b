// A bounded writer for the heads net/http builds into caller-owned buffers (the forwarded
// request, the client's answer head): appends until a write does not fit, then fails every
// later write, so a builder writes everything and checks overflow() once at the end.
#ifndef SLUICE_NET_HTTP_SRC_HEAD_WRITER_H_
#define SLUICE_NET_HTTP_SRC_HEAD_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice::net::http_text {

class Writer {
 public:
  Writer(char* out, std::size_t capacity) noexcept : out_(out), capacity_(capacity) {}
  void Put(std::string_view s) noexcept {
    if (overflow_ || s.size() > capacity_ - size_) {
      overflow_ = true;
      return;
    }
    if (!s.empty()) std::memcpy(out_ + size_, s.data(), s.size());
    size_ += s.size();
  }
  void PutDecimal(std::uint64_t value) noexcept {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[sizeof(digits) - 1 - n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    Put(std::string_view(digits + sizeof(digits) - n, n));
  }
  void Field(std::string_view name, std::string_view value) noexcept {
    Put(name);
    Put(": ");
    Put(value);
    Put("\r\n");
  }
  [[nodiscard]] bool overflow() const noexcept { return overflow_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  char* const out_;
  const std::size_t capacity_;
  std::size_t size_ = 0;
  bool overflow_ = false;
};

}  // namespace sluice::net::http_text

#endif  // SLUICE_NET_HTTP_SRC_HEAD_WRITER_H_
