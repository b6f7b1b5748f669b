// ParseRequestHead's errors: each error class with its error and status, limits detected at
// the first byte over, and every prefix of every error case against a guard page.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_parser_cases.h"
#include "sluice/net/http/http_parser.h"
#include "support/guarded_buffer.h"

namespace sluice::net {
namespace {

using namespace parser_cases;

// ---------------------------------------------------------------------------------------------
// Errors

TEST(HttpParserTest, EachErrorClassHasItsErrorAndStatus) {
  auto r = NewRequest();
  std::set<ParseError> seen;
  for (const auto& c : ErrorCases()) {
    SCOPED_TRACE(c.name);
    const ParseResult result = Parse(c.input, *r, c.limits);
    ASSERT_EQ(result.status, Status::kError);
    EXPECT_EQ(result.error, c.error) << LabelFor(result.error);
    EXPECT_EQ(result.consumed, 0u);
    EXPECT_EQ(StatusFor(result.error), ExpectedStatus(c.error));
    seen.insert(result.error);
  }
  EXPECT_EQ(seen.size(), kParseErrorKinds - 1);  // every kind but kNone
}

TEST(HttpParserTest, LeadingEmptyLinesCountTowardsTheHeadLimit) {
  auto r = NewRequest();
  std::string input;
  for (int i = 0; i < 4097; ++i) input += "\r\n";
  const ParseResult result = Parse(input, *r);
  ASSERT_EQ(result.status, Status::kError);
  EXPECT_EQ(result.error, ParseError::kHeaderTooLarge);
  EXPECT_EQ(Parse(input.substr(0, 8192), *r).status, Status::kPartial);
}

TEST(HttpParserTest, PartialLimitsAreDetectedAtTheFirstByteOver) {
  auto r = NewRequest();
  HttpLimits limits;
  limits.max_header_bytes = 64;
  limits.max_uri_bytes = 10;
  const std::string long_head = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100, 'v');
  EXPECT_EQ(Parse(std::string_view(long_head).substr(0, 64), *r, limits).status, Status::kPartial);
  EXPECT_EQ(Parse(std::string_view(long_head).substr(0, 65), *r, limits).error,
            ParseError::kHeaderTooLarge);
  const std::string long_target = "GET /0123456789abc";
  EXPECT_EQ(Parse(std::string_view(long_target).substr(0, 14), *r, limits).status,
            Status::kPartial);
  EXPECT_EQ(Parse(std::string_view(long_target).substr(0, 15), *r, limits).error,
            ParseError::kUriTooLong);
}

TEST(HttpParserTest, ErrorsAgainstAGuardPageAtEveryPrefix) {
  GuardedBuffer guard(16384);
  auto r = NewRequest();
  for (const auto& c : ErrorCases()) {
    SCOPED_TRACE(c.name);
    for (std::size_t n = 0; n <= c.input.size(); ++n) {
      const std::string_view placed = guard.Place(std::string_view(c.input).substr(0, n));
      const ParseResult result = Parse(placed, *r, c.limits);
      ASSERT_LE(result.consumed, n);
      if (n == c.input.size()) {
        ASSERT_EQ(result.status, Status::kError);
        ASSERT_EQ(result.error, c.error);
      } else if (result.status == Status::kError) {
        ASSERT_EQ(result.error, c.error) << "prefix " << n;  // an error never changes its mind
      } else {
        ASSERT_EQ(result.status, Status::kPartial) << "prefix " << n;
      }
    }
  }
}

TEST(HttpParserTest, StatusesAndLabels) {
  std::set<std::string_view> labels;
  for (std::size_t i = 0; i < kParseErrorKinds; ++i) {
    const auto error = static_cast<ParseError>(i);
    EXPECT_FALSE(LabelFor(error).empty());
    labels.insert(LabelFor(error));
    EXPECT_EQ(StatusFor(error), error == ParseError::kNone ? 0 : ExpectedStatus(error));
  }
  EXPECT_EQ(labels.size(), kParseErrorKinds);
  EXPECT_EQ(LabelFor(ParseError::kObsFold), "obs_fold");
  EXPECT_EQ(LabelFor(ParseError::kBadRequestLine), "bad_request_line");
}

}  // namespace
}  // namespace sluice::net
