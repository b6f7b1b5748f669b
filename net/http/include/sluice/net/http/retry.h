// When a proxied request may be sent again after its attempt failed (DESIGN.md "Proxy mode"):
// only if nothing of it reached the upstream, or if it is idempotent and a reused (pooled)
// connection failed before any byte of an answer arrived, the stale-connection race every
// pooling proxy meets (the upstream closed an idle connection as we reused it). Never after any
// byte of an answer went to the client, never a tunnel, never a body we no longer hold, and at
// most `retry.attempts` times per request (RFC 9110 section 9.2.2: a proxy MUST NOT retry
// non-idempotent requests automatically; it SHOULD NOT retry a failed retry more than asked).
#ifndef SLUICE_NET_HTTP_RETRY_H_
#define SLUICE_NET_HTTP_RETRY_H_

#include <cstdint>
#include <string_view>

namespace sluice::net {

// GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 section 9.2.2); methods are case-sensitive.
[[nodiscard]] bool IsIdempotent(std::string_view method) noexcept;

// How an attempt failed.
enum class AttemptFailure : std::uint8_t {
  kConnect,    // connect refused, reset or timed out: nothing was written
  kWrite,      // the connection failed while we wrote the request
  kClosed,     // reset or closed by the upstream while we waited for (or read) the answer
  kTimeout,    // the response-header or idle timeout fired
  kMalformed,  // the answer was unusable: an answer did arrive, so never retried
};

struct AttemptFacts {
  std::string_view method;
  AttemptFailure failure = AttemptFailure::kConnect;
  bool wrote_any = false;          // any byte of the request was written to the upstream socket
  bool reused = false;             // the connection came from the pool
  bool answer_started = false;     // any byte of an answer arrived from the upstream
  bool sent_to_client = false;     // any byte of the answer (or a 1xx) went to the client
  bool body_replayable = true;     // no body, or every byte of it is still held
  bool tunnel = false;             // an Upgrade tunnel
  std::uint32_t retries_done = 0;  // earlier retries of this request
};

// Whether to try the request again (on a fresh connection), with `max_retries` allowed.
[[nodiscard]] bool ShouldRetry(const AttemptFacts& facts, std::uint32_t max_retries) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_RETRY_H_
