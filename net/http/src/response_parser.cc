// The upstream answer parser (see response_parser.h for the framing and strictness rules).
//
// One forward pass, like the request parser: every read is preceded by a bounds check against
// `end_`, the input end or the max_header_bytes limit (running into it means kHeaderTooLarge).
// Framing fields are interpreted as each line completes, their conflicts at the empty line.
#include "sluice/net/http/response_parser.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http_text.h"

namespace sluice::net {
namespace {

using http_text::EqualsLower;
using http_text::ForEachListElement;
using http_text::Is;
using http_text::IsDigit;
using http_text::kOws;
using http_text::kToken;
using http_text::kValue;
using http_text::SkipClass;

class ResponseHeadParser {
 public:
  ResponseHeadParser(std::string_view input, const ResponseLimits& limits, bool head_request,
                     HttpResponse& response) noexcept
      : begin_(input.data()),
        p_(input.data()),
        end_(input.data() + std::min(input.size(), limits.max_header_bytes)),
        truncated_(input.size() > limits.max_header_bytes),
        max_headers_(std::min(limits.max_headers, kMaxHeaders)),
        head_request_(head_request),
        response_(response) {}

  ResponseParseResult Parse() noexcept {
    response_.status = 0;
    response_.minor_version = 1;
    response_.reason = {};
    response_.body = ResponseBody::kNone;
    response_.content_length = 0;
    response_.length_declared = false;
    response_.keep_alive = true;
    response_.header_count = 0;

    if (const ResponseError error = ParseStatusLine(); error != ResponseError::kNone) {
      return error == kStarved ? Starve() : Fail(error);
    }
    for (;;) {
      if (p_ == end_) return Starve();
      if (*p_ == '\r') {
        if (end_ - p_ < 2) return Starve();
        if (p_[1] != '\n') return Fail(ResponseError::kBadHeader);
        p_ += 2;
        return Finish();
      }
      if (const ResponseError error = ParseHeaderLine(); error != ResponseError::kNone) {
        return error == kStarved ? Starve() : Fail(error);
      }
    }
  }

 private:
  static constexpr ResponseError kStarved = static_cast<ResponseError>(0xFF);

  // HTTP/D.D SP DDD [SP reason] CRLF. No empty lines before it: an upstream that sends them
  // is answering something we did not ask.
  ResponseError ParseStatusLine() noexcept {
    constexpr std::string_view kShape = "HTTP/#.# ###";  // '#' stands for a digit
    for (const char want : kShape) {
      if (p_ == end_) return kStarved;
      if (want == '#' ? !IsDigit(*p_) : *p_ != want) return ResponseError::kBadStatusLine;
      ++p_;
    }
    const int major = p_[-7] - '0';
    const int minor = p_[-5] - '0';
    const int status = (p_[-3] - '0') * 100 + (p_[-2] - '0') * 10 + (p_[-1] - '0');
    if (p_ == end_) return kStarved;
    const char* reason_begin = p_;
    if (*p_ == ' ') {
      reason_begin = ++p_;
      p_ = SkipClass(p_, end_, kValue);
      if (p_ == end_) return kStarved;
    }
    if (*p_ != '\r') return ResponseError::kBadStatusLine;  // a digit more, controls, bare LF
    if (end_ - p_ < 2) return kStarved;
    if (p_[1] != '\n') return ResponseError::kBadStatusLine;
    const std::string_view reason(reason_begin, static_cast<std::size_t>(p_ - reason_begin));
    p_ += 2;
    if (major != 1 || minor > 1) return ResponseError::kBadVersion;
    if (status < 100 || status > 599) return ResponseError::kBadStatusLine;
    response_.status = status;
    response_.minor_version = minor;
    response_.reason = reason;
    return ResponseError::kNone;
  }

  // field-name ":" OWS field-value OWS CRLF.
  ResponseError ParseHeaderLine() noexcept {
    if (Is(*p_, kOws)) return ResponseError::kObsFold;
    if (response_.header_count == max_headers_) return ResponseError::kHeaderTooLarge;
    const char* const name_begin = p_;
    p_ = SkipClass(p_, end_, kToken);
    if (p_ == end_) return kStarved;
    if (*p_ != ':' || p_ == name_begin) return ResponseError::kBadHeader;
    const std::string_view name(name_begin, static_cast<std::size_t>(p_ - name_begin));
    ++p_;
    p_ = SkipClass(p_, end_, kOws);
    const char* const value_begin = p_;
    p_ = SkipClass(p_, end_, kValue);
    if (p_ == end_) return kStarved;
    if (*p_ != '\r') return ResponseError::kBadHeader;
    if (end_ - p_ < 2) return kStarved;
    if (p_[1] != '\n') return ResponseError::kBadHeader;
    const char* value_end = p_;
    while (value_end > value_begin && Is(value_end[-1], kOws)) --value_end;
    p_ += 2;
    const std::string_view value(value_begin, static_cast<std::size_t>(value_end - value_begin));
    response_.headers[response_.header_count++] = HttpHeader{name, value};
    return OnHeader(name, value);
  }

  ResponseError OnHeader(std::string_view name, std::string_view value) noexcept {
    switch (name.size()) {
      case 10:
        if (EqualsLower(name, "connection")) OnConnection(value);
        return ResponseError::kNone;
      case 14:
        if (EqualsLower(name, "content-length")) return OnContentLength(value);
        return ResponseError::kNone;
      case 17:
        if (EqualsLower(name, "transfer-encoding")) return OnTransferEncoding(value);
        return ResponseError::kNone;
      default:
        return ResponseError::kNone;
    }
  }

  ResponseError OnContentLength(std::string_view value) noexcept {
    return ForEachListElement(value, ResponseError::kNone,
                              [this](std::string_view element) noexcept {
                                std::uint64_t length = 0;
                                if (!http_text::ParseDecimal(element, length))
                                  return ResponseError::kBadContentLength;
                                if (content_length_seen_ && length != content_length_) {
                                  return ResponseError::kBadContentLength;
                                }
                                content_length_seen_ = true;
                                content_length_ = length;
                                return ResponseError::kNone;
                              });
  }

  // Exactly one "chunked" over all Transfer-Encoding lines; empty list elements are ignored.
  ResponseError OnTransferEncoding(std::string_view value) noexcept {
    transfer_encoding_seen_ = true;
    return ForEachListElement(value, ResponseError::kNone,
                              [this](std::string_view coding) noexcept {
                                if (coding.empty()) return ResponseError::kNone;
                                if (chunked_ || !EqualsLower(coding, "chunked")) {
                                  return ResponseError::kBadTransferEncoding;
                                }
                                chunked_ = true;
                                return ResponseError::kNone;
                              });
  }

  void OnConnection(std::string_view value) noexcept {
    ForEachListElement(value, true, [this](std::string_view option) noexcept {
      if (EqualsLower(option, "close")) close_ = true;
      if (EqualsLower(option, "keep-alive")) keep_alive_ = true;
      return true;
    });
  }

  ResponseParseResult Finish() noexcept {
    if (transfer_encoding_seen_) {
      if (response_.minor_version == 0 || !chunked_) {
        return Fail(ResponseError::kBadTransferEncoding);  // also "Transfer-Encoding:" empty
      }
      if (content_length_seen_) return Fail(ResponseError::kLengthAndChunked);
    }
    const int status = response_.status;
    const bool no_body_allowed = status < 200 || status == 204;
    if (no_body_allowed &&
        (transfer_encoding_seen_ || (content_length_seen_ && content_length_ != 0))) {
      return Fail(ResponseError::kBodyNotAllowed);
    }
    response_.length_declared = content_length_seen_;
    response_.content_length = content_length_;
    if (no_body_allowed || status == 304 || head_request_) {
      response_.body = ResponseBody::kNone;
    } else if (transfer_encoding_seen_) {
      response_.body = ResponseBody::kChunked;
    } else if (content_length_seen_) {
      response_.body = ResponseBody::kContentLength;
    } else {
      response_.body = ResponseBody::kUntilClose;
    }
    response_.keep_alive = !close_ && (response_.minor_version == 1 || keep_alive_) &&
                           response_.body != ResponseBody::kUntilClose && status != 101;
    return ResponseParseResult{ResponseParseResult::Status::kComplete,
                               static_cast<std::size_t>(p_ - begin_), ResponseError::kNone};
  }

  ResponseParseResult Starve() const noexcept {
    if (truncated_) return Fail(ResponseError::kHeaderTooLarge);
    return ResponseParseResult{ResponseParseResult::Status::kPartial, 0, ResponseError::kNone};
  }

  static ResponseParseResult Fail(ResponseError error) noexcept {
    return ResponseParseResult{ResponseParseResult::Status::kError, 0, error};
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const bool truncated_;
  const std::size_t max_headers_;
  const bool head_request_;
  HttpResponse& response_;

  std::uint64_t content_length_ = 0;
  bool content_length_seen_ = false;
  bool transfer_encoding_seen_ = false;
  bool chunked_ = false;
  bool close_ = false;
  bool keep_alive_ = false;
};

}  // namespace

std::string_view LabelFor(ResponseError error) noexcept {
  switch (error) {
    case ResponseError::kNone:
      return "none";
    case ResponseError::kBadStatusLine:
      return "bad_status_line";
    case ResponseError::kBadVersion:
      return "bad_version";
    case ResponseError::kBadHeader:
      return "bad_header";
    case ResponseError::kObsFold:
      return "obs_fold";
    case ResponseError::kBadContentLength:
      return "bad_content_length";
    case ResponseError::kBadTransferEncoding:
      return "bad_transfer_encoding";
    case ResponseError::kLengthAndChunked:
      return "length_and_chunked";
    case ResponseError::kBodyNotAllowed:
      return "body_not_allowed";
    case ResponseError::kHeaderTooLarge:
      return "header_too_large";
  }
  return "unknown";
}

const HttpHeader* HttpResponse::Find(std::string_view name) const noexcept {
  const std::size_t count = std::min(header_count, kMaxHeaders);
  for (std::size_t i = 0; i < count; ++i) {
    if (http_text::EqualsIgnoreCase(headers[i].name, name)) return &headers[i];
  }
  return nullptr;
}

ResponseParseResult ParseResponseHead(std::string_view input, const ResponseLimits& limits,
                                      bool head_request, HttpResponse& response) noexcept {
  return ResponseHeadParser(input, limits, head_request, response).Parse();
}

}  // namespace sluice::net
