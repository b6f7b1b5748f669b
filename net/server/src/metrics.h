// Per-shard counters: written only by their shard (relaxed load + store: one writer, no RMW
// needed), read by the admin thread with relaxed loads (statistics, no ordering promised).
#ifndef SLUICE_NET_SRC_METRICS_H_
#define SLUICE_NET_SRC_METRICS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "sluice/cacheline.h"
#include "sluice/net/config/config.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"
#include "sluice/net/proxy/failure.h"

namespace sluice::net {

// A counter with a single writer.
class Counter {
 public:
  void Add(std::uint64_t n = 1) noexcept {
    // Relaxed: only the owning shard writes; readers want a recent value, not an ordering.
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Set(std::uint64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t Get() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint64_t> value_{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct alignas(kCacheLine) ShardMetrics {
  Counter requests_unmatched;  // no policy applied: 200 without headers
  Counter requests_allowed;    // at least one policy applied, admitted
  Counter requests_denied;
  Counter connections_accepted;
  Counter connections_refused;  // over max_connections_per_shard, or while stopping
  Counter connections_open;     // gauge
  Counter accept_errors;        // EMFILE, ENFILE, ENOMEM...
  // One counter per ParseError (kParseErrorKinds, next to the enum in http_parser.h: a smaller
  // array once made every bad_host request write past it into body_errors).
  Counter parse_errors[kParseErrorKinds];
  Counter body_errors;  // bad chunked framing
  // Requests refused after parsing, by what a policy found (index: EvalOutcome::Refusal; [0]
  // unused): a repeated key header, a trusted proxy's uri or method that breaks the rules.
  Counter refusals[kRefusalKinds];
  Counter header_timeouts;
  Counter idle_timeouts;
  Counter input_overflows;   // a client that sent far more than it read: closed
  Counter buffer_exhausted;  // the shard's buffer budget was spent: connection closed
  Counter recv_enobufs;      // buffer ring ran dry; recv re-armed after replenishing
  Counter recv_paused;       // reading stopped because output was backed up
  Counter loop_passes;
  Counter completions;
  Counter log_dropped;  // decision log records dropped (queue full)
  // Requests from peers outside `forwarded: trusted` that carried a configured forwarded
  // header (ignored); requests from trusted peers without a usable client address, by reason
  // (index: ForwardedMissing; [0] unused).
  Counter forwarded_untrusted;
  Counter forwarded_missing[kForwardedMissingKinds];

  // Proxy mode (issue 12), this shard's share.
  Counter proxy_forwarded;       // requests handed to an upstream
  Counter proxy_answers[6];      // answers relayed, by status class ([1] 1xx ... [5] 5xx)
  Counter proxy_no_route;        // 404: no route matched
  Counter proxy_no_server;       // 503: every server ejected, or no connection slot
  Counter proxy_body_too_large;  // 413
  Counter proxy_retries;
  Counter proxy_aborted;      // a client connection cut mid-answer
  Counter proxy_malformed;    // unusable upstream answers (502)
  Counter proxy_client_gone;  // a client left before its answer was complete
  Counter proxy_ejections;
  Counter proxy_status[3];  // local 502, 503, 504 answers
  Counter upstream_opened;  // connections made
  Counter upstream_reused;  // requests sent on a pooled connection
  Counter upstream_closed;
  Counter upstream_refused;  // connect failed (refused, unreachable)
  Counter upstream_connect_timeouts;
  Counter upstream_resets;        // reset or failed while sending or receiving
  Counter upstream_timeouts;      // response-header or idle timeout
  Counter upstream_idle_closed;   // a pooled connection closed by its upstream
  Counter upstream_idle_expired;  // a pooled connection past pool.idle_timeout_ms
};

// Upstream latency buckets (seconds, as Prometheus wants them): request forwarded to answer
// relayed. The counters are per bucket (not cumulative); the text output sums them up.
inline constexpr std::size_t kLatencyBuckets = 14;
inline constexpr std::int64_t kLatencyBoundsNs[kLatencyBuckets] = {
    500'000,       1'000'000,     2'500'000,     5'000'000,     10'000'000,
    25'000'000,    50'000'000,    100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

// Per upstream, per shard; lives in the Runtime it counts for, as PolicyMetrics do.
struct alignas(kCacheLine) UpstreamMetrics {
  Counter answers[5];               // relayed answers by class: [0] 1xx ... [4] 5xx
  Counter errors[kUpstreamCauses];  // answered by sluiced (502/503/504) or cut, by cause
  Counter aborted;                  // client connections cut mid-answer
  Counter retries;
  Counter ejections;
  Counter opened;                        // upstream connections made
  Counter reused;                        // requests sent on a pooled connection
  Counter idle;                          // gauge: pooled idle connections (sampled at the sweep)
  Counter active;                        // gauge: connections carrying a request (sampled)
  Counter latency[kLatencyBuckets + 1];  // [kLatencyBuckets]: above the last bound (+Inf)
  Counter latency_sum_ns;
};

// Per policy, per shard; lives in the config snapshot (Runtime) it counts for.
struct alignas(kCacheLine) PolicyMetrics {
  Counter admitted;
  Counter denied;
  Counter shadow_denied;
  Counter missing_key;
  // Admitted by this policy, then given back because a later enforcing policy denied.
  Counter refunded;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_METRICS_H_
