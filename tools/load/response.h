// sluice-load's response framing: just enough HTTP/1.1 to count responses on a keep-alive
// connection. It finds the status code, Content-Length and the end of the head, nothing else;
// the rest of the head is skipped unread.
#ifndef SLUICE_TOOLS_LOAD_RESPONSE_H_
#define SLUICE_TOOLS_LOAD_RESPONSE_H_

#include <cstddef>
#include <string_view>

namespace sluice::load {

struct ResponseHead {
  enum class Result { kComplete, kPartial, kError };
  Result result = Result::kPartial;
  int status = 0;
  std::size_t length = 0;  // kComplete: bytes of head + body, what to consume
  bool close = false;      // "Connection: close": the server ends the connection after it
};

// Frames the first response in `data`. kPartial until the head and the whole body are there;
// kError for anything that is not "HTTP/1.x NNN" or that is framed other than by
// Content-Length (chunked, or no length at all: sluice-load cannot tell where it ends).
// Responses to HEAD and 1xx/204/304 carry no body; sluice-load sends GET only.
ResponseHead ParseResponse(std::string_view data) noexcept;

}  // namespace sluice::load

#endif  // SLUICE_TOOLS_LOAD_RESPONSE_H_
