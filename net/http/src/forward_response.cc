// The canonical answer head for the client (see forward_response.h).
#include "sluice/net/http/forward_response.h"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "head_writer.h"
#include "sluice/net/http/hop_by_hop.h"

namespace sluice::net {
using http_text::Writer;

AnswerHeadResult WriteAnswerHead(const HttpResponse& response, const ClientRequestFacts& client,
                                 std::string_view extra, bool force_close, char* out,
                                 std::size_t capacity) noexcept {
  AnswerHeadResult result;
  const bool interim = response.interim();
  if (interim && client.minor_version == 0) {
    result.skip = true;
    return result;
  }
  ConnectionOptions connection;
  const std::size_t count =
      response.header_count < kMaxHeaders ? response.header_count : kMaxHeaders;
  // Past kMaxOptions the list is partial: refuse rather than forward a field it named.
  if (!connection.Collect(response.headers, count)) {
    result.refused = true;
    return result;
  }

  Writer w(out, capacity);
  w.Put("HTTP/1.1 ");
  w.PutDecimal(static_cast<std::uint64_t>(response.status));
  w.Put(" ");
  w.Put(response.reason);
  w.Put("\r\n");
  for (std::size_t i = 0; i < count; ++i) {
    const HttpHeader& h = response.headers[i];
    const FieldRole role = RoleOf(h.name);
    // The forwarded-for fields are request fields: an answer's copies are end-to-end.
    const bool ours = role == FieldRole::kForwardedFor || role == FieldRole::kRealIp ||
                      role == FieldRole::kForwardedProto;
    if (ours ? connection.Lists(h.name) : RemovedAtHop(role, h.name, connection)) continue;
    w.Put(h.name);
    w.Put(": ");
    w.Put(h.value);
    w.Put("\r\n");
  }
  if (interim) {
    w.Put("\r\n");
    result.refused = w.overflow();
    result.size = w.overflow() ? 0 : w.size();
    return result;
  }
  w.Put(extra);

  bool close = force_close || !client.keep_alive;
  switch (response.body) {
    case ResponseBody::kNone:
      result.framing = ClientFraming::kNone;
      if (response.length_declared && response.status != 204) {
        w.Put("Content-Length: ");
        w.PutDecimal(response.content_length);
        w.Put("\r\n");
      }
      break;
    case ResponseBody::kContentLength:
      result.framing = ClientFraming::kContentLength;
      w.Put("Content-Length: ");
      w.PutDecimal(response.content_length);
      w.Put("\r\n");
      break;
    case ResponseBody::kChunked:
    case ResponseBody::kUntilClose:
      if (client.minor_version == 1) {
        result.framing = ClientFraming::kChunked;
        w.Put("Transfer-Encoding: chunked\r\n");
      } else {
        result.framing = ClientFraming::kUntilClose;
        close = true;
      }
      break;
  }
  if (close) {
    w.Put("Connection: close\r\n");
  } else if (client.minor_version == 0) {
    w.Put("Connection: keep-alive\r\n");
  }
  w.Put("\r\n");
  result.close_client = close;
  result.refused = w.overflow();
  result.size = w.overflow() ? 0 : w.size();
  return result;
}

}  // namespace sluice::net
