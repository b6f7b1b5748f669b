// Preformatted HTTP responses. Templates are built once per config; per response only digits
// (status-dependent values, Retry-After, remaining, reset, Content-Length) and the cached Date
// are written, into a buffer owned by the connection. No allocation per response.
//
// Headers (IETF httpapi RateLimit draft, structured fields):
//   RateLimit-Policy: "per-ip";q=20;w=2     q = burst, w = ceil(b*T / 1 s)
//   RateLimit: "per-ip";r=0;t=1             r = remaining, t = ceil(reset_after / 1 s)
//   Retry-After: 1                          denials: ceil(retry_after / 1 s), at least 1;
//                                           absent when the cost can never be admitted
//   X-RateLimit-Limit/-Remaining/-Reset     when legacy_headers is on
#ifndef SLUICE_NET_RESPONSE_H_
#define SLUICE_NET_RESPONSE_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/net/config/config.h"
#include "sluice/net/policy/policy_set.h"

namespace sluice::net {

// The reason phrase of an HTTP status: "Too Many Requests" for 429, "OK" for 200; a generic
// one ("Client Error", "Server Error") for codes without a registered phrase we know.
std::string_view ReasonPhrase(int status) noexcept;

// "Fri, 27 Nov 2026 19:00:00 GMT", refreshed at most once per second per shard.
class DateCache {
 public:
  // Holds the current time from the start (system_clock::now()).
  DateCache();
  // Reformats only when the second changed. No allocation.
  void Refresh(std::chrono::system_clock::time_point now) noexcept;
  [[nodiscard]] std::string_view value() const noexcept;

 private:
  char text_[32] = {};
  long long second_ = -1;
};

class ResponseTemplates {
 public:
  explicit ResponseTemplates(const ServerConfig& config);
  ~ResponseTemplates();  // out of line: PolicyTemplate is complete only in response.cc
  ResponseTemplates(ResponseTemplates&&) noexcept;
  ResponseTemplates& operator=(ResponseTemplates&&) noexcept;

  // Writes the answer to a decided request into out[0, capacity). Returns bytes written, or 0
  // if `capacity` is too small (nothing is written then). `keep_alive` false adds
  // "Connection: close"; keep_alive on an HTTP/1.0 request (`minor_version` 0) adds
  // "Connection: keep-alive", which 1.0 clients need to reuse the connection. HEAD requests get
  // the same headers and no body. Policy `outcome.reported` indexes the config's policies.
  std::size_t WriteDecision(const EvalOutcome& outcome, bool keep_alive, bool head_request,
                            const DateCache& date, char* out, std::size_t capacity,
                            int minor_version = 1) const noexcept;
  // An error answer (400, 404, 408, 414, 431, 503, 505...) with a short text body (the reason
  // phrase in lower case) and Connection: close. A status outside 100..599 is answered as 500.
  // Returns 0 if `capacity` is too small (nothing is written then).
  // `keep_alive` (proxy mode's local answers whose request body can still be read past, such
  // as a 404 for no route) leaves the connection open instead: no Connection field for
  // HTTP/1.1, "Connection: keep-alive" for HTTP/1.0 (`minor_version` 0).
  std::size_t WriteError(int status, const DateCache& date, char* out, std::size_t capacity,
                         bool keep_alive = false, int minor_version = 1) const noexcept;
  // Proxy mode: the RateLimit-Policy and RateLimit fields (and the legacy X-RateLimit-* ones
  // when configured) of an admitted request's decision, each line CRLF-terminated, for the
  // forwarded answer. 0 when no enforcing policy reported, or when they do not fit `capacity`
  // (nothing is written then).
  std::size_t WriteRateLimitFields(const EvalOutcome& outcome, char* out,
                                   std::size_t capacity) const noexcept;
  // The largest response WriteDecision/WriteError can produce: size connection buffers by it.
  [[nodiscard]] std::size_t max_response_bytes() const noexcept { return max_bytes_; }

 private:
  struct PolicyTemplate;  // defined in response.cc
  std::vector<PolicyTemplate> policies_;
  std::size_t max_bytes_ = 0;
  std::string deny_line_;  // "HTTP/1.1 429 Too Many Requests\r\nDate: "
  int deny_status_ = 429;
  bool legacy_ = false;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_RESPONSE_H_
