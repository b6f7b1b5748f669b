// HTTP header values and the clock, through the C ABI. No allocation: values are built in a
// bounded stack buffer and copied out only when they fit.
#include <time.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "c_api/handles.h"

namespace sluice::c_api {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// ceil(ns / 1 s) for ns >= 0; 0 for negative values.
[[nodiscard]] std::uint64_t CeilSeconds(std::int64_t ns) noexcept {
  if (ns <= 0) return 0;
  const auto u = static_cast<std::uint64_t>(ns);
  return u / kNsPerSecond + (u % kNsPerSecond != 0 ? 1 : 0);
}

// Appends to a fixed buffer; remembers when something did not fit.
class Writer {
 public:
  Writer(char* buf, std::size_t cap) noexcept : buf_(buf), cap_(cap) {}
  void Put(char c) noexcept {
    if (len_ < cap_) {
      buf_[len_] = c;
    } else {
      overflow_ = true;
    }
    ++len_;
  }
  void Put(std::string_view s) noexcept {
    for (const char c : s) Put(c);
  }
  void PutUint(std::uint64_t v) noexcept {
    char digits[20];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) Put(digits[--n]);
  }
  // An RFC 8941 sf-string: "..." with '"' and '\' escaped.
  void PutQuoted(std::string_view s) noexcept {
    Put('"');
    for (const char c : s) {
      if (c == '"' || c == '\\') Put('\\');
      Put(c);
    }
    Put('"');
  }
  [[nodiscard]] std::size_t size() const noexcept { return len_; }
  [[nodiscard]] bool overflow() const noexcept { return overflow_; }

 private:
  char* buf_;
  std::size_t cap_;
  std::size_t len_ = 0;
  bool overflow_ = false;
};

}  // namespace
}  // namespace sluice::c_api

using sluice::c_api::CeilSeconds;
using sluice::c_api::Writer;

extern "C" {

int64_t sluice_now_ns(void) noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * sluice::c_api::kNsPerSecond + ts.tv_nsec;
}

int sluice_format_header(const sluice_limiter* l, uint32_t policy, const sluice_decision* d,
                         int which, char* buf, size_t len) noexcept {
  if (l == nullptr || d == nullptr || buf == nullptr) return SLUICE_EINVAL;
  if (which < SLUICE_HEADER_RETRY_AFTER || which > SLUICE_HEADER_RATELIMIT) return SLUICE_EINVAL;
  if (policy >= l->policy_count) return SLUICE_ENOPOLICY;
  if (len == 0) return SLUICE_ERANGE;
  // Names are at most 255 bytes (sluice_limiter_create): escaped, quoted and with two
  // 20-digit numbers this is always enough.
  char value[SLUICE_HEADER_VALUE_MAX(255)];
  Writer w(value, sizeof value);
  const sluice::Policy& p = l->limiter->policy(sluice::PolicyId{policy});
  switch (which) {
    case SLUICE_HEADER_RETRY_AFTER:
      if (d->allowed != 0 || (d->flags & SLUICE_DECISION_NEVER) != 0 || d->retry_after_ns < 0) {
        buf[0] = '\0';
        return 0;
      }
      w.PutUint(std::max<std::uint64_t>(1, CeilSeconds(d->retry_after_ns)));
      break;
    case SLUICE_HEADER_RATELIMIT_POLICY:
      w.PutQuoted(p.name());
      w.Put(";q=");
      w.PutUint(p.burst());
      w.Put(";w=");
      w.PutUint(CeilSeconds(p.params().window));
      break;
    case SLUICE_HEADER_RATELIMIT:
      w.PutQuoted(p.name());
      w.Put(";r=");
      w.PutUint(d->remaining < 0 ? 0 : static_cast<std::uint64_t>(d->remaining));
      w.Put(";t=");
      w.PutUint(CeilSeconds(d->reset_after_ns));
      break;
    default:
      return SLUICE_EINVAL;
  }
  if (w.overflow() || w.size() + 1 > len) return SLUICE_ERANGE;
  std::memcpy(buf, value, w.size());
  buf[w.size()] = '\0';
  return static_cast<int>(w.size());
}

}  // extern "C"
