// The canonical answer head sluiced sends its client for an upstream's answer, rebuilt from
// the parsed answer (response_parser.h), never its bytes:
//   HTTP/1.1 SP status SP reason CRLF      (the reason as the upstream sent it, validated)
//   every field as parsed, minus those removed at the hop (hop_by_hop.h: Connection and each
//         name it lists, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Content-Length,
//         Transfer-Encoding)
//   `extra` verbatim                         (sluiced's own fields, e.g. RateLimit, each CRLF)
//   the framing for this client:
//     Content-Length: N       a Content-Length body, or a HEAD/304 answer that declared one
//     Transfer-Encoding: chunked   a chunked or close-delimited body to an HTTP/1.1 client
//                             (the forwarder re-chunks it canonically)
//     nothing                 no body; or an HTTP/1.0 client and a chunked or close-delimited
//                             body, which is then delimited by closing the client connection
//   Connection: close         when the client connection ends after this answer;
//   Connection: keep-alive    to an HTTP/1.0 client whose connection stays open
//   CRLF
// Interim answers (1xx except 101) go to HTTP/1.1 clients only, with no framing fields; 101 is
// a tunnel, which this writer does not build (the route's forwarder decides).
// Allocation-free; writes into a caller buffer and never past its end.
#ifndef SLUICE_NET_HTTP_FORWARD_RESPONSE_H_
#define SLUICE_NET_HTTP_FORWARD_RESPONSE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/response_parser.h"

namespace sluice::net {

// What the client asked for, from its parsed request.
struct ClientRequestFacts {
  int minor_version = 1;   // the client's HTTP/1.<minor>
  bool keep_alive = true;  // the client's connection may stay open (HttpRequest::keep_alive)
};

// How the body goes to the client after the head.
enum class ClientFraming : std::uint8_t {
  kNone,           // no body
  kContentLength,  // the upstream's body bytes as they are (Content-Length of them)
  kChunked,        // the upstream's body data re-chunked canonically
  kUntilClose,     // the upstream's body data, then the client connection is closed
};

struct AnswerHeadResult {
  // Not forwardable (502): the head did not fit, or the answer's Connection fields name more
  // than ConnectionOptions::kMaxOptions fields. Nothing usable was written.
  bool refused = false;
  bool skip = false;     // an interim answer an HTTP/1.0 client must not get: send nothing
  std::size_t size = 0;  // bytes written
  ClientFraming framing = ClientFraming::kNone;
  bool close_client = false;  // close the client connection once this answer is sent
};

// Writes the head of `response` (ParseResponseHead completed it) for a client that sent
// `client`. `force_close`: the client connection ends after this answer anyway (shutdown, a
// request body we will not read).
AnswerHeadResult WriteAnswerHead(const HttpResponse& response, const ClientRequestFacts& client,
                                 std::string_view extra, bool force_close, char* out,
                                 std::size_t capacity) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_FORWARD_RESPONSE_H_
