// The chunked decoder and encoder (see chunked.h).
#include "sluice/net/http/chunked.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http_text.h"

namespace sluice::net {
namespace {

using http_text::HexValue;
using http_text::Is;
using http_text::kOws;
using http_text::kQdText;
using http_text::kToken;
using http_text::kValue;

// The line at the start of `input` without its CRLF, with `line_end` set past the CRLF.
// kNeedMore when no LF is within `max_bytes` (or the input) and the input is shorter than that;
// kError on a bare LF, a CR not followed by LF, or no line end within max_bytes.
enum class LineStatus : std::uint8_t { kLine, kNeedMore, kError };
LineStatus FindLine(std::string_view input, std::size_t max_bytes, std::string_view& line,
                    std::size_t& line_end) noexcept {
  const std::size_t window = input.size() < max_bytes ? input.size() : max_bytes;
  const std::size_t lf = input.substr(0, window).find('\n');
  if (lf == std::string_view::npos) {
    // A CR anywhere but at the end of what we have is bare (it is no line end).
    const std::size_t cr = input.substr(0, window).find('\r');
    if (cr != std::string_view::npos && cr + 1 < window) return LineStatus::kError;
    return window < max_bytes ? LineStatus::kNeedMore : LineStatus::kError;
  }
  if (lf == 0 || input[lf - 1] != '\r') return LineStatus::kError;  // bare LF
  line = input.substr(0, lf - 1);
  if (line.find('\r') != std::string_view::npos) return LineStatus::kError;  // bare CR
  line_end = lf + 1;
  return LineStatus::kLine;
}

// chunk-ext = *( ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string:
// RFC 9112's grammar, except that no whitespace may come before a ';' or end the line (the
// request-side BodyFramer refuses whitespace after a size too; whitespace around sizes is a
// classic way for two parsers to disagree). True when `ext` is exactly that.
bool ValidExtensions(std::string_view ext) noexcept {
  std::size_t i = 0;
  const auto skip_ows = [&]() {
    while (i < ext.size() && Is(ext[i], kOws)) ++i;
  };
  const auto token = [&]() {
    const std::size_t start = i;
    while (i < ext.size() && Is(ext[i], kToken)) ++i;
    return i > start;
  };
  for (;;) {
    // The size or the previous extension ends here: no whitespace before ';' (as BodyFramer
    // on the request side) and none at the end of the line.
    if (i == ext.size()) return true;
    if (ext[i] != ';') return false;
    ++i;
    skip_ows();
    if (!token()) return false;  // a bare ';'
    const std::size_t name_end = i;
    skip_ows();
    if (i == ext.size() || ext[i] != '=') {
      i = name_end;  // whitespace not followed by '=' is refused by the next round
      continue;
    }
    ++i;
    skip_ows();
    if (i < ext.size() && ext[i] == '"') {
      ++i;
      for (;;) {
        if (i == ext.size()) return false;  // unbalanced quote
        const char c = ext[i];
        if (c == '"') {
          ++i;
          break;
        }
        if (c == '\\') {
          if (i + 1 == ext.size() || !Is(ext[i + 1], kValue)) return false;
          i += 2;
        } else if (Is(c, kQdText)) {
          ++i;
        } else {
          return false;
        }
      }
    } else if (!token()) {
      return false;
    }
  }
}

}  // namespace

void ChunkedDecoder::Reset() noexcept {
  state_ = State::kSizeLine;
  remaining_ = 0;
  ext_bytes_ = 0;
  trailer_bytes_ = 0;
}

ChunkedDecoder::Step ChunkedDecoder::Fail() noexcept {
  state_ = State::kError;
  return Step{Event::kError, 0, {}, {}};
}

ChunkedDecoder::Step ChunkedDecoder::Next(std::string_view input) noexcept {
  std::size_t used = 0;
  for (;;) {
    const std::string_view rest = input.substr(used);
    switch (state_) {
      case State::kDone:
        return Step{Event::kDone, used, {}, {}};
      case State::kError:
        return Step{Event::kError, 0, {}, {}};
      case State::kData: {
        if (rest.empty()) return Step{Event::kNeedMore, used, {}, {}};
        const std::size_t take =
            rest.size() < remaining_ ? rest.size() : static_cast<std::size_t>(remaining_);
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataCrlf;
        return Step{Event::kData, used + take, rest.substr(0, take), {}};
      }
      case State::kDataCrlf:
        if (rest.empty()) return Step{Event::kNeedMore, used, {}, {}};
        if (rest[0] != '\r') return Fail();
        if (rest.size() < 2) return Step{Event::kNeedMore, used, {}, {}};
        if (rest[1] != '\n') return Fail();
        used += 2;
        state_ = State::kSizeLine;
        continue;
      case State::kSizeLine: {
        // 16 digits, the extensions this body may still have, CRLF.
        const std::size_t max_line = 16 + (kMaxChunkExtBytes - ext_bytes_) + 2;
        std::string_view line;
        std::size_t line_end = 0;
        switch (FindLine(rest, max_line, line, line_end)) {
          case LineStatus::kNeedMore: {
            // Refuse at once what can never become a size line: no digit, or 17 of them.
            std::size_t digits = 0;
            while (digits < rest.size() && HexValue(rest[digits]) >= 0) ++digits;
            if (digits > 16 || (digits == 0 && !rest.empty())) return Fail();
            return Step{Event::kNeedMore, used, {}, {}};
          }
          case LineStatus::kError:
            return Fail();
          case LineStatus::kLine:
            break;
        }
        std::size_t digits = 0;
        std::uint64_t size = 0;
        while (digits < line.size() && HexValue(line[digits]) >= 0) {
          if (digits == 16) return Fail();
          size = size * 16 + static_cast<std::uint64_t>(HexValue(line[digits]));
          ++digits;
        }
        if (digits == 0) return Fail();
        const std::string_view ext = line.substr(digits);
        ext_bytes_ += static_cast<std::uint32_t>(ext.size());
        if (ext_bytes_ > kMaxChunkExtBytes || !ValidExtensions(ext)) return Fail();
        used += line_end;
        remaining_ = size;
        state_ = size == 0 ? State::kTrailers : State::kData;
        continue;
      }
      case State::kTrailers: {
        std::string_view line;
        std::size_t line_end = 0;
        switch (FindLine(rest, kMaxTrailerBytes - trailer_bytes_, line, line_end)) {
          case LineStatus::kNeedMore:
            return Step{Event::kNeedMore, used, {}, {}};
          case LineStatus::kError:
            return Fail();
          case LineStatus::kLine:
            break;
        }
        trailer_bytes_ += static_cast<std::uint32_t>(line_end);
        if (line.empty()) {
          state_ = State::kDone;
          return Step{Event::kDone, used + line_end, {}, {}};
        }
        // field-name ":" OWS field-value OWS
        std::size_t colon = 0;
        while (colon < line.size() && Is(line[colon], kToken)) ++colon;
        if (colon == 0 || colon == line.size() || line[colon] != ':') return Fail();
        const std::string_view value = http_text::TrimOws(line.substr(colon + 1));
        for (const char c : value) {
          if (!Is(c, kValue)) return Fail();
        }
        return Step{Event::kTrailer, used + line_end, {}, HttpHeader{line.substr(0, colon), value}};
      }
    }
  }
}

std::size_t WriteChunkSize(std::uint64_t size, char* out) noexcept {
  constexpr char kDigits[] = "0123456789abcdef";
  char reversed[16];
  std::size_t n = 0;
  do {
    reversed[n++] = kDigits[size & 0xF];
    size >>= 4;
  } while (size != 0);
  for (std::size_t i = 0; i < n; ++i) out[i] = reversed[n - 1 - i];
  out[n] = '\r';
  out[n + 1] = '\n';
  return n + 2;
}

}  // namespace sluice::net
