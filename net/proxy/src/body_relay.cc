// The request body relay (body_relay.h).
#include "sluice/net/proxy/body_relay.h"

#include <algorithm>
#include <cstring>

#include "chunk_window.h"

namespace sluice::net {

void BodyRelay::Start(const HttpRequest& request, std::uint64_t max_body_bytes) noexcept {
  kind_ = request.body;
  discard_ = false;
  last_written_ = false;
  data_bytes_ = 0;
  max_body_bytes_ = max_body_bytes;
  remaining_ = kind_ == BodyKind::kContentLength ? request.content_length : 0;
  done_ = kind_ == BodyKind::kNone || (kind_ == BodyKind::kContentLength && remaining_ == 0);
  chunked_.Reset();
}

BodyRelay::Step BodyRelay::Feed(std::string_view in, char* out, std::size_t capacity) noexcept {
  Step step{Event::kNeedMore, 0, 0};
  if (done_) {
    step.event = Event::kDone;
    return step;
  }
  if (kind_ == BodyKind::kContentLength) {
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
    if (!discard_) take = std::min(take, capacity);
    if (!discard_ && take > 0) std::memcpy(out, in.data(), take);
    remaining_ -= take;
    step.consumed = take;
    step.written = discard_ ? 0 : take;
    if (remaining_ == 0) {
      done_ = true;
      step.event = Event::kDone;
    } else if (take < in.size()) {
      step.event = Event::kOutputFull;
    }
    return step;
  }
  // Chunked: decode, and write each piece of data as one canonical chunk.
  constexpr std::size_t kFrame = kMaxChunkSizeLine + kChunkDataEnd.size();
  constexpr std::size_t kEnd = kLastChunk.size() + kChunkedEnd.size();
  for (;;) {
    const std::string_view rest = in.substr(step.consumed);
    const std::size_t room = discard_ ? SIZE_MAX : capacity - step.written;
    std::string_view window = rest;
    if (!discard_) {
      if (chunked_.chunk_remaining() > 0 && room <= kFrame) {
        step.event = Event::kOutputFull;
        return step;
      }
      window = ChunkWindow(chunked_, rest, room > kFrame ? room - kFrame : 0);
    }
    const ChunkedDecoder::Step s = chunked_.Next(window);
    switch (s.event) {
      case ChunkedDecoder::Event::kData: {
        data_bytes_ += s.data.size();
        if (data_bytes_ > max_body_bytes_) {
          step.event = Event::kTooLarge;
          return step;
        }
        if (!discard_) {
          char* p = out + step.written;
          p += WriteChunkSize(s.data.size(), p);
          std::memcpy(p, s.data.data(), s.data.size());
          p += s.data.size();
          std::memcpy(p, kChunkDataEnd.data(), kChunkDataEnd.size());
          p += kChunkDataEnd.size();
          step.written = static_cast<std::size_t>(p - out);
        }
        step.consumed += s.consumed;
        continue;
      }
      case ChunkedDecoder::Event::kTrailer:
        step.consumed += s.consumed;  // dropped: never forward framing or auth from trailers
        continue;
      case ChunkedDecoder::Event::kDone:
        if (!discard_ && !last_written_) {
          if (room < kEnd) {
            // The decoder is done; only our last chunk waits for room.
            step.consumed += s.consumed;
            step.event = Event::kOutputFull;
            return step;
          }
          std::memcpy(out + step.written, kLastChunk.data(), kLastChunk.size());
          std::memcpy(out + step.written + kLastChunk.size(), kChunkedEnd.data(),
                      kChunkedEnd.size());
          step.written += kEnd;
        }
        last_written_ = true;
        step.consumed += s.consumed;
        done_ = true;
        step.event = Event::kDone;
        return step;
      case ChunkedDecoder::Event::kNeedMore:
        step.consumed += s.consumed;
        // One framing line was used up and more input follows: go on.
        if (s.consumed > 0 && window.size() < rest.size()) continue;
        return step;
      case ChunkedDecoder::Event::kError:
        step.event = Event::kError;
        return step;
    }
  }
}

}  // namespace sluice::net
