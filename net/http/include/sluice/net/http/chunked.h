// The chunked transfer coding (RFC 9112 section 7.1) for proxy mode: a strict decoder that
// hands out the data of a chunked body, and the canonical encoder that writes it again.
//
// A proxy never forwards chunk framing byte for byte: it decodes what it received and writes
// canonical framing ("<lower-case hex size> CRLF data CRLF", "0 CRLF", the trailer fields it
// keeps, CRLF), so whatever a sender's framing tolerated never reaches the other side.
//
// ChunkedDecoder works on the bytes received so far, like the head parsers (picohttpparser's
// consumed/partial/error): Next() consumes whole framing elements and returns one event. An
// element split across receives is not consumed: the caller presents those bytes again with
// more appended. Chunk data is handed out as soon as any of it is there. Strictness:
//   - chunk-size is 1*HEXDIG with at most 16 digits (no sign, "0x", space, underscore);
//   - chunk-ext follows the grammar (";" BWS token [BWS "=" BWS token / quoted-string]), but
//     with no whitespace before a ';' or at the end of the line; extensions are ignored
//     (dropped on re-encoding), their bytes are capped by kMaxChunkExtBytes per body;
//   - every line ends in CRLF: bare LF, bare CR, anything but CRLF after the data is an error;
//   - trailer fields are field lines as in a head (no obs-fold, no space before the colon), the
//     trailer section is capped by kMaxTrailerBytes (http_parser.h).
// Not thread-safe: one per body being decoded.
#ifndef SLUICE_NET_HTTP_CHUNKED_H_
#define SLUICE_NET_HTTP_CHUNKED_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {

class ChunkedDecoder {
 public:
  enum class Event : std::uint8_t {
    kData,      // `data` holds body bytes (a view into the input)
    kTrailer,   // `trailer` is one trailer field (views into the input)
    kDone,      // the final CRLF: the body is complete, the rest of the input is not ours
    kNeedMore,  // the rest of the input is an incomplete element: present it again with more
    kError,     // bad framing: the message is unusable and the connection must be closed
  };
  struct Step {
    Event event;
    std::size_t consumed;  // input bytes used by this step (kError: 0)
    std::string_view data;
    HttpHeader trailer;
  };

  // Ready for a new body.
  void Reset() noexcept;
  // Consumes the framing at the start of `input` and returns the first event. After kDone or
  // kError every call answers the same with nothing consumed.
  Step Next(std::string_view input) noexcept;
  [[nodiscard]] bool done() const noexcept { return state_ == State::kDone; }
  // Data bytes of the current chunk not yet handed out.
  [[nodiscard]] std::uint64_t chunk_remaining() const noexcept { return remaining_; }

 private:
  enum class State : std::uint8_t { kSizeLine, kData, kDataCrlf, kTrailers, kDone, kError };
  Step Fail() noexcept;
  State state_ = State::kSizeLine;
  std::uint64_t remaining_ = 0;
  std::uint32_t ext_bytes_ = 0;
  std::uint32_t trailer_bytes_ = 0;
};

// The longest chunk-size line WriteChunkSize writes: 16 hex digits and CRLF.
inline constexpr std::size_t kMaxChunkSizeLine = 18;
// Writes "<size in lower-case hex, no leading zeros> CRLF" for a chunk of `size` > 0 bytes
// into `out` (room for kMaxChunkSizeLine bytes); returns the bytes written.
std::size_t WriteChunkSize(std::uint64_t size, char* out) noexcept;
// What follows a chunk's data, and the last chunk (which trailer fields, if any, then follow;
// the body ends with kChunkedEnd).
inline constexpr std::string_view kChunkDataEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n";
inline constexpr std::string_view kChunkedEnd = "\r\n";

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_CHUNKED_H_
