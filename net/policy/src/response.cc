#include "sluice/net/policy/response.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sluice/gcra.h"

namespace sluice::net {
namespace {

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::size_t kDateBytes = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

constexpr std::string_view kOkHead = "HTTP/1.1 200 OK\r\nDate: ";
constexpr std::string_view kEmptyBody = "\r\nContent-Length: 0\r\n";
constexpr std::string_view kDenyBody = "rate limited\n";
constexpr std::string_view kDenyBodyHeaders =
    "\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n";
constexpr std::string_view kRetryAfter = "Retry-After: ";
constexpr std::string_view kReset = ";t=";
constexpr std::string_view kLegacyReset = "\r\nX-RateLimit-Reset: ";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kCloseHeader = "Connection: close\r\n";
constexpr std::string_view kKeepAliveHeader = "Connection: keep-alive\r\n";
static_assert(kDenyBody.size() == 13, "kDenyBodyHeaders states the body length");

// ceil(d / 1 s) for d >= 0; 0 for negative d.
std::uint64_t CeilSeconds(std::chrono::nanoseconds d) noexcept {
  const std::int64_t ns = d.count();
  if (ns <= 0) return 0;
  return static_cast<std::uint64_t>(ns / kNsPerSecond + (ns % kNsPerSecond != 0 ? 1 : 0));
}

std::size_t DecimalDigits(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

// Two digits at a time from a 200-byte table (the usual fast itoa).
constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

std::size_t FormatDecimal(std::uint64_t v, char* out) noexcept {
  char buf[20];
  char* p = buf + sizeof(buf);
  while (v >= 100) {
    const std::size_t i = static_cast<std::size_t>(v % 100) * 2;
    v /= 100;
    p -= 2;
    std::memcpy(p, kDigitPairs + i, 2);
  }
  if (v >= 10) {
    p -= 2;
    std::memcpy(p, kDigitPairs + static_cast<std::size_t>(v) * 2, 2);
  } else {
    *--p = static_cast<char>('0' + v);
  }
  const auto n = static_cast<std::size_t>(buf + sizeof(buf) - p);
  std::memcpy(out, p, n);
  return n;
}

// Responses are emitted twice over one template function: a Counter measures (when the
// caller's buffer might be too small), a Writer copies without checks (the size is known).
struct Counter {
  std::size_t size = 0;
  void Put(std::string_view s) noexcept { size += s.size(); }
  void PutLower(std::string_view s) noexcept { size += s.size(); }
  void PutUint(std::uint64_t v) noexcept { size += DecimalDigits(v); }
};

struct Writer {
  char* p;
  void Put(std::string_view s) noexcept {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void PutLower(std::string_view s) noexcept {
    for (const char c : s) *p++ = absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  void PutUint(std::uint64_t v) noexcept { p += FormatDecimal(v, p); }
};

enum class ConnectionHeader : std::uint8_t { kNone, kClose, kKeepAlive };

void PutConnection(auto& sink, ConnectionHeader c) noexcept {
  if (c == ConnectionHeader::kClose) sink.Put(kCloseHeader);
  if (c == ConnectionHeader::kKeepAlive) sink.Put(kKeepAliveHeader);
}

struct Reason {
  int status;
  std::string_view phrase;
};
constexpr Reason kReasons[] = {
    {200, "OK"},
    {204, "No Content"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {420, "Enhance Your Calm"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {511, "Network Authentication Required"},
};

int ValidStatus(int status) noexcept { return status >= 100 && status <= 599 ? status : 500; }

template <typename Sink>
void EmitError(Sink& sink, int status, std::string_view date,
               ConnectionHeader connection = ConnectionHeader::kClose) noexcept {
  const std::string_view reason = ReasonPhrase(status);
  char code[3] = {static_cast<char>('0' + status / 100), static_cast<char>('0' + status / 10 % 10),
                  static_cast<char>('0' + status % 10)};
  sink.Put("HTTP/1.1 ");
  sink.Put(std::string_view(code, 3));
  sink.Put(" ");
  sink.Put(reason);
  sink.Put("\r\nDate: ");
  sink.Put(date);
  sink.Put("\r\nContent-Type: text/plain\r\nContent-Length: ");
  sink.PutUint(reason.size() + 1);
  sink.Put("\r\n");
  PutConnection(sink, connection);
  sink.Put(kCrlf);
  sink.PutLower(reason);
  sink.Put("\n");
}

}  // namespace

std::string_view ReasonPhrase(int status) noexcept {
  for (const Reason& r : kReasons) {
    if (r.status == status) return r.phrase;
  }
  switch (status / 100) {
    case 1:
      return "Informational";
    case 2:
      return "Success";
    case 3:
      return "Redirection";
    case 4:
      return "Client Error";
    case 5:
      return "Server Error";
    default:
      return "Unknown";
  }
}

// ---- DateCache

DateCache::DateCache() { Refresh(std::chrono::system_clock::now()); }

void DateCache::Refresh(std::chrono::system_clock::time_point now) noexcept {
  const long long second = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
  if (second == second_) return;
  const auto t = static_cast<std::time_t>(second);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return;
  static constexpr char kDays[] = "SunMonTueWedThuFriSat";
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const auto two = [](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  char* p = text_;
  std::memcpy(p, kDays + 3 * std::clamp(tm.tm_wday, 0, 6), 3);
  p[3] = ',';
  p[4] = ' ';
  two(p + 5, tm.tm_mday);
  p[7] = ' ';
  std::memcpy(p + 8, kMonths + 3 * std::clamp(tm.tm_mon, 0, 11), 3);
  p[11] = ' ';
  const int year = std::clamp(tm.tm_year + 1900, 0, 9999);
  two(p + 12, year / 100);
  two(p + 14, year % 100);
  p[16] = ' ';
  two(p + 17, tm.tm_hour);
  p[19] = ':';
  two(p + 20, tm.tm_min);
  p[22] = ':';
  two(p + 23, tm.tm_sec);
  std::memcpy(p + 25, " GMT", 4);
  second_ = second;
}

std::string_view DateCache::value() const noexcept { return {text_, kDateBytes}; }

// ---- ResponseTemplates

struct ResponseTemplates::PolicyTemplate {
  // RateLimit-Policy: "NAME";q=B;w=W\r\nRateLimit: "NAME";r=
  std::string head;
  // \r\nX-RateLimit-Limit: B\r\nX-RateLimit-Remaining:
  std::string legacy;
};

namespace {

struct DecisionParts {
  std::string_view status_head;  // status line and "Date: "
  std::string_view date;
  bool denied = false;
  bool retry = false;  // Retry-After present
  std::uint64_t retry_s = 0;
  std::string_view head;    // empty: no rate-limit headers
  std::string_view legacy;  // empty: no legacy headers
  std::uint64_t remaining = 0;
  std::uint64_t reset_s = 0;
  ConnectionHeader connection = ConnectionHeader::kNone;
  bool body = false;
};

template <typename Sink>
void EmitDecision(Sink& sink, const DecisionParts& d) noexcept {
  sink.Put(d.status_head);
  sink.Put(d.date);
  sink.Put(d.denied ? kDenyBodyHeaders : kEmptyBody);
  if (d.retry) {
    sink.Put(kRetryAfter);
    sink.PutUint(d.retry_s);
    sink.Put(kCrlf);
  }
  if (!d.head.empty()) {
    sink.Put(d.head);
    sink.PutUint(d.remaining);
    sink.Put(kReset);
    sink.PutUint(d.reset_s);
    if (!d.legacy.empty()) {
      sink.Put(d.legacy);
      sink.PutUint(d.remaining);
      sink.Put(kLegacyReset);
      sink.PutUint(d.reset_s);
    }
    sink.Put(kCrlf);
  }
  PutConnection(sink, d.connection);
  sink.Put(kCrlf);
  if (d.body) sink.Put(kDenyBody);
}

}  // namespace

ResponseTemplates::ResponseTemplates(const ServerConfig& config)
    : deny_status_(ValidStatus(config.deny_status)), legacy_(config.legacy_headers) {
  deny_line_ = absl::StrCat("HTTP/1.1 ", deny_status_, " ", std::string(ReasonPhrase(deny_status_)),
                            "\r\nDate: ");
  policies_.reserve(config.policies.size());
  for (const ServerPolicy& p : config.policies) {
    // w = ceil(b*T / 1 s) with the engine's T; a policy the engine would refuse (not from a
    // loaded config) gets the same formula with saturating arithmetic.
    std::uint64_t w = 0;
    if (auto params = GcraParams::Make(p.rate, p.burst); params.ok()) {
      w = CeilSeconds(std::chrono::nanoseconds{params->window});
    } else if (p.rate.count != 0) {
      const std::uint64_t t = std::max<std::uint64_t>(
          1, static_cast<std::uint64_t>(std::max<std::int64_t>(0, p.rate.period.count())) /
                 p.rate.count);
      const std::uint64_t window = p.burst > std::numeric_limits<std::uint64_t>::max() / t
                                       ? std::numeric_limits<std::uint64_t>::max()
                                       : p.burst * t;
      w = window / kNsPerSecond + (window % kNsPerSecond != 0 ? 1 : 0);
    }
    PolicyTemplate t;
    t.head = absl::StrCat("RateLimit-Policy: \"", p.name, "\";q=", p.burst, ";w=", w,
                          "\r\nRateLimit: \"", p.name, "\";r=");
    t.legacy = absl::StrCat("\r\nX-RateLimit-Limit: ", p.burst, "\r\nX-RateLimit-Remaining: ");
    policies_.push_back(std::move(t));
  }

  // The largest answers: every number at 20 digits, the longer Connection header, a body.
  const std::string date_text(kDateBytes, 'x');
  const std::string_view date = date_text;
  std::size_t max_bytes = 0;
  const auto consider = [&](const DecisionParts& d) {
    Counter c;
    EmitDecision(c, d);
    max_bytes = std::max(max_bytes, c.size);
  };
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max();
  DecisionParts worst{
      kOkHead, date, false, false, 0, {}, {}, big, big, ConnectionHeader::kKeepAlive, false};
  consider(worst);  // no policy
  for (const PolicyTemplate& t : policies_) {
    worst.head = t.head;
    worst.legacy = legacy_ ? std::string_view(t.legacy) : std::string_view();
    worst.status_head = kOkHead;
    worst.denied = false;
    worst.retry = false;
    worst.body = false;
    consider(worst);
    worst.status_head = deny_line_;
    worst.denied = true;
    worst.retry = true;
    worst.retry_s = big;
    worst.body = true;
    consider(worst);
  }
  for (int status = 100; status <= 599; ++status) {
    Counter c;
    EmitError(c, status, date);
    max_bytes = std::max(max_bytes, c.size);
    Counter k;
    EmitError(k, status, date, ConnectionHeader::kKeepAlive);
    max_bytes = std::max(max_bytes, k.size);
  }
  max_bytes_ = max_bytes;
}

ResponseTemplates::~ResponseTemplates() = default;
ResponseTemplates::ResponseTemplates(ResponseTemplates&&) noexcept = default;
ResponseTemplates& ResponseTemplates::operator=(ResponseTemplates&&) noexcept = default;

std::size_t ResponseTemplates::WriteDecision(const EvalOutcome& outcome, bool keep_alive,
                                             bool head_request, const DateCache& date, char* out,
                                             std::size_t capacity,
                                             int minor_version) const noexcept {
  DecisionParts d;
  d.date = date.value();
  if (!keep_alive) {
    d.connection = ConnectionHeader::kClose;
  } else if (minor_version == 0) {
    d.connection = ConnectionHeader::kKeepAlive;
  }
  const PolicyTemplate* t = nullptr;
  if (outcome.matched && outcome.reported >= 0 &&
      static_cast<std::size_t>(outcome.reported) < policies_.size()) {
    t = &policies_[static_cast<std::size_t>(outcome.reported)];
  }
  if (outcome.allowed) {
    d.status_head = kOkHead;
  } else {
    d.status_head = deny_line_;
    d.denied = true;
    d.body = !head_request;
    if (!outcome.decision.never()) {
      d.retry = true;
      d.retry_s = std::max<std::uint64_t>(1, CeilSeconds(outcome.decision.retry_after));
    }
  }
  if (t != nullptr) {
    d.head = t->head;
    if (legacy_) d.legacy = t->legacy;
    d.remaining = static_cast<std::uint64_t>(std::max<std::int64_t>(0, outcome.decision.remaining));
    d.reset_s = CeilSeconds(outcome.decision.reset_after);
  }
  if (capacity < max_bytes_) {
    Counter c;
    EmitDecision(c, d);
    if (c.size > capacity) return 0;
  }
  Writer w{out};
  EmitDecision(w, d);
  return static_cast<std::size_t>(w.p - out);
}

std::size_t ResponseTemplates::WriteError(int status, const DateCache& date, char* out,
                                          std::size_t capacity, bool keep_alive,
                                          int minor_version) const noexcept {
  status = ValidStatus(status);
  const ConnectionHeader connection = !keep_alive          ? ConnectionHeader::kClose
                                      : minor_version == 0 ? ConnectionHeader::kKeepAlive
                                                           : ConnectionHeader::kNone;
  if (capacity < max_bytes_) {
    Counter c;
    EmitError(c, status, date.value(), connection);
    if (c.size > capacity) return 0;
  }
  Writer w{out};
  EmitError(w, status, date.value(), connection);
  return static_cast<std::size_t>(w.p - out);
}

std::size_t ResponseTemplates::WriteRateLimitFields(const EvalOutcome& outcome, char* out,
                                                    std::size_t capacity) const noexcept {
  if (!outcome.matched || outcome.reported < 0 ||
      static_cast<std::size_t>(outcome.reported) >= policies_.size()) {
    return 0;
  }
  const PolicyTemplate& t = policies_[static_cast<std::size_t>(outcome.reported)];
  const std::uint64_t remaining =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, outcome.decision.remaining));
  const std::uint64_t reset_s = CeilSeconds(outcome.decision.reset_after);
  const auto emit = [&](auto& sink) {
    sink.Put(t.head);
    sink.PutUint(remaining);
    sink.Put(kReset);
    sink.PutUint(reset_s);
    if (legacy_) {
      sink.Put(t.legacy);
      sink.PutUint(remaining);
      sink.Put(kLegacyReset);
      sink.PutUint(reset_s);
    }
    sink.Put(kCrlf);
  };
  Counter c;
  emit(c);
  if (c.size > capacity) return 0;
  Writer w{out};
  emit(w);
  return static_cast<std::size_t>(w.p - out);
}

}  // namespace sluice::net
