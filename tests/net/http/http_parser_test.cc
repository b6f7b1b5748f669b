// ParseRequestHead on valid requests: exact results, every prefix partial, guard-page placement
// so any over-read faults. The error classes are in http_parser_errors_test.cc, body framing and
// the randomized robustness run in body_framer_test.cc.
#include "sluice/net/http/http_parser.h"

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
#include "support/guarded_buffer.h"

namespace sluice::net {
namespace {

using namespace parser_cases;

// ---------------------------------------------------------------------------------------------
// Valid requests

TEST(HttpParserTest, ValidRequestsCompleteWithExactLength) {
  auto request = NewRequest();
  for (const auto& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    const ParseResult result = Parse(c.input, *request);
    ASSERT_EQ(result.status, Status::kComplete) << LabelFor(result.error);
    EXPECT_EQ(result.consumed, c.head_bytes);
    EXPECT_EQ(result.error, ParseError::kNone);
    // Every view lies inside the input.
    const auto inside = [&](std::string_view v) {
      return v.empty() ||
             (v.data() >= c.input.data() && v.data() + v.size() <= c.input.data() + c.input.size());
    };
    EXPECT_TRUE(inside(request->method));
    EXPECT_TRUE(inside(request->target));
    for (std::size_t i = 0; i < request->header_count; ++i) {
      EXPECT_TRUE(inside(request->headers[i].name));
      EXPECT_TRUE(inside(request->headers[i].value));
    }
  }
}

TEST(HttpParserTest, ManyHeadersFieldsExact) {
  const auto c = ValidCases()[1];
  auto r = NewRequest();
  ASSERT_EQ(Parse(c.input, *r).status, Status::kComplete);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->target, "/index.html?x=1&y=%20");
  EXPECT_EQ(r->path, "/index.html");
  EXPECT_EQ(r->minor_version, 1);
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(r->body, BodyKind::kNone);
  ASSERT_EQ(r->header_count, 10u);
  const std::pair<std::string_view, std::string_view> expected[] = {
      {"Host", "www.example.com"},
      {"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0"},
      {"Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"},
      {"Accept-Language", "en-US,en;q=0.5"},
      {"Accept-Encoding", "gzip, deflate, br"},
      {"Cookie", "a=b; c=d"},
      {"X-Api-Key", "secret-123"},
      {"X-Empty", ""},
      {"X-Obs-Text", "caf\xc3\xa9"},
      {"Connection", "keep-alive"},
  };
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(r->headers[i].name, expected[i].first);
    EXPECT_EQ(r->headers[i].value, expected[i].second);
  }
  ASSERT_NE(r->Find("x-api-key"), nullptr);
  EXPECT_EQ(r->Find("X-API-KEY")->value, "secret-123");
  EXPECT_EQ(r->Find("HOST"), &r->headers[0]);
  EXPECT_EQ(r->Find("Hos"), nullptr);
  EXPECT_EQ(r->Find("Hostx"), nullptr);
  EXPECT_EQ(r->Find(""), nullptr);
}

TEST(HttpParserTest, PostWithContentLength) {
  const auto c = ValidCases()[2];
  auto r = NewRequest();
  const ParseResult result = Parse(c.input, *r);
  ASSERT_EQ(result.status, Status::kComplete);
  EXPECT_EQ(result.consumed, c.input.size() - 13);
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/api/v1/items");
  EXPECT_EQ(r->body, BodyKind::kContentLength);
  EXPECT_EQ(r->content_length, 13u);
  EXPECT_TRUE(r->keep_alive);
}

TEST(HttpParserTest, ChunkedWithExtensionsAndTrailers) {
  const auto c = ValidCases()[3];
  auto r = NewRequest();
  const ParseResult result = Parse(c.input, *r);
  ASSERT_EQ(result.status, Status::kComplete);
  EXPECT_EQ(r->body, BodyKind::kChunked);
  EXPECT_EQ(r->content_length, 0u);
  BodyFramer framer;
  framer.Start(*r);
  EXPECT_FALSE(framer.done());
  const std::string_view body = std::string_view(c.input).substr(result.consumed);
  const BodyFramer::Result fed = framer.Feed(body);
  EXPECT_EQ(fed.status, FramerStatus::kDone);
  EXPECT_EQ(fed.consumed, body.size());
  EXPECT_TRUE(framer.done());
}

TEST(HttpParserTest, Http10AndConnectionTokens) {
  auto r = NewRequest();
  ASSERT_EQ(Parse("GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->minor_version, 0);
  EXPECT_FALSE(r->keep_alive);  // HTTP/1.0 default, and no Host needed

  ASSERT_EQ(Parse("HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", *r).status,
            Status::kComplete);
  EXPECT_EQ(r->method, "HEAD");
  EXPECT_TRUE(r->keep_alive);

  ASSERT_EQ(Parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", *r).status,
            Status::kComplete);
  EXPECT_FALSE(r->keep_alive);  // close wins

  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade ,  CLOSE\r\n\r\n", *r).status,
            Status::kComplete);
  EXPECT_FALSE(r->keep_alive);

  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", *r).status,
            Status::kComplete);
  EXPECT_TRUE(r->keep_alive);

  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", *r).status,
            Status::kComplete);
  EXPECT_TRUE(r->keep_alive);  // a token, not a prefix

  ASSERT_EQ(
      Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n", *r).status,
      Status::kComplete);
  EXPECT_FALSE(r->keep_alive);  // over all Connection lines
}

TEST(HttpParserTest, TargetForms) {
  auto r = NewRequest();
  const std::string absolute = ValidCases()[6].input;  // the views point into it
  ASSERT_EQ(Parse(absolute, *r).status, Status::kComplete);
  EXPECT_EQ(r->target, "http://example.com:8080/api/x?q=1");
  EXPECT_EQ(r->path, "/api/x");

  ASSERT_EQ(Parse("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->path, "/");
  ASSERT_EQ(Parse("GET https://h?/api/ HTTP/1.1\r\nHost: h\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->path, "/");  // "/api/" is in the query
  ASSERT_EQ(Parse("GET /?a=/b HTTP/1.1\r\nHost: h\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->path, "/");
  ASSERT_EQ(Parse("GET /no-query HTTP/1.1\r\nHost: h\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->path, "/no-query");
  ASSERT_EQ(Parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->path, "*");
  ASSERT_EQ(Parse("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->path, "h:443");
}

// Every Host value that is one authority, or empty (a target without an authority), parses.
TEST(HttpParserTest, HostValuesThatAreOneAuthority) {
  auto r = NewRequest();
  for (const char* host : {"a", "a:80", "A.Example.COM", "10.0.0.1:8080", "[::1]", "[::1]:8080",
                           "xn--bcher-kva.example", "a-b_c~d.e"}) {
    const std::string input = std::string("GET / HTTP/1.1\r\nHost: ") + host + "\r\n\r\n";
    EXPECT_EQ(Parse(input, *r).status, Status::kComplete) << host;
  }
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost:\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost:  a  \r\n\r\n", *r).status, Status::kComplete);
}

TEST(HttpParserTest, LeadingEmptyLinesAreCounted) {
  auto r = NewRequest();
  const std::string input = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const ParseResult result = Parse(input, *r);
  ASSERT_EQ(result.status, Status::kComplete);
  EXPECT_EQ(result.consumed, input.size());
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(Parse("\r\n", *r).status, Status::kPartial);
  EXPECT_EQ(Parse("\r", *r).status, Status::kPartial);
}

TEST(HttpParserTest, PipelinedRequestsParseOneAfterAnother) {
  const std::string input = Bytes({"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
                                   "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
                                   "GET /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"});
  auto r = NewRequest();
  std::string_view rest = input;
  std::vector<std::string> paths;
  while (!rest.empty()) {
    const ParseResult result = Parse(rest, *r);
    ASSERT_EQ(result.status, Status::kComplete);
    paths.emplace_back(r->path);
    rest.remove_prefix(result.consumed);
    BodyFramer framer;
    framer.Start(*r);
    const BodyFramer::Result body = framer.Feed(rest);
    ASSERT_EQ(body.status, FramerStatus::kDone);
    rest.remove_prefix(body.consumed);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/1", "/2", "/3"}));
  EXPECT_FALSE(r->keep_alive);
}

TEST(HttpParserTest, ContentLengthForms) {
  auto r = NewRequest();
  const auto length_of = [&](std::string_view fields) {
    const std::string input = Bytes({"POST / HTTP/1.1\r\nHost: a\r\n", fields, "\r\n"});
    const ParseResult result = Parse(input, *r);
    EXPECT_EQ(result.status, Status::kComplete) << fields;
    EXPECT_EQ(r->body, BodyKind::kContentLength) << fields;
    return r->content_length;
  };
  EXPECT_EQ(length_of("Content-Length: 0\r\n"), 0u);
  EXPECT_EQ(length_of("content-length:007\r\n"), 7u);
  EXPECT_EQ(length_of("Content-Length: 5, 5 ,5\r\n"), 5u);
  EXPECT_EQ(length_of("Content-Length: 5\r\nCONTENT-LENGTH: 5\r\n"), 5u);
  EXPECT_EQ(length_of("Content-Length: 18446744073709551615\r\n"),
            std::numeric_limits<std::uint64_t>::max());
}

TEST(HttpParserTest, TransferEncodingForms) {
  auto r = NewRequest();
  for (const std::string_view fields :
       {"Transfer-Encoding: chunked\r\n", "Transfer-Encoding: CHUNKED\r\n",
        "Transfer-Encoding: ,chunked,\r\n", "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n",
        "transfer-encoding:  chunked \r\n"}) {
    const std::string input = Bytes({"POST / HTTP/1.1\r\nHost: a\r\n", fields, "\r\n"});
    ASSERT_EQ(Parse(input, *r).status, Status::kComplete) << fields;
    EXPECT_EQ(r->body, BodyKind::kChunked) << fields;
  }
}

// A coding applied before chunked is one sluiced does not implement (it never decodes a body,
// and proxy mode must not pass one on): 501, RFC 9112 section 6.1. Framing errors stay 400.
TEST(HttpParserTest, CodingsOtherThanChunkedAreNotImplemented) {
  auto r = NewRequest();
  for (const std::string_view fields :
       {"Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding: gzip,,Chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: deflate\r\ntransfer-encoding:  chunked \r\n",
        "Transfer-Encoding: foo, chunked\r\n", "Transfer-Encoding: identity, chunked\r\n"}) {
    const std::string input = Bytes({"POST / HTTP/1.1\r\nHost: a\r\n", fields, "\r\n"});
    const ParseResult result = Parse(input, *r);
    ASSERT_EQ(result.status, Status::kError) << fields;
    EXPECT_EQ(result.error, ParseError::kUnsupportedTransferCoding) << fields;
    EXPECT_EQ(StatusFor(result.error), 501);
    EXPECT_EQ(LabelFor(result.error), "unsupported_transfer_coding");
  }
  // The graver framing errors win over the unknown coding.
  const auto error_of = [&](std::string_view fields, std::string_view version = "HTTP/1.1") {
    return Parse(Bytes({"POST / ", version, "\r\nHost: a\r\n", fields, "\r\n"}), *r).error;
  };
  EXPECT_EQ(error_of("Transfer-Encoding: gzip\r\n"), ParseError::kBadTransferEncoding);
  EXPECT_EQ(error_of("Transfer-Encoding: chunked, gzip\r\n"), ParseError::kBadTransferEncoding);
  EXPECT_EQ(error_of("Transfer-Encoding: gzip, chunked\r\nContent-Length: 1\r\n"),
            ParseError::kLengthAndChunked);
  EXPECT_EQ(error_of("Transfer-Encoding: gzip, chunked\r\n", "HTTP/1.0"),
            ParseError::kBadTransferEncoding);
}

TEST(HttpParserTest, ParserResetsRequestBetweenCalls) {
  auto r = NewRequest();
  ASSERT_EQ(Parse("POST / HTTP/1.0\r\nContent-Length: 9\r\nConnection: close\r\n\r\n", *r).status,
            Status::kComplete);
  ASSERT_EQ(Parse("GET /x HTTP/1.1\r\nHost: a\r\n\r\n", *r).status, Status::kComplete);
  EXPECT_EQ(r->body, BodyKind::kNone);
  EXPECT_EQ(r->content_length, 0u);
  EXPECT_EQ(r->minor_version, 1);
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(r->header_count, 1u);
}

TEST(HttpParserTest, LimitsAtTheirExactBoundaries) {
  auto r = NewRequest();
  const std::string head = "GET /0123456789 HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n";
  HttpLimits limits;
  limits.max_header_bytes = head.size();
  limits.max_headers = 3;
  limits.max_uri_bytes = 11;
  const ParseResult result = Parse(head, *r, limits);
  ASSERT_EQ(result.status, Status::kComplete);
  EXPECT_EQ(result.consumed, head.size());
  // A pipelined byte after a head of exactly max_header_bytes does not matter.
  EXPECT_EQ(Parse(head + "G", *r, limits).status, Status::kComplete);
}

TEST(HttpParserTest, EveryStrictPrefixOfAValidHeadIsPartial) {
  auto r = NewRequest();
  for (const auto& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    for (std::size_t n = 0; n < c.head_bytes; ++n) {
      const ParseResult result = Parse(std::string_view(c.input).substr(0, n), *r);
      ASSERT_EQ(result.status, Status::kPartial) << "prefix " << n << " " << LabelFor(result.error);
      ASSERT_EQ(result.consumed, 0u);
    }
    for (std::size_t n = c.head_bytes; n <= c.input.size(); ++n) {
      const ParseResult result = Parse(std::string_view(c.input).substr(0, n), *r);
      ASSERT_EQ(result.status, Status::kComplete) << "prefix " << n;
      ASSERT_EQ(result.consumed, c.head_bytes);
    }
  }
}

TEST(HttpParserTest, ValidRequestsAgainstAGuardPage) {
  GuardedBuffer guard(16384);
  auto r = NewRequest();
  for (const auto& c : ValidCases()) {
    SCOPED_TRACE(c.name);
    for (std::size_t n = 0; n <= c.input.size(); ++n) {
      const std::string_view placed = guard.Place(std::string_view(c.input).substr(0, n));
      const ParseResult result = Parse(placed, *r);
      ASSERT_EQ(result.status, n < c.head_bytes ? Status::kPartial : Status::kComplete);
      if (result.status == Status::kComplete) {
        ASSERT_EQ(result.consumed, c.head_bytes);
        BodyFramer framer;
        framer.Start(*r);
        const BodyFramer::Result body = framer.Feed(placed.substr(result.consumed));
        ASSERT_NE(body.status, FramerStatus::kError);
      }
    }
  }
}

}  // namespace
}  // namespace sluice::net
