// A forwarded request's body on its way from the client to the upstream: a Content-Length
// body is passed on byte for byte (its length was in the forwarded head), a chunked one is
// decoded strictly (ChunkedDecoder) and written again with canonical framing; extensions and
// trailer fields are dropped. Bounded both ways: Feed() writes only what fits the caller's
// output, and consumes only what it wrote, so a slow upstream stops the client's bytes here.
// `max_body_bytes` (limits.body_bytes) caps the body's data: past it, kTooLarge.
//
// After Discard() the relay consumes the rest of the body and writes nothing: the upstream
// answered early (or the exchange failed) and the client's bytes must still be read past,
// never parsed as a request.
// Allocation-free; not thread-safe (one per client connection).
#ifndef SLUICE_NET_PROXY_BODY_RELAY_H_
#define SLUICE_NET_PROXY_BODY_RELAY_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/chunked.h"
#include "sluice/net/http/http_parser.h"

namespace sluice::net {

class BodyRelay {
 public:
  enum class Event : std::uint8_t {
    kNeedMore,    // all of the input was used (some may be kept by the decoder's contract:
                  // `consumed` < input size, present the rest again with more)
    kOutputFull,  // stopped for room: call again when the output has drained
    kDone,        // the body is complete; the rest of the input is the next request
    kError,       // bad chunked framing: 400 and close
    kTooLarge,    // more data than max_body_bytes: 413 and close
  };
  struct Step {
    Event event;
    std::size_t consumed;  // input bytes used
    std::size_t written;   // output bytes written
  };

  // The body of `request` (kNone: done at once).
  void Start(const HttpRequest& request, std::uint64_t max_body_bytes) noexcept;
  void Discard() noexcept { discard_ = true; }
  // Relays from `in` to out[0, capacity).
  Step Feed(std::string_view in, char* out, std::size_t capacity) noexcept;

  [[nodiscard]] bool done() const noexcept { return done_; }
  [[nodiscard]] bool discarding() const noexcept { return discard_; }
  [[nodiscard]] BodyKind kind() const noexcept { return kind_; }

 private:
  BodyKind kind_ = BodyKind::kNone;
  bool done_ = true;
  bool discard_ = false;
  bool last_written_ = false;    // chunked: "0\r\n\r\n" is out
  std::uint64_t remaining_ = 0;  // Content-Length bytes still to come
  std::uint64_t data_bytes_ = 0;
  std::uint64_t max_body_bytes_ = 0;
  ChunkedDecoder chunked_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_BODY_RELAY_H_
