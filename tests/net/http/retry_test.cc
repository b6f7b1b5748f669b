// The retry predicate as a decision table: method x how the attempt failed x what was written
// x reused x answer bytes x body replayable x client bytes x tunnel x retries left, against
// DESIGN.md's rule written out independently here.
#include "sluice/net/http/retry.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::net {
namespace {

TEST(RetryTest, IdempotentMethods) {
  for (const std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(IsIdempotent(m)) << m;
  }
  for (const std::string_view m : {"POST", "PATCH", "LOCK", "CONNECT", "get", "PROPFIND", ""}) {
    EXPECT_FALSE(IsIdempotent(m)) << m;
  }
}

TEST(RetryTest, DecisionTable) {
  int rows = 0;
  int retried = 0;
  for (const std::string_view method : {"GET", "PUT", "POST", "PATCH"}) {
    for (const AttemptFailure failure :
         {AttemptFailure::kConnect, AttemptFailure::kWrite, AttemptFailure::kClosed,
          AttemptFailure::kTimeout, AttemptFailure::kMalformed}) {
      for (int bits = 0; bits < 64; ++bits) {
        AttemptFacts f;
        f.method = method;
        f.failure = failure;
        f.wrote_any = (bits & 1) != 0;
        f.reused = (bits & 2) != 0;
        f.answer_started = (bits & 4) != 0;
        f.sent_to_client = (bits & 8) != 0;
        f.body_replayable = (bits & 16) != 0;
        f.tunnel = (bits & 32) != 0;
        for (const std::uint32_t done : {0u, 1u}) {
          f.retries_done = done;
          const bool idempotent = method == "GET" || method == "PUT";
          const bool allowed = done < 1 && !f.sent_to_client && !f.tunnel && !f.answer_started &&
                               failure != AttemptFailure::kMalformed;
          const bool nothing_reached = !f.wrote_any;
          const bool stale_pooled =
              f.reused && idempotent && f.body_replayable && failure != AttemptFailure::kTimeout;
          const bool want = allowed && (nothing_reached || stale_pooled);
          EXPECT_EQ(ShouldRetry(f, 1), want) << method << " failure=" << static_cast<int>(failure)
                                             << " bits=" << bits << " done=" << done;
          ++rows;
          retried += want ? 1 : 0;
        }
      }
    }
  }
  EXPECT_EQ(rows, 4 * 5 * 64 * 2);
  EXPECT_GT(retried, 0);
}

TEST(RetryTest, TheNamedCases) {
  AttemptFacts connect_refused;
  connect_refused.method = "POST";
  EXPECT_TRUE(ShouldRetry(connect_refused, 1));   // nothing reached the upstream
  EXPECT_FALSE(ShouldRetry(connect_refused, 0));  // retry.attempts: 0

  AttemptFacts stale;  // the pooled connection closed as we reused it
  stale.method = "GET";
  stale.failure = AttemptFailure::kClosed;
  stale.wrote_any = true;
  stale.reused = true;
  EXPECT_TRUE(ShouldRetry(stale, 1));
  stale.retries_done = 1;
  EXPECT_FALSE(ShouldRetry(stale, 1));  // at most retry.attempts
  EXPECT_TRUE(ShouldRetry(stale, 2));

  AttemptFacts post = stale;
  post.retries_done = 0;
  post.method = "POST";
  EXPECT_FALSE(ShouldRetry(post, 1));  // RFC 9110 9.2.2

  AttemptFacts fresh = stale;
  fresh.retries_done = 0;
  fresh.reused = false;
  EXPECT_FALSE(ShouldRetry(fresh, 1));  // a fresh connection that fails is not the race

  AttemptFacts streamed = stale;
  streamed.retries_done = 0;
  streamed.body_replayable = false;
  EXPECT_FALSE(ShouldRetry(streamed, 1));

  AttemptFacts half_answer = stale;
  half_answer.retries_done = 0;
  half_answer.answer_started = true;
  EXPECT_FALSE(ShouldRetry(half_answer, 1));
}

}  // namespace
}  // namespace sluice::net
