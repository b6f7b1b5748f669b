// The upstream answer relay (answer_relay.h).
#include "sluice/net/proxy/answer_relay.h"

#include <algorithm>
#include <cstring>

#include "chunk_window.h"
#include "sluice/net/http/hop_by_hop.h"

namespace sluice::net {
namespace {

// Room a re-chunked piece of data needs beyond the data: its size line and CRLF.
constexpr std::size_t kFrame = kMaxChunkSizeLine + kChunkDataEnd.size();
constexpr std::size_t kEnd = kLastChunk.size() + kChunkedEnd.size();

void Put(char* out, std::size_t& written, std::string_view s) noexcept {
  std::memcpy(out + written, s.data(), s.size());
  written += s.size();
}

}  // namespace

void AnswerRelay::Start(const Setup& setup) noexcept {
  setup_ = setup;
  state_ = State::kHead;
  framing_ = ClientFraming::kNone;
  remaining_ = 0;
  chunked_.Reset();
  last_chunk_written_ = started_ = sent_any_ = reusable_ = close_client_ = bad_body_ = false;
  status_ = 0;
  error_ = ResponseError::kNone;
}

AnswerRelay::Step AnswerRelay::Fail(Step step, ResponseError error, bool body) noexcept {
  state_ = State::kError;
  error_ = error;
  bad_body_ = body;
  reusable_ = false;
  step.event = Event::kError;
  return step;
}

AnswerRelay::Step AnswerRelay::Head(std::string_view in, char* out, std::size_t capacity,
                                    bool can_wait, HttpResponse& scratch) noexcept {
  Step step{Event::kNeedMore, 0, 0};
  for (;;) {
    const std::string_view rest = in.substr(step.consumed);
    const ResponseParseResult r =
        ParseResponseHead(rest, setup_.limits, setup_.head_request, scratch);
    if (r.status == ResponseParseResult::Status::kPartial) return step;
    if (r.status == ResponseParseResult::Status::kError) return Fail(step, r.error, false);
    // 101 would turn the connection into a tunnel: only websocket routes may (not built yet),
    // so an upstream switching protocols unasked is an unusable answer.
    if (scratch.status == 101) return Fail(step, ResponseError::kBadStatusLine, false);
    const bool interim = scratch.interim();
    const AnswerHeadResult h =
        WriteAnswerHead(scratch, setup_.client, interim ? std::string_view() : setup_.extra,
                        setup_.force_close, out + step.written, capacity - step.written);
    if (h.refused) {
      // Too big for the room left: wait for the output to drain, unless it is empty already.
      if (can_wait || step.written > 0) {
        step.event = Event::kOutputFull;
        return step;
      }
      return Fail(step, ResponseError::kHeaderTooLarge, false);
    }
    step.written += h.size;
    sent_any_ = sent_any_ || h.size > 0;
    step.consumed += r.consumed;
    if (interim) continue;
    status_ = scratch.status;
    close_client_ = h.close_client;
    framing_ = h.framing;
    reusable_ = scratch.keep_alive;
    switch (scratch.body) {
      case ResponseBody::kNone:
        state_ = State::kDone;
        step.event = Event::kDone;
        return step;
      case ResponseBody::kContentLength:
        remaining_ = scratch.content_length;
        state_ = remaining_ == 0 ? State::kDone : State::kLength;
        if (remaining_ == 0) step.event = Event::kDone;
        return step;
      case ResponseBody::kChunked:
        chunked_.Reset();
        state_ = State::kChunked;
        return step;
      case ResponseBody::kUntilClose:
        reusable_ = false;
        state_ = State::kUntilClose;
        return step;
    }
    return step;
  }
}

AnswerRelay::Step AnswerRelay::Chunked(std::string_view in, char* out,
                                       std::size_t capacity) noexcept {
  Step step{Event::kNeedMore, 0, 0};
  const bool rechunk = framing_ == ClientFraming::kChunked;
  for (;;) {
    const std::string_view rest = in.substr(step.consumed);
    const std::size_t room = capacity - step.written;
    if (chunked_.chunk_remaining() > 0 && room <= kFrame) {
      step.event = Event::kOutputFull;
      return step;
    }
    const std::string_view window = ChunkWindow(chunked_, rest, room > kFrame ? room - kFrame : 0);
    const ChunkedDecoder::Step s = chunked_.Next(window);
    switch (s.event) {
      case ChunkedDecoder::Event::kData:
        if (rechunk) {
          step.written += WriteChunkSize(s.data.size(), out + step.written);
          Put(out, step.written, s.data);
          Put(out, step.written, kChunkDataEnd);
        } else {
          Put(out, step.written, s.data);
        }
        step.consumed += s.consumed;
        continue;
      case ChunkedDecoder::Event::kTrailer: {
        step.consumed += s.consumed;
        if (!rechunk || !setup_.trailers || !ForwardableTrailer(s.trailer.name)) continue;
        const std::size_t need = (last_chunk_written_ ? 0 : kLastChunk.size()) +
                                 s.trailer.name.size() + s.trailer.value.size() + 4 + kEnd;
        if (need > room) continue;  // no room: trailers are droppable (RFC 9112 section 7.1.2)
        if (!last_chunk_written_) Put(out, step.written, kLastChunk);
        last_chunk_written_ = true;
        Put(out, step.written, s.trailer.name);
        Put(out, step.written, ": ");
        Put(out, step.written, s.trailer.value);
        Put(out, step.written, "\r\n");
        continue;
      }
      case ChunkedDecoder::Event::kDone:
        step.consumed += s.consumed;
        if (rechunk) {
          if (room < kEnd) {
            step.event = Event::kOutputFull;  // the decoder stays done: the end is written next
            return step;
          }
          if (!last_chunk_written_) Put(out, step.written, kLastChunk);
          last_chunk_written_ = true;
          Put(out, step.written, kChunkedEnd);
        }
        state_ = State::kDone;
        step.event = Event::kDone;
        return step;
      case ChunkedDecoder::Event::kNeedMore:
        step.consumed += s.consumed;
        if (s.consumed > 0 && window.size() < rest.size()) continue;  // a line used: go on
        return step;
      case ChunkedDecoder::Event::kError:
        return Fail(step, ResponseError::kNone, true);
    }
  }
}

AnswerRelay::Step AnswerRelay::Feed(std::string_view in, char* out, std::size_t capacity,
                                    bool can_wait, HttpResponse& scratch) noexcept {
  if (!in.empty()) started_ = true;
  Step step{Event::kNeedMore, 0, 0};
  if (state_ == State::kHead) {
    step = Head(in, out, capacity, can_wait, scratch);
    if (state_ == State::kHead || step.event != Event::kNeedMore) return step;
  }
  const std::string_view rest = in.substr(step.consumed);
  char* const o = out + step.written;
  const std::size_t room = capacity - step.written;
  switch (state_) {
    case State::kHead:
    case State::kDone:
      step.event = Event::kDone;
      return step;
    case State::kError:
      step.event = Event::kError;
      return step;
    case State::kLength: {
      const std::size_t take = static_cast<std::size_t>(
          std::min<std::uint64_t>(remaining_, std::min(rest.size(), room)));
      if (take > 0) std::memcpy(o, rest.data(), take);
      remaining_ -= take;
      step.consumed += take;
      step.written += take;
      if (remaining_ == 0) {
        state_ = State::kDone;
        step.event = Event::kDone;
      } else if (take < rest.size()) {
        step.event = Event::kOutputFull;
      }
      return step;
    }
    case State::kUntilClose: {
      const bool rechunk = framing_ == ClientFraming::kChunked;
      const std::size_t limit = rechunk ? (room > kFrame ? room - kFrame : 0) : room;
      const std::size_t take = std::min(rest.size(), limit);
      if (take > 0) {
        std::size_t w = 0;
        if (rechunk) w += WriteChunkSize(take, o);
        std::memcpy(o + w, rest.data(), take);
        w += take;
        if (rechunk) Put(o, w, kChunkDataEnd);
        step.written += w;
        step.consumed += take;
      }
      if (take < rest.size()) step.event = Event::kOutputFull;
      return step;
    }
    case State::kChunked: {
      const Step s = Chunked(rest, o, room);
      step.consumed += s.consumed;
      step.written += s.written;
      step.event = s.event;
      return step;
    }
  }
  return step;
}

AnswerRelay::Step AnswerRelay::End(char* out, std::size_t capacity) noexcept {
  Step step{Event::kDone, 0, 0};
  if (state_ == State::kDone) return step;
  if (state_ != State::kUntilClose) {
    // Closed before the answer was complete: a truncated answer is never completed for the
    // client (no last chunk), so the client can tell.
    return Fail(step, ResponseError::kNone, state_ != State::kHead);
  }
  if (framing_ == ClientFraming::kChunked) {
    if (capacity < kEnd) {
      step.event = Event::kOutputFull;
      return step;
    }
    Put(out, step.written, kLastChunk);
    Put(out, step.written, kChunkedEnd);
  }
  state_ = State::kDone;
  reusable_ = false;
  return step;
}

}  // namespace sluice::net
