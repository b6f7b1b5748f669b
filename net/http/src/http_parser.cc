// The HTTP/1.1 request-head parser and body framer (see http_parser.h for the strictness rules).
//
// ParseRequestHead is one forward pass over the input with a byte-class table: every read is
// preceded by a bounds check against `end_`, which is the input end or, when the input is
// longer than max_header_bytes, the end of that limit (running into it means 431). Framing
// headers (Content-Length, Transfer-Encoding, Connection, Host) are interpreted as each line
// completes, the conflicts between them once the empty line has been seen.
#include "sluice/net/http/http_parser.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

namespace sluice::net {
namespace {

// Byte classes. kToken: RFC 9110 tchar. kTarget: visible ASCII, the request target. kValue: a
// field-value byte (VCHAR, obs-text, SP, HTAB). kOws: SP or HTAB.
enum : std::uint8_t { kToken = 1, kTarget = 2, kValue = 4, kOws = 8 };

constexpr std::array<std::uint8_t, 256> MakeByteClasses() {
  std::array<std::uint8_t, 256> table{};
  constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  for (unsigned c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    unsigned bits = 0;
    if (alnum || kTokenPunctuation.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kToken;
    }
    if (c >= 0x21 && c <= 0x7E) bits |= kTarget;
    if ((c >= 0x20 && c <= 0x7E) || c == '\t' || c >= 0x80) bits |= kValue;
    if (c == ' ' || c == '\t') bits |= kOws;
    table[c] = static_cast<std::uint8_t>(bits);
  }
  return table;
}

constexpr std::array<std::uint8_t, 256> kByteClasses = MakeByteClasses();

inline bool Is(char c, std::uint8_t byte_class) noexcept {
  return (kByteClasses[static_cast<unsigned char>(c)] & byte_class) != 0;
}

// The first byte in [p, end) outside `byte_class`, or end. Unrolled: this is the inner loop.
inline const char* SkipClass(const char* p, const char* end, std::uint8_t byte_class) noexcept {
  while (end - p >= 4) {
    if (!Is(p[0], byte_class)) return p;
    if (!Is(p[1], byte_class)) return p + 1;
    if (!Is(p[2], byte_class)) return p + 2;
    if (!Is(p[3], byte_class)) return p + 3;
    p += 4;
  }
  while (p < end && Is(*p, byte_class)) ++p;
  return p;
}

inline char AsciiLower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

inline std::string_view TrimOws(std::string_view s) noexcept {
  while (!s.empty() && Is(s.front(), kOws)) s.remove_prefix(1);
  while (!s.empty() && Is(s.back(), kOws)) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each element of a comma-separated list, OWS trimmed, empty elements
// included (the caller decides whether they are allowed). Stops at the first error fn returns.
template <typename Fn>
ParseError ForEachListElement(std::string_view list, Fn&& fn) noexcept {
  for (;;) {
    const std::size_t comma = list.find(',');
    const ParseError error = fn(TrimOws(list.substr(0, comma)));
    if (error != ParseError::kNone || comma == std::string_view::npos) return error;
    list.remove_prefix(comma + 1);
  }
}

// The transfer codings we can skip through when chunked is applied last (the body is never
// decoded, only framed). Anything else is refused rather than guessed.
bool IsKnownCoding(std::string_view coding) noexcept {
  return EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip") ||
         EqualsIgnoreCase(coding, "deflate") || EqualsIgnoreCase(coding, "compress") ||
         EqualsIgnoreCase(coding, "x-compress");
}

class HeadParser {
 public:
  HeadParser(std::string_view input, const HttpLimits& limits, HttpRequest& request) noexcept
      : begin_(input.data()),
        p_(input.data()),
        end_(input.data() + std::min(input.size(), limits.max_header_bytes)),
        truncated_(input.size() > limits.max_header_bytes),
        max_headers_(std::min(limits.max_headers, kMaxHeaders)),
        max_uri_bytes_(limits.max_uri_bytes),
        request_(request) {}

  ParseResult Parse() noexcept {
    request_.method = {};
    request_.target = {};
    request_.path = {};
    request_.minor_version = 1;
    request_.keep_alive = true;
    request_.body = BodyKind::kNone;
    request_.content_length = 0;
    request_.header_count = 0;

    // Empty lines before the request line (RFC 9112 section 2.2): CRLF only.
    for (;;) {
      if (p_ == end_) return Starve();
      if (*p_ != '\r') break;
      if (end_ - p_ < 2) return Starve();
      if (p_[1] != '\n') return Fail(ParseError::kBadRequestLine);
      p_ += 2;
    }
    if (const ParseError error = ParseRequestLine(); error != ParseError::kNone) {
      return error == kStarved ? Starve() : Fail(error);
    }
    for (;;) {
      if (p_ == end_) return Starve();
      if (*p_ == '\r') {
        if (end_ - p_ < 2) return Starve();
        if (p_[1] != '\n') return Fail(ParseError::kBadHeader);
        p_ += 2;
        return Finish();
      }
      if (const ParseError error = ParseHeaderLine(); error != ParseError::kNone) {
        return error == kStarved ? Starve() : Fail(error);
      }
    }
  }

 private:
  // Internal marker: the input ended before the element did (never leaves this file).
  static constexpr ParseError kStarved = static_cast<ParseError>(0xFF);

  // METHOD SP request-target SP HTTP/D.D CRLF
  ParseError ParseRequestLine() noexcept {
    const char* const method_begin = p_;
    p_ = SkipClass(p_, end_, kToken);
    if (p_ == end_) return kStarved;
    if (*p_ != ' ' || p_ == method_begin) return ParseError::kBadRequestLine;
    const std::string_view method(method_begin, static_cast<std::size_t>(p_ - method_begin));
    ++p_;

    const char* const target_begin = p_;
    p_ = SkipClass(p_, end_, kTarget);
    const auto target_size = static_cast<std::size_t>(p_ - target_begin);
    if (target_size > max_uri_bytes_) return ParseError::kUriTooLong;  // also while partial
    if (p_ == end_) return kStarved;
    if (*p_ != ' ' || target_size == 0) return ParseError::kBadRequestLine;
    const std::string_view target(target_begin, target_size);
    ++p_;

    // '#' stands for a digit. HTTP-name is case-sensitive (RFC 9112 section 2.3).
    constexpr std::string_view kVersionShape = "HTTP/#.#\r\n";
    for (const char want : kVersionShape) {
      if (p_ == end_) return kStarved;
      if (want == '#' ? !IsDigit(*p_) : *p_ != want) return ParseError::kBadRequestLine;
      ++p_;
    }
    const int major = p_[-5] - '0';
    const int minor = p_[-3] - '0';
    if (major != 1 || minor > 1) return ParseError::kBadVersion;

    request_.method = method;
    request_.target = target;
    request_.minor_version = minor;
    return SetPath(method, target);
  }

  // The path of the target, and the form of the target checked against the method.
  ParseError SetPath(std::string_view method, std::string_view target) noexcept {
    if (target.front() == '/') {  // origin-form
      request_.path = target.substr(0, target.find('?'));
      return ParseError::kNone;
    }
    if (target == "*") {  // asterisk-form
      if (method != "OPTIONS") return ParseError::kBadRequestLine;
      request_.path = target;
      return ParseError::kNone;
    }
    if (method == "CONNECT") {  // authority-form
      request_.path = target;
      return ParseError::kNone;
    }
    // absolute-form: scheme "://" authority [ "/" path ] [ "?" query ]
    std::size_t i = 0;
    const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    if (!is_alpha(target[0])) return ParseError::kBadRequestLine;
    while (i < target.size() && (is_alpha(target[i]) || IsDigit(target[i]) || target[i] == '+' ||
                                 target[i] == '-' || target[i] == '.')) {
      ++i;
    }
    if (target.substr(i, 3) != "://") return ParseError::kBadRequestLine;
    const std::string_view rest = target.substr(i + 3);
    const std::size_t path_begin = rest.find_first_of("/?");
    if (path_begin == std::string_view::npos || rest[path_begin] == '?') {
      request_.path = "/";  // static storage: no path means "/" (RFC 9112 section 3.2.1)
    } else {
      const std::string_view path = rest.substr(path_begin);
      request_.path = path.substr(0, path.find('?'));
    }
    return ParseError::kNone;
  }

  // field-name ":" OWS field-value OWS CRLF, at a line that is not the empty line.
  ParseError ParseHeaderLine() noexcept {
    if (Is(*p_, kOws)) return ParseError::kObsFold;
    if (request_.header_count == max_headers_) return ParseError::kHeaderTooLarge;
    const char* const name_begin = p_;
    p_ = SkipClass(p_, end_, kToken);
    if (p_ == end_) return kStarved;
    if (*p_ != ':' || p_ == name_begin) return ParseError::kBadHeader;  // incl. space before ':'
    const std::string_view name(name_begin, static_cast<std::size_t>(p_ - name_begin));
    ++p_;
    p_ = SkipClass(p_, end_, kOws);
    const char* const value_begin = p_;
    p_ = SkipClass(p_, end_, kValue);
    if (p_ == end_) return kStarved;
    if (*p_ != '\r') return ParseError::kBadHeader;  // NUL, bare LF, DEL, other controls
    if (end_ - p_ < 2) return kStarved;
    if (p_[1] != '\n') return ParseError::kBadHeader;
    const char* value_end = p_;
    while (value_end > value_begin && Is(value_end[-1], kOws)) --value_end;
    p_ += 2;

    const std::string_view value(value_begin, static_cast<std::size_t>(value_end - value_begin));
    request_.headers[request_.header_count++] = HttpHeader{name, value};
    return OnHeader(name, value);
  }

  ParseError OnHeader(std::string_view name, std::string_view value) noexcept {
    switch (name.size()) {  // one length compare rules out almost every header
      case 4:
        if (EqualsIgnoreCase(name, "host")) ++host_count_;
        return ParseError::kNone;
      case 10:
        if (EqualsIgnoreCase(name, "connection")) return OnConnection(value);
        return ParseError::kNone;
      case 14:
        if (EqualsIgnoreCase(name, "content-length")) return OnContentLength(value);
        return ParseError::kNone;
      case 17:
        if (EqualsIgnoreCase(name, "transfer-encoding")) return OnTransferEncoding(value);
        return ParseError::kNone;
      default:
        return ParseError::kNone;
    }
  }

  // 1*DIGIT, or a list of identical ones (RFC 9110 section 8.6). No sign, no empty element.
  ParseError OnContentLength(std::string_view value) noexcept {
    return ForEachListElement(value, [this](std::string_view element) noexcept {
      if (element.empty()) return ParseError::kBadContentLength;
      std::uint64_t length = 0;
      for (const char c : element) {
        if (!IsDigit(c)) return ParseError::kBadContentLength;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (length > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          return ParseError::kBadContentLength;
        }
        length = length * 10 + digit;
      }
      if (content_length_seen_ && length != content_length_) return ParseError::kBadContentLength;
      content_length_seen_ = true;
      content_length_ = length;
      return ParseError::kNone;
    });
  }

  // Codings in order, over all Transfer-Encoding lines; chunked must come last and only once.
  ParseError OnTransferEncoding(std::string_view value) noexcept {
    transfer_encoding_seen_ = true;
    return ForEachListElement(value, [this](std::string_view coding) noexcept {
      if (coding.empty()) return ParseError::kNone;  // empty list elements are ignored
      if (chunked_last_) return ParseError::kBadTransferEncoding;  // something after chunked
      if (EqualsIgnoreCase(coding, "chunked")) {
        chunked_last_ = true;
      } else if (!IsKnownCoding(coding)) {
        return ParseError::kBadTransferEncoding;
      }
      return ParseError::kNone;
    });
  }

  ParseError OnConnection(std::string_view value) noexcept {
    return ForEachListElement(value, [this](std::string_view option) noexcept {
      if (EqualsIgnoreCase(option, "close")) connection_close_ = true;
      if (EqualsIgnoreCase(option, "keep-alive")) connection_keep_alive_ = true;
      return ParseError::kNone;
    });
  }

  ParseResult Finish() noexcept {
    if (transfer_encoding_seen_) {
      if (request_.minor_version == 0) return Fail(ParseError::kBadTransferEncoding);
      if (content_length_seen_) return Fail(ParseError::kLengthAndChunked);
      if (!chunked_last_) return Fail(ParseError::kBadTransferEncoding);
      request_.body = BodyKind::kChunked;
    } else if (content_length_seen_) {
      request_.body = BodyKind::kContentLength;
      request_.content_length = content_length_;
    }
    if (host_count_ > 1 || (request_.minor_version == 1 && host_count_ == 0)) {
      return Fail(ParseError::kBadHost);
    }
    request_.keep_alive =
        !connection_close_ && (request_.minor_version == 1 || connection_keep_alive_);
    return ParseResult{ParseResult::Status::kComplete, static_cast<std::size_t>(p_ - begin_),
                       ParseError::kNone};
  }

  // The input ended inside the head: wait for more, unless the head already fills the limit.
  ParseResult Starve() const noexcept {
    if (truncated_) return Fail(ParseError::kHeaderTooLarge);
    return ParseResult{ParseResult::Status::kPartial, 0, ParseError::kNone};
  }

  static ParseResult Fail(ParseError error) noexcept {
    return ParseResult{ParseResult::Status::kError, 0, error};
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const bool truncated_;
  const std::size_t max_headers_;
  const std::size_t max_uri_bytes_;
  HttpRequest& request_;

  std::uint64_t content_length_ = 0;
  std::size_t host_count_ = 0;
  bool content_length_seen_ = false;
  bool transfer_encoding_seen_ = false;
  bool chunked_last_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
};

inline int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

int StatusFor(ParseError error) noexcept {
  switch (error) {
    case ParseError::kNone:
      return 0;
    case ParseError::kHeaderTooLarge:
      return 431;
    case ParseError::kUriTooLong:
      return 414;
    case ParseError::kBadVersion:
      return 505;
    case ParseError::kBadRequestLine:
    case ParseError::kBadHeader:
    case ParseError::kObsFold:
    case ParseError::kBadContentLength:
    case ParseError::kBadTransferEncoding:
    case ParseError::kLengthAndChunked:
    case ParseError::kBadHost:
      return 400;
  }
  return 400;
}

std::string_view LabelFor(ParseError error) noexcept {
  switch (error) {
    case ParseError::kNone:
      return "none";
    case ParseError::kBadRequestLine:
      return "bad_request_line";
    case ParseError::kBadHeader:
      return "bad_header";
    case ParseError::kObsFold:
      return "obs_fold";
    case ParseError::kBadContentLength:
      return "bad_content_length";
    case ParseError::kBadTransferEncoding:
      return "bad_transfer_encoding";
    case ParseError::kLengthAndChunked:
      return "length_and_chunked";
    case ParseError::kHeaderTooLarge:
      return "header_too_large";
    case ParseError::kUriTooLong:
      return "uri_too_long";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kBadHost:
      return "bad_host";
  }
  return "unknown";
}

const HttpHeader* HttpRequest::Find(std::string_view name) const noexcept {
  const std::size_t count = std::min(header_count, kMaxHeaders);
  for (std::size_t i = 0; i < count; ++i) {
    if (EqualsIgnoreCase(headers[i].name, name)) return &headers[i];
  }
  return nullptr;
}

ParseResult ParseRequestHead(std::string_view input, const HttpLimits& limits,
                             HttpRequest& request) noexcept {
  return HeadParser(input, limits, request).Parse();
}

void BodyFramer::Start(const HttpRequest& request) noexcept {
  size_digits_ = 0;
  ext_bytes_ = 0;
  trailer_bytes_ = 0;
  remaining_ = 0;
  switch (request.body) {
    case BodyKind::kNone:
      state_ = State::kDone;
      break;
    case BodyKind::kContentLength:
      remaining_ = request.content_length;
      state_ = remaining_ == 0 ? State::kDone : State::kLength;
      break;
    case BodyKind::kChunked:
      state_ = State::kChunkSize;
      break;
  }
}

bool BodyFramer::done() const noexcept { return state_ == State::kDone; }

BodyFramer::Result BodyFramer::Feed(std::string_view input) noexcept {
  const char* const begin = input.data();
  const char* const end = begin + input.size();
  const char* p = begin;
  const auto used = [&]() { return static_cast<std::size_t>(p - begin); };
  const auto fail = [&]() {
    state_ = State::kError;
    return Result{Status::kError, used()};
  };

  for (;;) {
    // Bulk states: skip data without looking at it.
    if (state_ == State::kLength || state_ == State::kChunkData) {
      const auto available = static_cast<std::uint64_t>(end - p);
      const std::uint64_t take = std::min(remaining_, available);
      p += take;
      remaining_ -= take;
      if (remaining_ != 0) return Result{Status::kNeedMore, used()};
      state_ = state_ == State::kLength ? State::kDone : State::kChunkDataCr;
      continue;
    }
    if (state_ == State::kDone) return Result{Status::kDone, used()};
    if (state_ == State::kError) return Result{Status::kError, used()};
    if (p == end) return Result{Status::kNeedMore, used()};

    const char c = *p;
    if (state_ >= State::kTrailerStart && ++trailer_bytes_ > kMaxTrailerBytes) return fail();
    switch (state_) {
      case State::kChunkSize: {
        const int digit = HexValue(c);
        if (digit >= 0) {
          if (size_digits_ == 16) return fail();  // 16 hex digits always fit in 64 bits
          ++size_digits_;
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
        } else if (size_digits_ == 0) {
          return fail();  // empty or non-hex size
        } else if (c == ';') {
          if (++ext_bytes_ > kMaxChunkExtBytes) return fail();
          state_ = State::kChunkExt;
        } else if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else {
          return fail();  // incl. whitespace after the size and a bare LF
        }
        break;
      }
      case State::kChunkExt:
        if (c == '\r') {
          state_ = State::kChunkSizeLf;
        } else if (!Is(c, kValue) || ++ext_bytes_ > kMaxChunkExtBytes) {
          return fail();
        }
        break;
      case State::kChunkSizeLf:
        if (c != '\n') return fail();
        size_digits_ = 0;
        state_ = remaining_ == 0 ? State::kTrailerStart : State::kChunkData;
        break;
      case State::kChunkDataCr:
        if (c != '\r') return fail();
        state_ = State::kChunkDataLf;
        break;
      case State::kChunkDataLf:
        if (c != '\n') return fail();
        state_ = State::kChunkSize;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
        } else if (Is(c, kToken)) {
          state_ = State::kTrailerName;
        } else {
          return fail();  // obs-fold, empty name, controls
        }
        break;
      case State::kTrailerName:
        if (c == ':') {
          state_ = State::kTrailerValue;
        } else if (!Is(c, kToken)) {
          return fail();
        }
        break;
      case State::kTrailerValue:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!Is(c, kValue)) {
          return fail();
        }
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail();
        state_ = State::kTrailerStart;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail();
        state_ = State::kDone;
        break;
      case State::kDone:
      case State::kError:
      case State::kLength:
      case State::kChunkData:
        break;  // handled above
    }
    ++p;
  }
}

}  // namespace sluice::net
