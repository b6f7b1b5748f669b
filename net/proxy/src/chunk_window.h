// How much of the input a relay lets the chunked decoder see, so that the data it hands out
// always fits the output: inside a chunk's data, at most `data_room` bytes; between chunks,
// exactly the next line (up to and including its LF), so the decoder consumes one framing
// element and stops before any data. A line not complete yet is the whole rest (the decoder
// then says kNeedMore and is asked again with more).
#ifndef SLUICE_NET_PROXY_SRC_CHUNK_WINDOW_H_
#define SLUICE_NET_PROXY_SRC_CHUNK_WINDOW_H_

#include <cstddef>
#include <string_view>

#include "sluice/net/http/chunked.h"

namespace sluice::net {

inline std::string_view ChunkWindow(const ChunkedDecoder& decoder, std::string_view rest,
                                    std::size_t data_room) noexcept {
  if (decoder.chunk_remaining() > 0) return rest.substr(0, data_room);
  const std::size_t lf = rest.find('\n');
  return lf == std::string_view::npos ? rest : rest.substr(0, lf + 1);
}

}  // namespace sluice::net

#endif  // SLUICE_NET_PROXY_SRC_CHUNK_WINDOW_H_
