// What sluiced answers when an upstream fails (DESIGN.md "Proxy mode"; RFC 9110 sections
// 15.6.3-15.6.5, and the peers' mapping in the research note): 502 when the upstream was
// reached and failed (refused, reset before an answer, malformed answer), 504 when it did not
// answer in time (connect, response header, idle), 503 when there is no server to try (every
// server ejected). Each cause has a stable metrics label.
#ifndef SLUICE_NET_PROXY_FAILURE_H_
#define SLUICE_NET_PROXY_FAILURE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::net {

enum class UpstreamCause : std::uint8_t {
  kRefused,         // connect refused or unreachable
  kConnectTimeout,  // connect_ms passed
  kReset,           // reset or closed before an answer (or while sending the request)
  kMalformed,       // an unusable answer
  kTimeout,         // response_header_ms, or idle_ms between body reads or writes
  kNoServer,        // every server ejected (or no connection could be had)
};
inline constexpr std::size_t kUpstreamCauses = 6;

// 502, 503 or 504.
[[nodiscard]] constexpr int StatusFor(UpstreamCause cause) noexcept {
  switch (cause) {
    case UpstreamCause::kConnectTimeout:
    case UpstreamCause::kTimeout:
      return 504;
    case UpstreamCause::kNoServer:
      return 503;
    case UpstreamCause::kRefused:
    case UpstreamCause::kReset:
    case UpstreamCause::kMalformed:
      return 502;
  }
  return 502;
}

// "refused", "connect_timeout", "reset", "malformed", "timeout", "no_server".
[[nodiscard]] std::string_view LabelFor(UpstreamCause cause) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_FAILURE_H_
