// The HTTP/1.1 request-head parser (see http_parser.h for the strictness rules; the body framer
// is body_framer.cc).
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

#include "sluice/net/http/http_target.h"

namespace sluice::net {
namespace {

// Byte classes. kToken: RFC 9110 tchar. kTarget: visible ASCII, the request target. kValue: a
// field-value byte (VCHAR, obs-text, SP, HTAB). kOws: SP or HTAB. kMethod: what a method may
// hold (IsValidMethod in http_target.h).
enum : std::uint8_t { kToken = 1, kTarget = 2, kValue = 4, kOws = 8, kMethod = 16 };

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
    if ((c >= 'A' && c <= 'Z') || c == '-' || c == '_') bits |= kMethod;
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
    p_ = SkipClass(p_, end_, kMethod);
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

  // The form of the target checked against the method, and its normalised path.
  ParseError SetPath(std::string_view method, std::string_view target) noexcept {
    if (target == "*") {  // asterisk-form
      if (method != "OPTIONS") return ParseError::kBadRequestLine;
      request_.path = target;
      return ParseError::kNone;
    }
    if (method == "CONNECT" && target.front() != '/') {  // authority-form
      if (!IsValidAuthority(target, true)) return ParseError::kBadRequestLine;
      request_.path = target;
      return ParseError::kNone;
    }
    std::string_view raw;  // origin-form or absolute-form
    if (!RawPathOfTarget(target, raw)) return ParseError::kBadRequestLine;
    const NormalisedPath normalised =
        NormalisePath(raw, request_.path_buffer.data(), request_.path_buffer.size());
    switch (normalised.status) {
      case NormalisedPath::Status::kOk:
        request_.path = normalised.path;
        return ParseError::kNone;
      case NormalisedPath::Status::kTooLong:
        return ParseError::kUriTooLong;  // only with a buffer smaller than the URI limit
      case NormalisedPath::Status::kBadPath:
        break;
    }
    return ParseError::kBadPath;
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
        if (EqualsIgnoreCase(name, "host")) return OnHost(value);
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
  // Another coding before it is remembered: Finish() answers 501 once the framing is known to
  // be sound (a framing conflict is the graver error, and a 400).
  ParseError OnTransferEncoding(std::string_view value) noexcept {
    transfer_encoding_seen_ = true;
    return ForEachListElement(value, [this](std::string_view coding) noexcept {
      if (coding.empty()) return ParseError::kNone;  // empty list elements are ignored
      if (chunked_last_) return ParseError::kBadTransferEncoding;  // something after chunked
      if (EqualsIgnoreCase(coding, "chunked")) {
        chunked_last_ = true;
      } else {
        other_coding_ = true;
      }
      return ParseError::kNone;
    });
  }

  // RFC 9112 section 3.2: a Host field with an invalid value is a 400, like two of them. Its
  // value is one authority (host and optional port, as net/http's target rules read it), or
  // empty for a target without one. "a, b", "a b" and "a/b" would otherwise reach an upstream
  // that might read another host out of them than our policies and routes did.
  ParseError OnHost(std::string_view value) noexcept {
    ++host_count_;
    if (!value.empty() && !IsValidAuthority(value, false)) return ParseError::kBadHost;
    return ParseError::kNone;
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
      if (other_coding_) return Fail(ParseError::kUnsupportedTransferCoding);
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
  bool other_coding_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
};

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
    case ParseError::kUnsupportedTransferCoding:
      return 501;
    case ParseError::kBadRequestLine:
    case ParseError::kBadHeader:
    case ParseError::kObsFold:
    case ParseError::kBadContentLength:
    case ParseError::kBadTransferEncoding:
    case ParseError::kLengthAndChunked:
    case ParseError::kBadHost:
    case ParseError::kBadPath:
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
    case ParseError::kBadPath:
      return "bad_path";
    case ParseError::kUnsupportedTransferCoding:
      return "unsupported_transfer_coding";
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

}  // namespace sluice::net
