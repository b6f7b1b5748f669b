// ParseResponseHead: exact results on valid answers, every prefix partial against a guard page,
// every error kind, and the RFC 9112 section 6.3 framing decision table (request method x
// status x framing fields).
#include "sluice/net/http/response_parser.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/guarded_buffer.h"

namespace sluice::net {
namespace {

using Status = ResponseParseResult::Status;
using testing::GuardedBuffer;

std::unique_ptr<HttpResponse> NewResponse() { return std::make_unique<HttpResponse>(); }

ResponseParseResult Parse(std::string_view input, HttpResponse& response, bool head = false,
                          const ResponseLimits& limits = {}) {
  return ParseResponseHead(input, limits, head, response);
}

TEST(ResponseParserTest, ParsesATypicalAnswer) {
  const std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Server: test\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length:   12  \r\n"
      "X-Empty:\r\n"
      "X-Obs: caf\xc3\xa9\r\n"
      "\r\n";
  auto r = NewResponse();
  const std::string input = head + "hello world!";  // the response views into it
  const ResponseParseResult result = Parse(input, *r);
  ASSERT_EQ(result.status, Status::kComplete);
  EXPECT_EQ(result.consumed, head.size());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->minor_version, 1);
  EXPECT_EQ(r->reason, "OK");
  EXPECT_EQ(r->body, ResponseBody::kContentLength);
  EXPECT_EQ(r->content_length, 12u);
  EXPECT_TRUE(r->keep_alive);
  ASSERT_EQ(r->header_count, 5u);
  EXPECT_EQ(r->headers[2].name, "Content-Length");
  EXPECT_EQ(r->headers[2].value, "12");
  EXPECT_EQ(r->headers[3].value, "");
  ASSERT_NE(r->Find("content-type"), nullptr);
  EXPECT_EQ(r->Find("CONTENT-TYPE")->value, "text/plain; charset=utf-8");
  EXPECT_EQ(r->Find("x-missing"), nullptr);
}

TEST(ResponseParserTest, ReasonIsOptionalAndMayBeEmpty) {
  auto r = NewResponse();
  ASSERT_EQ(Parse("HTTP/1.1 204\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->reason, "");
  ASSERT_EQ(Parse("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->reason, "");
  ASSERT_EQ(Parse("HTTP/1.0 500 Internal  Server\tError\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->reason, "Internal  Server\tError");
}

TEST(ResponseParserTest, KeepAliveFollowsVersionConnectionAndFraming) {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  const std::vector<Case> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: x, CLOSE\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\n\r\n", false},  // close-delimited
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", false},
      {"HTTP/1.1 304 Not Modified\r\n\r\n", true},  // no body: not close-delimited
  };
  auto r = NewResponse();
  for (const Case& c : cases) {
    ASSERT_EQ(Parse(c.head, *r).status, Status::kComplete) << c.head;
    EXPECT_EQ(r->keep_alive, c.keep_alive) << c.head;
  }
}

TEST(ResponseParserTest, InterimAnswersAreCompleteOnTheirOwn) {
  const std::string input =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  auto r = NewResponse();
  std::string_view rest = input;
  std::vector<int> statuses;
  for (;;) {
    const ResponseParseResult result = Parse(rest, *r);
    ASSERT_EQ(result.status, Status::kComplete);
    statuses.push_back(r->status);
    rest.remove_prefix(result.consumed);
    if (r->interim()) {
      EXPECT_EQ(r->body, ResponseBody::kNone) << r->status;
    }
    if (!r->interim()) break;
  }
  EXPECT_EQ(statuses, (std::vector<int>{100, 103, 200}));
  EXPECT_EQ(r->body, ResponseBody::kContentLength);
  EXPECT_EQ(rest, "ok");
}

const std::vector<std::string>& ValidHeads() {
  static const std::vector<std::string> heads = {
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x\r\n\r\n",
      "HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n",
      "HTTP/1.1 204\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 301 Moved\r\nLocation: http://a/\r\nContent-Length: 5, 5\r\n\r\n",
      "HTTP/1.1 599 x\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\n\r\n",
  };
  return heads;
}

TEST(ResponseParserTest, EveryStrictPrefixIsPartialAgainstAGuardPage) {
  GuardedBuffer guard(4096);
  auto r = NewResponse();
  for (const std::string& head : ValidHeads()) {
    for (std::size_t n = 0; n < head.size(); ++n) {
      const ResponseParseResult result = Parse(guard.Place(head.substr(0, n)), *r);
      EXPECT_EQ(result.status, Status::kPartial) << n << " bytes of " << head;
      EXPECT_EQ(result.consumed, 0u);
    }
    const ResponseParseResult whole = Parse(guard.Place(head), *r);
    ASSERT_EQ(whole.status, Status::kComplete) << head;
    EXPECT_EQ(whole.consumed, head.size());
  }
}

struct ErrorCase {
  std::string name;
  std::string head;
  ResponseError error;
  bool head_request = false;
};

std::vector<ErrorCase> ErrorCases() {
  using E = ResponseError;
  return {
      {"lower_case_http", "http/1.1 200 OK\r\n\r\n", E::kBadStatusLine},
      {"no_status", "HTTP/1.1 OK\r\n\r\n", E::kBadStatusLine},
      {"two_digit_status", "HTTP/1.1 20 OK\r\n\r\n", E::kBadStatusLine},
      {"four_digit_status", "HTTP/1.1 2000 OK\r\n\r\n", E::kBadStatusLine},
      {"status_below_100", "HTTP/1.1 099 x\r\n\r\n", E::kBadStatusLine},
      {"status_above_599", "HTTP/1.1 600 x\r\n\r\n", E::kBadStatusLine},
      {"tab_after_version", "HTTP/1.1\t200 OK\r\n\r\n", E::kBadStatusLine},
      {"leading_crlf", "\r\nHTTP/1.1 200 OK\r\n\r\n", E::kBadStatusLine},
      {"bare_lf_status", "HTTP/1.1 200 OK\n\r\n", E::kBadStatusLine},
      {"bare_cr_status", "HTTP/1.1 200 OK\rX\r\n\r\n", E::kBadStatusLine},
      {"nul_in_reason", std::string("HTTP/1.1 200 O\0K\r\n\r\n", 20), E::kBadStatusLine},
      {"http2", "HTTP/2.0 200 OK\r\n\r\n", E::kBadVersion},
      {"http12", "HTTP/1.2 200 OK\r\n\r\n", E::kBadVersion},
      {"space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", E::kBadHeader},
      {"no_colon", "HTTP/1.1 200 OK\r\nX-Foo\r\n\r\n", E::kBadHeader},
      {"empty_name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", E::kBadHeader},
      {"bare_lf_header", "HTTP/1.1 200 OK\r\nA: b\n\r\n", E::kBadHeader},
      {"bare_cr_header", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", E::kBadHeader},
      {"bare_lf_end", "HTTP/1.1 200 OK\r\nA: b\r\n\n", E::kBadHeader},
      {"nul_value", std::string("HTTP/1.1 200 OK\r\nA: \0\r\n\r\n", 24), E::kBadHeader},
      {"del_value", "HTTP/1.1 200 OK\r\nA: \x7f\r\n\r\n", E::kBadHeader},
      {"obs_fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", E::kObsFold},
      {"obs_fold_te", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", E::kObsFold},
      {"cl_sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", E::kBadContentLength},
      {"cl_negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", E::kBadContentLength},
      {"cl_hex", "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\n", E::kBadContentLength},
      {"cl_empty", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", E::kBadContentLength},
      {"cl_space_inside", "HTTP/1.1 200 OK\r\nContent-Length: 5 5\r\n\r\n", E::kBadContentLength},
      {"cl_list_differs", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", E::kBadContentLength},
      {"cl_two_differ", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
       E::kBadContentLength},
      {"cl_overflow", "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
       E::kBadContentLength},
      {"te_gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", E::kBadTransferEncoding},
      {"te_chunked_twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
       E::kBadTransferEncoding},
      {"te_chunked_two_lines",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::kBadTransferEncoding},
      {"te_empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", E::kBadTransferEncoding},
      {"te_xchunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n",
       E::kBadTransferEncoding},
      {"te_chunked_param", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
       E::kBadTransferEncoding},
      {"te_http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::kBadTransferEncoding},
      {"cl_and_te", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::kLengthAndChunked},
      {"cl_and_te_on_head",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       E::kLengthAndChunked, true},
      {"cl_on_204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", E::kBodyNotAllowed},
      {"te_on_204", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::kBodyNotAllowed},
      {"cl_on_100", "HTTP/1.1 100 Continue\r\nContent-Length: 1\r\n\r\n", E::kBodyNotAllowed},
      {"te_on_101", "HTTP/1.1 101 Switching\r\nTransfer-Encoding: chunked\r\n\r\n",
       E::kBodyNotAllowed},
  };
}

TEST(ResponseParserTest, EachErrorAgainstAGuardPage) {
  GuardedBuffer guard(4096);
  auto r = NewResponse();
  for (const ErrorCase& c : ErrorCases()) {
    const ResponseParseResult result = Parse(guard.Place(c.head), *r, c.head_request);
    EXPECT_EQ(result.status, Status::kError) << c.name;
    EXPECT_EQ(result.error, c.error) << c.name << ": got " << LabelFor(result.error);
    EXPECT_EQ(result.consumed, 0u) << c.name;
    // No prefix is ever complete, nor a different error.
    for (std::size_t n = 0; n < c.head.size(); ++n) {
      const ResponseParseResult prefix =
          Parse(guard.Place(c.head.substr(0, n)), *r, c.head_request);
      EXPECT_NE(prefix.status, Status::kComplete) << c.name << " at " << n;
      if (prefix.status == Status::kError) {
        EXPECT_EQ(prefix.error, c.error) << c.name << " at " << n;
      }
    }
  }
}

TEST(ResponseParserTest, LimitsOnBytesAndFieldCount) {
  auto r = NewResponse();
  ResponseLimits limits;
  limits.max_header_bytes = 64;
  limits.max_headers = 2;
  const std::string fits = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n";
  EXPECT_EQ(Parse(fits, *r, false, limits).status, Status::kComplete);
  const std::string three = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  EXPECT_EQ(Parse(three, *r, false, limits).error, ResponseError::kHeaderTooLarge);
  const std::string big = "HTTP/1.1 200 OK\r\nA: " + std::string(60, 'x') + "\r\n\r\n";
  // Partial while below the limit, an error as soon as the limit is full without an end.
  EXPECT_EQ(Parse(big.substr(0, 63), *r, false, limits).status, Status::kPartial);
  EXPECT_EQ(Parse(big, *r, false, limits).error, ResponseError::kHeaderTooLarge);
  EXPECT_EQ(std::string(LabelFor(ResponseError::kHeaderTooLarge)), "header_too_large");
}

TEST(ResponseParserTest, ErrorLabelsAreDistinct) {
  std::vector<std::string_view> labels;
  for (int e = 0; e <= static_cast<int>(ResponseError::kHeaderTooLarge); ++e) {
    const std::string_view label = LabelFor(static_cast<ResponseError>(e));
    EXPECT_NE(label, "unknown");
    for (const std::string_view seen : labels) EXPECT_NE(seen, label);
    labels.push_back(label);
  }
}

// RFC 9112 section 6.3 as a table: request method x status x framing fields.
TEST(ResponseParserTest, FramingDecisionTable) {
  enum Framing { kCl5, kCl0, kTe, kNone, kClTe, kBadCl };
  const auto fields = [](Framing f) -> std::string {
    switch (f) {
      case kCl5:
        return "Content-Length: 5\r\n";
      case kCl0:
        return "Content-Length: 0\r\n";
      case kTe:
        return "Transfer-Encoding: chunked\r\n";
      case kNone:
        return "";
      case kClTe:
        return "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n";
      case kBadCl:
        return "Content-Length: 5x\r\n";
    }
    return "";
  };
  // What the table expects: a body kind, or an error.
  struct Want {
    bool error;
    ResponseBody body;
    ResponseError why;
  };
  const auto body = [](ResponseBody b) { return Want{false, b, ResponseError::kNone}; };
  const auto fail = [](ResponseError e) { return Want{true, ResponseBody::kNone, e}; };
  const auto expected = [&](bool head, int status, Framing f) -> Want {
    if (f == kClTe) return fail(ResponseError::kLengthAndChunked);
    if (f == kBadCl) return fail(ResponseError::kBadContentLength);
    const bool forbidden = status < 200 || status == 204;
    if (forbidden && (f == kCl5 || f == kTe)) return fail(ResponseError::kBodyNotAllowed);
    if (forbidden || status == 304 || head) return body(ResponseBody::kNone);
    switch (f) {
      case kCl5:
      case kCl0:
        return body(ResponseBody::kContentLength);
      case kTe:
        return body(ResponseBody::kChunked);
      default:
        return body(ResponseBody::kUntilClose);
    }
  };
  auto r = NewResponse();
  int rows = 0;
  for (const bool head : {false, true}) {
    for (const int status : {100, 101, 103, 200, 204, 206, 304, 404, 503}) {
      for (const Framing f : {kCl5, kCl0, kTe, kNone, kClTe, kBadCl}) {
        const std::string input =
            "HTTP/1.1 " + std::to_string(status) + " x\r\n" + fields(f) + "\r\n";
        const ResponseParseResult result = Parse(input, *r, head);
        const Want want = expected(head, status, f);
        const std::string row = (head ? "HEAD " : "GET ") + input;
        ++rows;
        if (want.error) {
          EXPECT_EQ(result.status, Status::kError) << row;
          EXPECT_EQ(result.error, want.why) << row;
        } else {
          ASSERT_EQ(result.status, Status::kComplete) << row;
          EXPECT_EQ(r->body, want.body) << row;
          // The declared length is kept where it frames nothing too (HEAD, 304).
          EXPECT_EQ(r->length_declared, f == kCl5 || f == kCl0) << row;
          if (r->length_declared) {
            EXPECT_EQ(r->content_length, f == kCl5 ? 5u : 0u) << row;
          }
        }
      }
    }
  }
  EXPECT_EQ(rows, 2 * 9 * 6);
}

}  // namespace
}  // namespace sluice::net
