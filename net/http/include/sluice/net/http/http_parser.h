// The HTTP/1.1 request parser of sluiced: stateless, zero-copy, allocation-free.
//
// Why our own: no Debian 12 package fits. llhttp/http-parser are callback-driven and keep state
// per connection, picohttpparser is not packaged, and sluiced needs strictness decisions
// (smuggling, obs-fold, limits) made in one place where they can be read and tested.
//
// ParseRequestHead() looks at the bytes received so far and answers one of:
//   kComplete  the request head (request line + headers + empty line) is whole; `consumed` is
//              its length and `request` views into the input (valid while the input is).
//   kPartial   not enough bytes yet: call again with more (every strict prefix of a valid head
//              is partial, never an error).
//   kError     the head is bad; `error` says why and `status` which 4xx/5xx to answer. The
//              connection must be closed after that answer.
// The body is not part of the head: BodyFramer skips it incrementally, across receives.
//
// Strictness (RFC 9112 leaves these to the recipient; we take the strict side, since every byte
// is hostile and lenient framing is how request smuggling starts):
//   - Lines end in CRLF. A bare LF (or a CR not followed by LF) is an error, in the head and in
//     chunked framing alike; we do not use the MAY of RFC 9112 section 2.2.
//   - Empty lines (CRLF) before the request line are skipped and counted in `consumed` and in
//     max_header_bytes.
//   - The request target is visible ASCII (0x21-0x7E) in origin-form ("/..."), absolute-form
//     ("scheme://authority/..."), "*" (OPTIONS only) or authority-form (CONNECT only).
//   - HTTP/1.1 needs exactly one Host field, HTTP/1.0 at most one (RFC 9112 section 3.2).
//   - Field values keep obs-text (0x80-0xFF) but no control other than HTAB.
// Partial input is re-parsed from the start on every call: a call costs O(input), bounded by
// max_header_bytes.
#ifndef SLUICE_NET_HTTP_PARSER_H_
#define SLUICE_NET_HTTP_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::net {

struct HttpLimits {
  std::size_t max_header_bytes = 8192;  // whole head; above: 431
  std::size_t max_headers = 64;         // header fields; above: 431 (at most kMaxHeaders)
  std::size_t max_uri_bytes = 4096;     // request target; above: 414
};

inline constexpr std::size_t kMaxHeaders = 128;
// Chunked bodies: all chunk extensions of one body together (";name=value" up to the CRLF),
// and the trailer section (field lines and the final empty line).
inline constexpr std::size_t kMaxChunkExtBytes = 1024;
inline constexpr std::size_t kMaxTrailerBytes = 8192;

struct HttpHeader {
  std::string_view name;   // as sent (compare case-insensitively)
  std::string_view value;  // leading and trailing spaces/tabs removed
};

enum class BodyKind : std::uint8_t { kNone, kContentLength, kChunked };

// Why a head was refused. Each kind maps to one status and one metrics label. New kinds go
// last: sluiced sizes its per-kind counters by the last one (net/server/src/metrics.h).
enum class ParseError : std::uint8_t {
  kNone,
  kBadRequestLine,       // 400: method, target or version malformed
  kBadHeader,            // 400: bad bytes in a name or value, missing colon, space before colon
  kObsFold,              // 400: a header line starting with space or tab (obsolete folding)
  kBadContentLength,     // 400: not a decimal number, overflow, or several differing values
  kBadTransferEncoding,  // 400: anything but a final "chunked" (also on HTTP/1.0)
  kLengthAndChunked,     // 400: both Content-Length and Transfer-Encoding (smuggling)
  kHeaderTooLarge,       // 431: head above max_header_bytes, or more than max_headers fields
  kUriTooLong,           // 414
  kBadVersion,           // 505: HTTP/x.y other than 1.0 and 1.1
  kBadHost,              // 400: no Host on HTTP/1.1, or several Host fields
};

// The HTTP status to answer for `error` (400, 414, 431 or 505; 0 for kNone).
int StatusFor(ParseError error) noexcept;
// A short stable label for metrics ("bad_request_line", "obs_fold", ...; "none" for kNone).
std::string_view LabelFor(ParseError error) noexcept;

// Filled by ParseRequestHead; meaningful only when it answered kComplete.
struct HttpRequest {
  std::string_view method;
  std::string_view target;  // request target as sent (origin form normally)
  // The path of the target, not decoded or normalised: origin-form "/a/b?q" gives "/a/b";
  // absolute-form "http://h/a/b?q" gives "/a/b" ("/" when it has no path); "*" and a CONNECT
  // authority give the target itself.
  std::string_view path;
  int minor_version = 1;   // HTTP/1.<minor_version>
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with keep-alive
  BodyKind body = BodyKind::kNone;
  std::uint64_t content_length = 0;  // kContentLength only
  std::size_t header_count = 0;
  HttpHeader headers[kMaxHeaders];

  // The value of the first header named `name` (ASCII case-insensitive), or nullptr.
  const HttpHeader* Find(std::string_view name) const noexcept;
};

struct ParseResult {
  enum class Status : std::uint8_t { kComplete, kPartial, kError };
  Status status = Status::kPartial;
  std::size_t consumed = 0;  // kComplete: bytes of the head (0 otherwise)
  ParseError error = ParseError::kNone;
};

// Never reads outside `input`, never allocates, never throws.
ParseResult ParseRequestHead(std::string_view input, const HttpLimits& limits,
                             HttpRequest& request) noexcept;

// Skips a request body across receives: Content-Length bytes, or chunked framing (chunk sizes
// in hex with optional extensions, CRLF checks, trailers) up to the final empty line.
// Chunk sizes have at most 16 hex digits; extensions and trailers are capped by
// kMaxChunkExtBytes and kMaxTrailerBytes. Any split of the body across Feed() calls gives the
// same answers. Not thread-safe: one per connection.
class BodyFramer {
 public:
  enum class Status : std::uint8_t { kDone, kNeedMore, kError };
  struct Result {
    Status status;
    // Body bytes of `input` used (the rest belongs to the next request). kNeedMore: all of
    // `input`. kError: the bytes before the offending one; the connection must be closed.
    std::size_t consumed;
  };

  // Prepares for the body of `request` (kNone or a zero Content-Length: already done).
  void Start(const HttpRequest& request) noexcept;
  // Consumes as much of `input` as belongs to the body. After kDone it consumes nothing and
  // answers kDone; after kError it answers kError.
  Result Feed(std::string_view input) noexcept;
  [[nodiscard]] bool done() const noexcept;

 private:
  enum class State : std::uint8_t {
    kDone,
    kError,
    kLength,        // remaining_ bytes of a Content-Length body
    kChunkSize,     // hex digits of a chunk size (size_digits_ so far, value in remaining_)
    kChunkExt,      // after ';' up to CR
    kChunkSizeLf,   // LF after the chunk-size line
    kChunkData,     // remaining_ bytes of chunk data
    kChunkDataCr,   // CR after the data
    kChunkDataLf,   // LF after the data
    kTrailerStart,  // start of a trailer line (or of the final empty line)
    kTrailerName,   // field name of a trailer
    kTrailerValue,  // field value of a trailer, up to CR
    kTrailerLf,     // LF after a trailer line
    kFinalLf,       // LF of the final empty line
  };
  State state_ = State::kDone;
  std::uint32_t size_digits_ = 0;
  std::uint32_t ext_bytes_ = 0;
  std::uint32_t trailer_bytes_ = 0;
  std::uint64_t remaining_ = 0;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_PARSER_H_
