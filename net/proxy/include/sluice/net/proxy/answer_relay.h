// An upstream's answer on its way back to the client (DESIGN.md "Proxy mode"; RFC 9112 section
// 6.3): the head parsed strictly (ParseResponseHead) and rewritten canonically for this client
// (WriteAnswerHead: hop-by-hop fields removed, sluiced's RateLimit fields added, framing for
// the client's version), then the body relayed by its framing:
//   - no body (HEAD, 1xx, 204, 304): the answer ends with its head;
//   - Content-Length: that many bytes, as they are;
//   - chunked: decoded strictly and written again canonically (to an HTTP/1.1 client), or as
//     plain data to an HTTP/1.0 one (whose connection then ends the body); trailer fields are
//     passed on to a chunked client that sent "TE: trailers", when ForwardableTrailer allows;
//   - until close: the data, re-chunked for an HTTP/1.1 client or plain for HTTP/1.0; the
//     answer ends when the upstream closes (End()).
// Interim answers (100, 103...) go to HTTP/1.1 clients, then the final answer's head is parsed.
// A malformed or ambiguous answer is kError: the caller answers 502 when sent_any() is false,
// else aborts the client connection; either way that upstream connection is closed.
//
// Feed() works on the bytes received so far, like the head parsers: whatever it did not
// consume (an unfinished head, chunk-size line or trailer) is presented again with more
// appended. It writes only what fits the caller's output, consuming only what it wrote, so a
// slow client stops the upstream's bytes here (the caller stops reading the upstream).
// Allocation-free; the parsed head lives in a caller's HttpResponse only during Feed() (one
// per shard). Not thread-safe: one per exchange.
#ifndef SLUICE_NET_PROXY_ANSWER_RELAY_H_
#define SLUICE_NET_PROXY_ANSWER_RELAY_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/chunked.h"
#include "sluice/net/http/forward_response.h"
#include "sluice/net/http/response_parser.h"

namespace sluice::net {

class AnswerRelay {
 public:
  struct Setup {
    bool head_request = false;
    ClientRequestFacts client;
    bool force_close = false;  // the client connection ends after this answer anyway
    bool trailers = false;     // the client's TE listed "trailers"
    std::string_view extra;    // sluiced's own fields (each line CRLF-terminated); must stay
                               // valid until the head is written
    ResponseLimits limits;
  };
  enum class Event : std::uint8_t {
    kNeedMore,    // everything usable was used: read more from the upstream
    kOutputFull,  // stopped for room in the client's output: call again once it drained
    kDone,        // the answer is complete; bytes after it (if any) are not this answer's
    kError,       // unusable answer (error() says why)
  };
  struct Step {
    Event event;
    std::size_t consumed;
    std::size_t written;
  };

  void Start(const Setup& setup) noexcept;
  // Relays from `in` into out[0, capacity). `can_wait`: the output holds bytes that will
  // drain (a head that does not fit then waits for room instead of failing).
  Step Feed(std::string_view in, char* out, std::size_t capacity, bool can_wait,
            HttpResponse& scratch) noexcept;
  // The upstream closed its side after Feed() consumed everything it was given: the end of a
  // close-delimited body (kDone, writing the last chunk when re-chunking), else kError.
  Step End(char* out, std::size_t capacity) noexcept;

  [[nodiscard]] const Setup& setup() const noexcept { return setup_; }
  [[nodiscard]] bool started() const noexcept { return started_; }    // any answer byte came
  [[nodiscard]] bool sent_any() const noexcept { return sent_any_; }  // any byte written out
  [[nodiscard]] bool done() const noexcept { return state_ == State::kDone; }
  // After kDone: the upstream connection may carry another request (keep-alive answer, not
  // close-delimited).
  [[nodiscard]] bool reusable() const noexcept { return reusable_; }
  // After the head: the client connection ends after this answer.
  [[nodiscard]] bool close_client() const noexcept { return close_client_; }
  [[nodiscard]] int status() const noexcept { return status_; }
  [[nodiscard]] ResponseError error() const noexcept { return error_; }
  // Failures found by the relay itself rather than the head parser.
  [[nodiscard]] bool bad_body() const noexcept { return bad_body_; }

 private:
  enum class State : std::uint8_t { kHead, kLength, kChunked, kUntilClose, kDone, kError };
  Step Fail(Step step, ResponseError error, bool body) noexcept;
  Step Head(std::string_view in, char* out, std::size_t capacity, bool can_wait,
            HttpResponse& scratch) noexcept;
  Step Chunked(std::string_view in, char* out, std::size_t capacity) noexcept;

  Setup setup_;
  State state_ = State::kHead;
  ClientFraming framing_ = ClientFraming::kNone;
  std::uint64_t remaining_ = 0;
  ChunkedDecoder chunked_;
  bool last_chunk_written_ = false;
  bool started_ = false;
  bool sent_any_ = false;
  bool reusable_ = false;
  bool close_client_ = false;
  bool bad_body_ = false;
  int status_ = 0;
  ResponseError error_ = ResponseError::kNone;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_ANSWER_RELAY_H_
