// ParseRequestHead and BodyFramer: exact results on valid requests, every prefix partial, every
// error class with its status, guard-page placement so any over-read faults, split-independent
// body framing, and a randomized robustness run.
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

#include "support/guarded_buffer.h"

namespace sluice::net {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;
using Status = ParseResult::Status;
using FramerStatus = BodyFramer::Status;

using ::sluice::testing::GuardedBuffer;

// HttpRequest holds 128 headers: keep it off small stacks and reuse it.
std::unique_ptr<HttpRequest> NewRequest() { return std::make_unique<HttpRequest>(); }

ParseResult Parse(std::string_view input, HttpRequest& request, const HttpLimits& limits = {}) {
  return ParseRequestHead(input, limits, request);
}

std::string Bytes(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto part : parts) out.append(part);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Valid requests

struct ValidCase {
  std::string name;
  std::string input;       // a head, possibly followed by body bytes or another request
  std::size_t head_bytes;  // what ParseRequestHead must consume
};

std::vector<ValidCase> ValidCases() {
  std::vector<ValidCase> cases;
  const auto add = [&](std::string name, std::string head, std::string after = "") {
    const std::size_t head_bytes = head.size();
    cases.push_back({std::move(name), head + after, head_bytes});
  };
  add("minimal", "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  add("many_headers",
      "GET /index.html?x=1&y=%20 HTTP/1.1\r\n"
      "Host: www.example.com\r\n"
      "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0\r\n"
      "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n"
      "Accept-Language: en-US,en;q=0.5\r\n"
      "Accept-Encoding: gzip, deflate, br\r\n"
      "Cookie: a=b; c=d\r\n"
      "X-Api-Key:   secret-123  \t\r\n"
      "X-Empty:\r\n"
      "X-Obs-Text: caf\xc3\xa9\r\n"
      "Connection: keep-alive\r\n"
      "\r\n");
  add("post_content_length",
      "POST /api/v1/items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\n\r\n",
      "{\"a\":\"hello\"}");
  add("chunked", "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n",
      "5;name=\"v\"\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n");
  add("http10", "GET /old HTTP/1.0\r\nUser-Agent: x\r\n\r\n");
  add("http10_keep_alive", "HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  add("absolute_form",
      "GET http://example.com:8080/api/x?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
  add("leading_crlf", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  add("options_star", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  add("pipelined", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
  return cases;
}

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

// ---------------------------------------------------------------------------------------------
// Errors

struct ErrorCase {
  std::string name;
  std::string input;
  ParseError error;
  HttpLimits limits = {};
};

std::string Req(std::string_view fields, std::string_view version = "HTTP/1.1") {
  return Bytes({"GET / ", version, "\r\nHost: a\r\n", fields, "\r\n"});
}

std::vector<ErrorCase> ErrorCases() {
  std::vector<ErrorCase> cases;
  const auto add = [&](std::string name, std::string input, ParseError error,
                       HttpLimits limits = {}) {
    cases.push_back({std::move(name), std::move(input), error, limits});
  };
  using E = ParseError;
  // Request line.
  add("no_target", "GET\r\n\r\n", E::kBadRequestLine);
  add("leading_space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("space_in_method", "GE T / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("bad_method_char", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("nul_in_method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"s, E::kBadRequestLine);
  add("double_space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("tab_separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("control_in_target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("del_in_target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("nul_in_target", "GET /a\0 HTTP/1.1\r\nHost: a\r\n\r\n"s, E::kBadRequestLine);
  add("high_byte_in_target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("relative_target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("scheme_without_slashes", "GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("star_not_options", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("lowercase_http", "GET / http/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("version_two_digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("version_major_two_digits", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("version_letter", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("version_short", "GET / HTTP/1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("space_after_version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("bare_lf_request_line", "GET / HTTP/1.1\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("cr_without_lf", "GET / HTTP/1.1\rHost: a\r\n\r\n", E::kBadRequestLine);
  add("leading_bare_lf", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("leading_cr_cr", "\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("tls_client_hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, E::kBadRequestLine);
  add("lowercase_method", "post / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("mixed_case_method", "Get / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("digit_in_method", "GET1 / HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("fragment", "POST /login#3 HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("fragment_only", "GET /# HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("fragment_in_query", "GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("fragment_in_authority", "GET http://h#x/login2 HTTP/1.1\r\nHost: h\r\n\r\n",
      E::kBadRequestLine);
  add("authority_unclosed_ipv6", "GET http://[::1 HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("authority_empty", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("authority_userinfo", "GET http://u@h/x HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("authority_port_letters", "GET http://h:8o/x HTTP/1.1\r\nHost: a\r\n\r\n",
      E::kBadRequestLine);
  add("authority_port_big", "GET http://h:65536/ HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("authority_bad_ipv6", "GET http://[::g]/ HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadRequestLine);
  add("connect_without_port", "CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", E::kBadRequestLine);
  // Paths that cannot be normalised (http_target.h).
  add("path_bad_escape", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_short_escape", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_nul", "GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_encoded_crlf", "GET /a%0D%0A HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_encoded_del", "GET /a%7f HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_above_root", "GET /.. HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_above_root_later", "GET /a/../../b HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_above_root_encoded", "GET /%2e%2E/x HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  add("path_absolute_above_root", "GET http://h/../x HTTP/1.1\r\nHost: a\r\n\r\n", E::kBadPath);
  // Versions.
  add("http_2_0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", E::kBadVersion);
  add("http_1_2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", E::kBadVersion);
  add("http_0_9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", E::kBadVersion);
  add("h2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", E::kBadVersion);
  // Header lines.
  add("space_before_colon", Req("X-A : b\r\n"), E::kBadHeader);
  add("tab_before_colon", Req("X-A\t: b\r\n"), E::kBadHeader);
  add("empty_name", Req(": b\r\n"), E::kBadHeader);
  add("no_colon", Req("X-A b\r\n"), E::kBadHeader);
  add("nul_in_name", Req("X-\0A: b\r\n"s), E::kBadHeader);
  add("cr_in_name", Req("X-\rA: b\r\n"), E::kBadHeader);
  add("lf_in_name", Req("X-\nA: b\r\n"), E::kBadHeader);
  add("del_in_name", Req("X-\x7f: b\r\n"), E::kBadHeader);
  add("nul_in_value", Req("X-A: b\0c\r\n"s), E::kBadHeader);
  add("cr_in_value", Req("X-A: b\rc\r\n"), E::kBadHeader);
  add("lf_in_value", Req("X-A: b\nc\r\n"), E::kBadHeader);
  add("del_in_value", Req("X-A: b\x7f\r\n"), E::kBadHeader);
  add("control_in_value", Req("X-A: b\x1b[0m\r\n"), E::kBadHeader);
  add("bare_lf_end_of_head", "GET / HTTP/1.1\r\nHost: a\r\n\n", E::kBadHeader);
  add("cr_x_end_of_head", "GET / HTTP/1.1\r\nHost: a\r\n\rX", E::kBadHeader);
  // Obsolete line folding.
  add("obs_fold_space", Req("X-A: b\r\n c\r\n"), E::kObsFold);
  add("obs_fold_tab", Req("X-A: b\r\n\tc\r\n"), E::kObsFold);
  add("space_after_request_line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", E::kObsFold);
  // Content-Length.
  add("cl_conflict", Req("Content-Length: 5\r\nContent-Length: 6\r\n"), E::kBadContentLength);
  add("cl_list_conflict", Req("Content-Length: 5, 6\r\n"), E::kBadContentLength);
  add("cl_plus", Req("Content-Length: +5\r\n"), E::kBadContentLength);
  add("cl_minus", Req("Content-Length: -5\r\n"), E::kBadContentLength);
  add("cl_junk", Req("Content-Length: 5a\r\n"), E::kBadContentLength);
  add("cl_hex", Req("Content-Length: 0x5\r\n"), E::kBadContentLength);
  add("cl_inner_space", Req("Content-Length: 5 5\r\n"), E::kBadContentLength);
  add("cl_empty", Req("Content-Length:\r\n"), E::kBadContentLength);
  add("cl_trailing_comma", Req("Content-Length: 5,\r\n"), E::kBadContentLength);
  add("cl_leading_comma", Req("Content-Length: ,5\r\n"), E::kBadContentLength);
  add("cl_overflow", Req("Content-Length: 18446744073709551616\r\n"), E::kBadContentLength);
  add("cl_overflow_long", Req("Content-Length: 99999999999999999999999\r\n"), E::kBadContentLength);
  // Transfer-Encoding.
  add("te_gzip_only", Req("Transfer-Encoding: gzip\r\n"), E::kBadTransferEncoding);
  add("te_chunked_not_last", Req("Transfer-Encoding: chunked, gzip\r\n"), E::kBadTransferEncoding);
  add("te_chunked_twice", Req("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
      E::kBadTransferEncoding);
  add("te_chunked_then_line", Req("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
      E::kBadTransferEncoding);
  add("te_unknown", Req("Transfer-Encoding: foo, chunked\r\n"), E::kUnsupportedTransferCoding);
  add("te_gzip_chunked", Req("Transfer-Encoding: gzip, chunked\r\n"),
      E::kUnsupportedTransferCoding);
  add("te_identity", Req("Transfer-Encoding: identity\r\n"), E::kBadTransferEncoding);
  add("te_parameter", Req("Transfer-Encoding: chunked;q=1\r\n"), E::kBadTransferEncoding);
  add("te_chunked_prefix", Req("Transfer-Encoding: chunkedx\r\n"), E::kBadTransferEncoding);
  add("te_empty", Req("Transfer-Encoding:\r\n"), E::kBadTransferEncoding);
  add("te_on_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
      E::kBadTransferEncoding);
  add("te_and_cl", Req("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
      E::kLengthAndChunked);
  add("cl_after_te", Req("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"),
      E::kLengthAndChunked);
  // Host.
  add("no_host_http11", "GET / HTTP/1.1\r\nX: a\r\n\r\n", E::kBadHost);
  add("two_hosts", Req("host: b\r\n"), E::kBadHost);
  add("two_hosts_http10", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", E::kBadHost);
  // A Host value that is not one authority (RFC 9112 section 3.2): a list, a space, a path,
  // userinfo, a bad port, an unclosed IPv6 literal.
  add("host_list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", E::kBadHost);
  add("host_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E::kBadHost);
  add("host_path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", E::kBadHost);
  add("host_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", E::kBadHost);
  add("host_bad_port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", E::kBadHost);
  add("host_open_ipv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", E::kBadHost);
  // Limits.
  HttpLimits few_headers;
  few_headers.max_headers = 3;
  add("too_many_headers_small_limit", Req("X: 1\r\nY: 2\r\nZ: 3\r\n"), E::kHeaderTooLarge,
      few_headers);
  add("too_many_headers_partial", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nZ",
      E::kHeaderTooLarge, few_headers);
  std::string fields_65;
  for (int i = 0; i < 64; ++i) fields_65 += "X-" + std::to_string(i) + ": v\r\n";
  add("too_many_headers_default", Req(fields_65), E::kHeaderTooLarge);
  HttpLimits huge_header_limit;
  huge_header_limit.max_headers = 100000;  // clamped to kMaxHeaders
  std::string fields_129;
  for (std::size_t i = 0; i < kMaxHeaders; ++i) fields_129 += "X-" + std::to_string(i) + ":\r\n";
  add("too_many_headers_clamped", Req(fields_129), E::kHeaderTooLarge, huge_header_limit);

  HttpLimits small_head;
  small_head.max_header_bytes = 64;
  const std::string head_65 = Req(std::string("X: ") + std::string(33, 'v') + "\r\n");
  add("head_too_large", head_65, E::kHeaderTooLarge, small_head);
  add("head_too_large_partial", Bytes({"GET / HTTP/1.1\r\nHost: a\r\nX: ", std::string(38, 'v')}),
      E::kHeaderTooLarge, small_head);
  add("head_too_large_default", Req("X: " + std::string(8192, 'v') + "\r\n"), E::kHeaderTooLarge);

  HttpLimits small_uri;
  small_uri.max_uri_bytes = 10;
  add("uri_too_long", "GET /0123456789 HTTP/1.1\r\nHost: a\r\n\r\n", E::kUriTooLong, small_uri);
  add("uri_too_long_partial", "GET /0123456789", E::kUriTooLong, small_uri);
  add("uri_too_long_default", "GET /" + std::string(4096, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
      E::kUriTooLong);
  return cases;
}

int ExpectedStatus(ParseError error) {
  switch (error) {
    case ParseError::kHeaderTooLarge:
      return 431;
    case ParseError::kUriTooLong:
      return 414;
    case ParseError::kBadVersion:
      return 505;
    case ParseError::kUnsupportedTransferCoding:
      return 501;
    default:
      return 400;
  }
}

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

// ---------------------------------------------------------------------------------------------
// BodyFramer

struct FeedOutcome {
  FramerStatus status;
  std::size_t consumed;  // over all Feed calls
  bool operator==(const FeedOutcome&) const = default;
  friend void PrintTo(const FeedOutcome& o, std::ostream* os) {
    *os << "{status " << static_cast<int>(o.status) << ", consumed " << o.consumed << "}";
  }
};

// Delivers `data` in pieces ending at `cuts` (increasing, the last one data.size()) the way a
// connection would: each Feed sees the bytes received and not yet consumed.
FeedOutcome FeedPieces(const HttpRequest& request, std::string_view data,
                       const std::vector<std::size_t>& cuts) {
  BodyFramer framer;
  framer.Start(request);
  std::size_t consumed = 0;
  for (const std::size_t cut : cuts) {
    const std::string_view pending = data.substr(consumed, cut - consumed);
    const BodyFramer::Result result = framer.Feed(pending);
    EXPECT_LE(result.consumed, pending.size());
    consumed += result.consumed;
    if (result.status == FramerStatus::kNeedMore) {
      EXPECT_EQ(result.consumed, pending.size());
      EXPECT_FALSE(framer.done());
      continue;
    }
    EXPECT_EQ(framer.done(), result.status == FramerStatus::kDone);
    // Once finished, the framer stays finished and takes nothing more.
    const BodyFramer::Result again = framer.Feed(data.substr(consumed));
    EXPECT_EQ(again.status, result.status);
    EXPECT_EQ(again.consumed, 0u);
    return {result.status, consumed};
  }
  return {FramerStatus::kNeedMore, consumed};
}

FeedOutcome FeedWhole(const HttpRequest& request, std::string_view data) {
  return FeedPieces(request, data, {data.size()});
}

FeedOutcome FeedByteByByte(const HttpRequest& request, std::string_view data) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i <= data.size(); ++i) cuts.push_back(i);
  if (cuts.empty()) cuts.push_back(0);
  return FeedPieces(request, data, cuts);
}

FeedOutcome FeedRandomSplit(const HttpRequest& request, std::string_view data, std::mt19937& rng) {
  std::vector<std::size_t> cuts;
  std::size_t at = 0;
  while (at < data.size()) {
    at = std::min(data.size(), at + 1 + rng() % 7);
    cuts.push_back(at);
  }
  if (cuts.empty()) cuts.push_back(0);
  return FeedPieces(request, data, cuts);
}

HttpRequest& ChunkedRequest() {
  static HttpRequest request = [] {
    HttpRequest r;
    r.body = BodyKind::kChunked;
    return r;
  }();
  return request;
}

HttpRequest& LengthRequest(std::uint64_t length) {
  static HttpRequest request;
  request.body = BodyKind::kContentLength;
  request.content_length = length;
  return request;
}

void ExpectSameAtEverySplit(const HttpRequest& request, std::string_view data,
                            FeedOutcome expected) {
  EXPECT_EQ(FeedWhole(request, data), expected);
  EXPECT_EQ(FeedByteByByte(request, data), expected);
  std::mt19937 rng(12345);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(FeedRandomSplit(request, data, rng), expected);
  // Every single cut point.
  for (std::size_t cut = 0; cut <= data.size(); ++cut) {
    std::vector<std::size_t> cuts{cut};
    if (cut != data.size()) cuts.push_back(data.size());
    ASSERT_EQ(FeedPieces(request, data, cuts), expected) << "cut " << cut;
  }
}

constexpr std::string_view kNext = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(BodyFramerTest, NoBodyIsDoneAtOnce) {
  auto r = NewRequest();
  ASSERT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", *r).status, Status::kComplete);
  BodyFramer framer;
  framer.Start(*r);
  EXPECT_TRUE(framer.done());
  EXPECT_EQ(framer.Feed(kNext).status, FramerStatus::kDone);
  EXPECT_EQ(framer.Feed(kNext).consumed, 0u);
  BodyFramer fresh;  // a default framer has nothing to skip
  EXPECT_TRUE(fresh.done());
  framer.Start(LengthRequest(0));
  EXPECT_TRUE(framer.done());
}

TEST(BodyFramerTest, ContentLengthAtEverySplit) {
  const std::string body = "hello world";
  ExpectSameAtEverySplit(LengthRequest(body.size()), body + std::string(kNext),
                         {FramerStatus::kDone, body.size()});
  ExpectSameAtEverySplit(LengthRequest(body.size()), body.substr(0, 5),
                         {FramerStatus::kNeedMore, 5});
  // A length above what any buffer holds.
  BodyFramer framer;
  framer.Start(LengthRequest(std::numeric_limits<std::uint64_t>::max()));
  const BodyFramer::Result result = framer.Feed(body);
  EXPECT_EQ(result.status, FramerStatus::kNeedMore);
  EXPECT_EQ(result.consumed, body.size());
}

TEST(BodyFramerTest, ChunkedAtEverySplit) {
  const std::string body =
      "4;ext=1\r\nWiki\r\n"
      "5\r\npedia\r\n"
      "E;a=\"q r\";b\r\n in\r\n\r\nchunks.\r\n"
      "10\r\n0123456789abcdef\r\n"
      "0;last\r\n"
      "X-Trailer: v\r\n"
      "Another:w \t\r\n"
      "\r\n";
  ExpectSameAtEverySplit(ChunkedRequest(), body + std::string(kNext),
                         {FramerStatus::kDone, body.size()});
  // Every strict prefix needs more.
  for (std::size_t n = 0; n < body.size(); ++n) {
    ASSERT_EQ(FeedWhole(ChunkedRequest(), std::string_view(body).substr(0, n)),
              (FeedOutcome{FramerStatus::kNeedMore, n}));
  }
  // Minimal forms.
  ExpectSameAtEverySplit(ChunkedRequest(), "0\r\n\r\n", {FramerStatus::kDone, 5});
  ExpectSameAtEverySplit(ChunkedRequest(), "000\r\n\r\nXYZ", {FramerStatus::kDone, 7});
  ExpectSameAtEverySplit(ChunkedRequest(), "aB\r\n" + std::string(0xab, 'x') + "\r\n0\r\n\r\n",
                         {FramerStatus::kDone, 4 + 0xab + 2 + 5});
}

TEST(BodyFramerTest, SixteenHexDigitsAreAccepted) {
  ExpectSameAtEverySplit(ChunkedRequest(), "ffffffffffffffff\r\nabc",
                         {FramerStatus::kNeedMore, 21});
  ExpectSameAtEverySplit(ChunkedRequest(), "0000000000000001\r\nx\r\n0\r\n\r\n",
                         {FramerStatus::kDone, 26});
}

TEST(BodyFramerTest, MalformedChunkingIsAnErrorAtTheOffendingByte) {
  struct Bad {
    std::string body;
    std::size_t at;  // index of the byte that is refused
  };
  const std::vector<Bad> cases = {
      {"g\r\n", 0},                   // non-hex size
      {"\r\n", 0},                    // empty size
      {";x\r\n", 0},                  // extension without a size
      {"-1\r\n", 0},                  // sign
      {"0x5\r\n", 1},                 // 0x prefix
      {"12345678901234567\r\n", 16},  // 17 hex digits
      {"00000000000000000\r\n", 16},  // 17 digits, even if zero
      {"4 \r\n", 1},                  // space after the size
      {"4\n", 1},                     // bare LF after the size
      {"4\rx", 2},                    // CR without LF
      {"4\r\nWikiX\r\n", 7},          // missing CRLF after data
      {"4\r\nWiki\n0\r\n\r\n", 7},    // bare LF after data
      {"4\r\nWiki\rX", 8},            // CR then not LF
      {"4;a\0b\r\n"s, 3},             // NUL in an extension
      {"4;a\nb\r\n", 3},              // LF in an extension
      {"0\r\n x: y\r\n\r\n", 3},      // obs-fold in trailers
      {"0\r\n: y\r\n\r\n", 3},        // empty trailer name
      {"0\r\nX y\r\n\r\n", 4},        // no colon in trailer
      {"0\r\nX : y\r\n\r\n", 4},      // space before colon
      {"0\r\nX: \0\r\n\r\n"s, 6},     // NUL in a trailer value
      {"0\r\nX: y\n\r\n", 7},         // bare LF after a trailer
      {"0\r\n\n", 3},                 // bare LF as the final line
      {"0\r\n\rX", 4},                // CR then not LF at the end
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    ExpectSameAtEverySplit(ChunkedRequest(), c.body, {FramerStatus::kError, c.at});
  }
}

TEST(BodyFramerTest, ExtensionBytesAreCapped) {
  // kMaxChunkExtBytes counts ';' and the extension bytes of all chunks of the body.
  const std::string at_cap = "1;" + std::string(kMaxChunkExtBytes - 1, 'a') + "\r\nx\r\n0\r\n\r\n";
  ExpectSameAtEverySplit(ChunkedRequest(), at_cap, {FramerStatus::kDone, at_cap.size()});
  const std::string over = "1;" + std::string(kMaxChunkExtBytes, 'a') + "\r\nx\r\n0\r\n\r\n";
  ExpectSameAtEverySplit(ChunkedRequest(), over, {FramerStatus::kError, 1 + kMaxChunkExtBytes});
  const std::string half = ";" + std::string(kMaxChunkExtBytes / 2, 'b');
  const std::string spread = "1" + half + "\r\nx\r\n1" + half + "\r\ny\r\n0\r\n\r\n";
  // The first chunk used half.size() bytes; the second is refused at byte number cap + 1.
  const std::size_t refused = spread.find(half, 2) + (kMaxChunkExtBytes - half.size());
  ExpectSameAtEverySplit(ChunkedRequest(), spread, {FramerStatus::kError, refused});
}

TEST(BodyFramerTest, TrailerBytesAreCapped) {
  // kMaxTrailerBytes counts every byte after the last chunk's CRLF, final CRLF included.
  const auto trailers_of = [](std::size_t total) {
    const std::size_t value = total - 3 - 2 - 2;  // "X: " CRLF, final CRLF
    return "0\r\nX: " + std::string(value, 'v') + "\r\n\r\n";
  };
  const std::string at_cap = trailers_of(kMaxTrailerBytes);
  ExpectSameAtEverySplit(ChunkedRequest(), at_cap, {FramerStatus::kDone, at_cap.size()});
  const std::string over = trailers_of(kMaxTrailerBytes + 1);
  ExpectSameAtEverySplit(ChunkedRequest(), over, {FramerStatus::kError, over.size() - 1});
  std::string many_lines = "0\r\n";
  while (many_lines.size() < kMaxTrailerBytes + 100) many_lines += "A: b\r\n";
  const FeedOutcome outcome = FeedByteByByte(ChunkedRequest(), many_lines + "\r\n");
  EXPECT_EQ(outcome, (FeedOutcome{FramerStatus::kError, 3 + kMaxTrailerBytes}));
}

TEST(BodyFramerTest, RestartsCleanlyForTheNextRequest) {
  BodyFramer framer;
  framer.Start(ChunkedRequest());
  EXPECT_EQ(framer.Feed("zz").status, FramerStatus::kError);
  EXPECT_EQ(framer.Feed("0\r\n\r\n").status, FramerStatus::kError);
  framer.Start(ChunkedRequest());
  EXPECT_EQ(framer.Feed("1;" + std::string(1000, 'e') + "\r\n").status, FramerStatus::kNeedMore);
  EXPECT_EQ(framer.Feed("x\r\n0\r\n\r\n").status, FramerStatus::kDone);
  framer.Start(ChunkedRequest());  // the extension budget starts again
  const BodyFramer::Result result =
      framer.Feed("1;" + std::string(1000, 'e') + "\r\nx\r\n0\r\n\r\n");
  EXPECT_EQ(result.status, FramerStatus::kDone);
  framer.Start(LengthRequest(3));
  EXPECT_EQ(framer.Feed("ab").consumed, 2u);
  const BodyFramer::Result rest = framer.Feed("cGET");
  EXPECT_EQ(rest.status, FramerStatus::kDone);
  EXPECT_EQ(rest.consumed, 1u);
}

TEST(BodyFramerTest, HeadAndBodyAtEverySplitAgainstAGuardPage) {
  // A connection receiving a chunked request then a pipelined one, in random pieces, each piece
  // placed at a guard page.
  const std::string stream = Bytes({
      "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      "3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n",
      "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nwxyz",
      "GET /c HTTP/1.1\r\nHost: a\r\n\r\n",
  });
  GuardedBuffer guard(stream.size());
  std::mt19937 rng(7);
  auto r = NewRequest();
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> paths;
    std::size_t received = 0;
    std::size_t at = 0;  // first byte not consumed
    bool in_body = false;
    BodyFramer framer;
    for (int step = 0; at < stream.size(); ++step) {
      ASSERT_LT(step, 10000);
      if (received == at || rng() % 2 == 0) {
        received = std::min(stream.size(), received + 1 + rng() % 9);
      }
      const std::string_view window =
          guard.Place(std::string_view(stream).substr(at, received - at));
      if (!in_body) {
        const ParseResult head = Parse(window, *r);
        ASSERT_NE(head.status, Status::kError);
        if (head.status == Status::kPartial) continue;
        paths.emplace_back(r->path);
        at += head.consumed;
        framer.Start(*r);
        in_body = true;
        continue;
      }
      const BodyFramer::Result body = framer.Feed(window);
      ASSERT_NE(body.status, FramerStatus::kError);
      at += body.consumed;
      if (body.status == FramerStatus::kDone) in_body = false;
    }
    ASSERT_FALSE(in_body && !framer.done());
    ASSERT_EQ(paths, (std::vector<std::string>{"/a", "/b", "/c"}));
  }
}

// ---------------------------------------------------------------------------------------------
// Robustness

std::string Mutate(std::string s, std::mt19937& rng) {
  static constexpr std::string_view kInteresting = "\r\n\0 \t:;,/?%\x7f\x80\xff"sv;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = s.empty() ? 0 : rng() % s.size();
    const char byte =
        rng() % 2 == 0 ? static_cast<char>(rng() % 256) : kInteresting[rng() % kInteresting.size()];
    switch (rng() % 4) {
      case 0:
        if (!s.empty()) s[at] = byte;
        break;
      case 1:
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
        break;
      case 2:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), byte);
        break;
      default:
        if (!s.empty()) s.erase(at, 1 + rng() % 3);
        break;
    }
  }
  return s;
}

TEST(HttpParserRobustnessTest, MutatedRequestsNeverMisbehave) {
  std::vector<std::string> valid;
  for (const auto& c : ValidCases()) valid.push_back(c.input);
  valid.push_back(
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;e=1\r\nWiki\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  valid.push_back(
      "POST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n");
  std::vector<std::string> invalid;
  for (const auto& c : ErrorCases()) {
    if (c.input.size() < 512) invalid.push_back(c.input);
  }
  GuardedBuffer guard(4096);
  std::mt19937 rng(20240601);
  auto r = NewRequest();
  HttpLimits tight;
  tight.max_header_bytes = 96;
  tight.max_headers = 4;
  tight.max_uri_bytes = 16;
  std::size_t counts[3] = {};
  for (int iteration = 0; iteration < 20000; ++iteration) {
    const auto& seeds = rng() % 4 == 0 ? invalid : valid;
    const std::string input = Mutate(seeds[rng() % seeds.size()], rng);
    const std::string_view placed = guard.Place(input);
    for (const HttpLimits& limits : {HttpLimits{}, tight}) {
      const ParseResult result = Parse(placed, *r, limits);
      ASSERT_LE(result.consumed, input.size());
      ++counts[static_cast<int>(result.status)];
      switch (result.status) {
        case Status::kComplete: {
          ASSERT_GT(result.consumed, 0u);
          ASSERT_EQ(result.error, ParseError::kNone);
          ASSERT_LE(result.consumed, limits.max_header_bytes);
          ASSERT_LE(r->header_count, std::min(limits.max_headers, kMaxHeaders));
          // The body framer agrees with itself however the rest arrives.
          const std::string_view rest = placed.substr(result.consumed);
          const FeedOutcome whole = FeedWhole(*r, rest);
          ASSERT_LE(whole.consumed, rest.size());
          ASSERT_EQ(FeedByteByByte(*r, rest), whole);
          ASSERT_EQ(FeedRandomSplit(*r, rest, rng), whole);
          // A head found by mutation is a valid head: alone it is complete, every strict prefix
          // of it is partial.
          const std::size_t head = result.consumed;
          ASSERT_EQ(Parse(guard.Place(input.substr(0, head)), *r, limits).consumed, head);
          for (std::size_t n = 0; n < head; ++n) {
            ASSERT_EQ(Parse(guard.Place(input.substr(0, n)), *r, limits).status, Status::kPartial)
                << n;
          }
          break;
        }
        case Status::kPartial:
          ASSERT_EQ(result.consumed, 0u);
          ASSERT_EQ(result.error, ParseError::kNone);
          break;
        case Status::kError: {
          ASSERT_EQ(result.consumed, 0u);
          ASSERT_NE(result.error, ParseError::kNone);
          const int status = StatusFor(result.error);
          ASSERT_TRUE(status == 400 || status == 414 || status == 431 || status == 501 ||
                      status == 505);
          break;
        }
        default:
          FAIL() << "unknown status";
      }
    }
  }
  RecordProperty("complete", static_cast<int>(counts[0]));
  RecordProperty("partial", static_cast<int>(counts[1]));
  RecordProperty("error", static_cast<int>(counts[2]));
  // The mutations reach every answer.
  EXPECT_GT(counts[0], 1000u);
  EXPECT_GT(counts[1], 100u);
  EXPECT_GT(counts[2], 1000u);
}

}  // namespace
}  // namespace sluice::net
