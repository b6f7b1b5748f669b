// The request framing decision table (RFC 9112 section 6; the research note's test plan A.2):
// every framing a client can send, on HTTP/1.0 and HTTP/1.1, for GET, HEAD and POST, gives
// exactly one outcome: no body, a Content-Length body of N bytes, a chunked body, or an error
// with its status (400, or 501 for a coding sluiced does not implement). The method never
// changes the framing of a request (a GET may carry a body); only HTTP/1.0 refuses
// Transfer-Encoding outright.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {
namespace {

struct Outcome {
  BodyKind body = BodyKind::kNone;
  std::uint64_t length = 0;
  int status = 0;  // 0: accepted; else the error's status
};

Outcome Frame(const std::string& method, const std::string& version, const std::string& fields) {
  auto request = std::make_unique<HttpRequest>();
  const std::string head = method + " / " + version + "\r\nHost: a\r\n" + fields + "\r\n";
  const ParseResult r = ParseRequestHead(head, HttpLimits{}, *request);
  Outcome o;
  if (r.status == ParseResult::Status::kError) {
    o.status = StatusFor(r.error);
    return o;
  }
  EXPECT_EQ(r.status, ParseResult::Status::kComplete) << head;
  o.body = request->body;
  o.length = request->content_length;
  return o;
}

TEST(RequestFramingTest, DecisionTable) {
  struct Row {
    std::string label;
    std::string fields;
    Outcome http11;
    Outcome http10;
  };
  const Outcome none{};
  const Outcome five{BodyKind::kContentLength, 5, 0};
  const Outcome chunked{BodyKind::kChunked, 0, 0};
  const Outcome bad{BodyKind::kNone, 0, 400};
  const Outcome not_implemented{BodyKind::kNone, 0, 501};
  const std::vector<Row> rows = {
      {"no framing", "", none, none},
      {"Content-Length", "Content-Length: 5\r\n", five, five},
      {"Content-Length 0",
       "Content-Length: 0\r\n",
       {BodyKind::kContentLength, 0, 0},
       {BodyKind::kContentLength, 0, 0}},
      {"two equal Content-Lengths", "Content-Length: 5\r\nContent-Length: 5\r\n", five, five},
      {"two differing Content-Lengths", "Content-Length: 5\r\nContent-Length: 6\r\n", bad, bad},
      {"a list of differing lengths", "Content-Length: 5, 6\r\n", bad, bad},
      {"Content-Length not a number", "Content-Length: 5x\r\n", bad, bad},
      {"Content-Length with a sign", "Content-Length: +5\r\n", bad, bad},
      {"Content-Length negative", "Content-Length: -5\r\n", bad, bad},
      {"Content-Length empty", "Content-Length: \r\n", bad, bad},
      {"Content-Length overflowing", "Content-Length: 18446744073709551616\r\n", bad, bad},
      {"Transfer-Encoding chunked", "Transfer-Encoding: chunked\r\n", chunked, bad},
      {"Transfer-Encoding other", "Transfer-Encoding: gzip\r\n", bad, bad},
      {"a coding before chunked", "Transfer-Encoding: gzip, chunked\r\n", not_implemented, bad},
      {"chunked not last", "Transfer-Encoding: chunked, gzip\r\n", bad, bad},
      {"chunked twice in a list", "Transfer-Encoding: chunked, chunked\r\n", bad, bad},
      {"chunked twice in two fields",
       "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", bad, bad},
      {"Content-Length and Transfer-Encoding",
       "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", bad, bad},
      {"Transfer-Encoding and Content-Length",
       "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", bad, bad},
  };
  for (const Row& row : rows) {
    for (const std::string method : {"GET", "HEAD", "POST"}) {
      for (const bool http11 : {true, false}) {
        SCOPED_TRACE(row.label + ", " + method + (http11 ? " HTTP/1.1" : " HTTP/1.0"));
        const Outcome want = http11 ? row.http11 : row.http10;
        const Outcome got = Frame(method, http11 ? "HTTP/1.1" : "HTTP/1.0", row.fields);
        EXPECT_EQ(got.status, want.status);
        if (want.status != 0) continue;
        EXPECT_EQ(got.body, want.body);
        if (want.body == BodyKind::kContentLength) {
          EXPECT_EQ(got.length, want.length);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice::net
