// The parser of upstream answers in proxy mode: stateless, zero-copy, allocation-free, and as
// strict as the request parser (an upstream's bytes are as hostile as a client's: a lenient
// response parser is how a pooled connection gets desynchronised for the next client).
//
// ParseResponseHead() looks at the bytes received so far and answers one of:
//   kComplete  the head (status line + fields + empty line) is whole; `consumed` is its length
//              and `response` views into the input. An interim answer (1xx other than 101) is
//              complete on its own: the final answer's head follows it, parse again after it.
//   kPartial   not enough bytes yet (every strict prefix of a valid head is partial).
//   kError     the answer is malformed or ambiguous; `error` says why. A proxy answers 502 if
//              nothing went to its client yet, and closes that upstream connection (never pools
//              it).
//
// Framing, RFC 9112 section 6.3, decided in this order:
//   1. An answer to HEAD, any 1xx, 204 and 304 end at the empty line, whatever the fields say
//      (Content-Length and Transfer-Encoding on HEAD and 304 describe the GET's body).
//   2. Transfer-Encoding whose only coding is "chunked": a chunked body (ChunkedDecoder).
//   3. Content-Length: that many bytes.
//   4. Neither: the body runs until the upstream closes; that connection is never reused.
// Strictness (each one is a kError, where RFC 9112 would also let a recipient guess):
//   - Lines end in CRLF; no bare LF, no bare CR, no NUL or other controls in values.
//   - No obs-fold, no whitespace between a field name and its colon.
//   - Content-Length is 1*DIGIT, or a list of identical values; several differing values,
//     overflow, a sign or an empty value are errors.
//   - Content-Length together with Transfer-Encoding is an error (not "TE wins"), and so is
//     Transfer-Encoding on an HTTP/1.0 answer, or any coding other than one "chunked" (we send
//     no TE to upstreams, so a transfer coding such as gzip is not something we asked for).
//   - 1xx and 204 must not carry a body: Transfer-Encoding, or a Content-Length other than 0,
//     is kBodyNotAllowed. (Bytes after a 204/304/HEAD answer, before the next one, are what the
//     forwarder must treat as a protocol error too: that needs the connection, not the head.)
//   - The status line is "HTTP/1.x SP 3DIGIT SP reason" or "HTTP/1.x SP 3DIGIT" (the reason is
//     optional and ignored; some servers omit the space before it), status 100-599.
#ifndef SLUICE_NET_HTTP_RESPONSE_PARSER_H_
#define SLUICE_NET_HTTP_RESPONSE_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {

struct ResponseLimits {
  std::size_t max_header_bytes = 16384;  // the whole head; above: kHeaderTooLarge
  std::size_t max_headers = 100;         // at most kMaxHeaders
};

// How the body of an answer is delimited.
enum class ResponseBody : std::uint8_t { kNone, kContentLength, kChunked, kUntilClose };

// Why an answer was refused; one stable metrics label each. New kinds go last.
enum class ResponseError : std::uint8_t {
  kNone,
  kBadStatusLine,        // not "HTTP/1.x NNN ...", status outside 100-599
  kBadVersion,           // HTTP/x.y other than 1.0 and 1.1
  kBadHeader,            // bad bytes in a name or value, missing colon, space before colon
  kObsFold,              // a field line starting with space or tab
  kBadContentLength,     // not a decimal number, overflow, several differing values
  kBadTransferEncoding,  // anything but one "chunked", or any Transfer-Encoding on HTTP/1.0
  kLengthAndChunked,     // both Content-Length and Transfer-Encoding
  kBodyNotAllowed,       // 1xx or 204 with Transfer-Encoding or a non-zero Content-Length
  kHeaderTooLarge,       // head above max_header_bytes, or more than max_headers fields
};

// A short stable label for metrics ("bad_status_line", ...; "none" for kNone).
std::string_view LabelFor(ResponseError error) noexcept;

// Filled by ParseResponseHead; meaningful only when it answered kComplete.
struct HttpResponse {
  int status = 0;           // 100-599
  int minor_version = 1;    // HTTP/1.<minor_version>
  std::string_view reason;  // as sent (may be empty): VCHAR, obs-text, SP and HTAB only
  ResponseBody body = ResponseBody::kNone;
  // The Content-Length value when one was sent (length_declared), also where it frames no body
  // (HEAD, 304: the length of what GET would have sent, which a proxy passes on).
  std::uint64_t content_length = 0;
  bool length_declared = false;
  // The upstream connection may carry another request once this answer's body is read:
  // HTTP/1.1 without "Connection: close" or HTTP/1.0 with "keep-alive", the body not
  // close-delimited, and not a 101.
  bool keep_alive = true;
  std::size_t header_count = 0;
  HttpHeader headers[kMaxHeaders];

  // An interim answer (1xx): another head follows. 101 is interim too but ends HTTP on the
  // connection.
  [[nodiscard]] bool interim() const noexcept { return status < 200; }
  // The first header named `name` (ASCII case-insensitive), or nullptr.
  const HttpHeader* Find(std::string_view name) const noexcept;
};

struct ResponseParseResult {
  enum class Status : std::uint8_t { kComplete, kPartial, kError };
  Status status = Status::kPartial;
  std::size_t consumed = 0;  // kComplete: bytes of the head (0 otherwise)
  ResponseError error = ResponseError::kNone;
};

// `head_request`: the answer is to a HEAD request (it has no body whatever it says). Never
// reads outside `input`, never allocates, never throws.
ResponseParseResult ParseResponseHead(std::string_view input, const ResponseLimits& limits,
                                      bool head_request, HttpResponse& response) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_RESPONSE_PARSER_H_
