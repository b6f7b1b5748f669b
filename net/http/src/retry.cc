// The retry predicate (see retry.h).
#include "sluice/net/http/retry.h"

#include <cstdint>
#include <string_view>

namespace sluice::net {

bool IsIdempotent(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

bool ShouldRetry(const AttemptFacts& facts, std::uint32_t max_retries) noexcept {
  if (facts.retries_done >= max_retries || facts.sent_to_client || facts.tunnel ||
      facts.answer_started || facts.failure == AttemptFailure::kMalformed) {
    return false;
  }
  // Nothing reached the upstream: any request may go elsewhere (no body byte was taken either,
  // since the head goes first).
  if (!facts.wrote_any) return true;
  // Something was written: only the stale pooled connection, for a request the upstream may
  // see twice. A timeout is not that race (the upstream was there and slow): never retried.
  return facts.reused && facts.failure != AttemptFailure::kTimeout && IsIdempotent(facts.method) &&
         facts.body_replayable;
}

}  // namespace sluice::net
