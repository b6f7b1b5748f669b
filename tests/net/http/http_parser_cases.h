// The request parser tests' shared inputs (http_parser_test, http_parser_errors_test,
// body_framer_test): the valid heads with the bytes ParseRequestHead must consume, and one case
// per error class with its error and limits.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/net/http/http_parser.h"
#include "support/guarded_buffer.h"

namespace sluice::net::parser_cases {

using namespace std::string_literals;
using namespace std::string_view_literals;
using Status = ParseResult::Status;
using FramerStatus = BodyFramer::Status;
using ::sluice::testing::GuardedBuffer;

// HttpRequest holds 128 headers: keep it off small stacks and reuse it.
inline std::unique_ptr<HttpRequest> NewRequest() { return std::make_unique<HttpRequest>(); }

inline ParseResult Parse(std::string_view input, HttpRequest& request,
                         const HttpLimits& limits = {}) {
  return ParseRequestHead(input, limits, request);
}

inline std::string Bytes(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto part : parts) out.append(part);
  return out;
}

struct ValidCase {
  std::string name;
  std::string input;       // a head, possibly followed by body bytes or another request
  std::size_t head_bytes;  // what ParseRequestHead must consume
};

inline std::vector<ValidCase> ValidCases() {
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

struct ErrorCase {
  std::string name;
  std::string input;
  ParseError error;
  HttpLimits limits = {};
};

inline std::string Req(std::string_view fields, std::string_view version = "HTTP/1.1") {
  return Bytes({"GET / ", version, "\r\nHost: a\r\n", fields, "\r\n"});
}

inline std::vector<ErrorCase> ErrorCases() {
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

inline int ExpectedStatus(ParseError error) {
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

}  // namespace sluice::net::parser_cases
