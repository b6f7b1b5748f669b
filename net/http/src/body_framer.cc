// The body framer: skips a request body by its Content-Length or chunked framing, across
// receives, without copying it (see http_parser.h for the rules it enforces).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "http_text.h"
#include "sluice/net/http/http_parser.h"

namespace sluice::net {

using http_text::HexValue;
using http_text::Is;
using http_text::kToken;
using http_text::kValue;

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
