// The canonical request head sluiced sends upstream in proxy mode, rebuilt from the parsed
// request (never the client's bytes passed through):
//   METHOD SP origin-form-target SP HTTP/1.1 CRLF
//   Host: the client's Host, or an absolute-form target's authority (its scheme and authority
//         removed from the target), or `default_host` when an HTTP/1.0 client sent none
//   every other field as parsed ("Name: value" CRLF, in order), minus those removed at the hop
//         (hop_by_hop.h: Connection and each name it lists, Keep-Alive, Proxy-Connection, TE,
//         Trailer, Upgrade, Content-Length, Transfer-Encoding)
//   TE: trailers            when the client's TE listed trailers
//   Connection: upgrade + Upgrade: websocket   on websocket routes, for a GET that asked for it
//   X-Forwarded-For         the client's values (those not removed) then the peer (append), or
//                           the peer alone (replace); with "off" the client's lines go as sent
//   X-Real-IP               the client address the policies saw, when enabled
//   X-Forwarded-Proto       the scheme the client spoke to us
//   Content-Length: N       for a Content-Length body (also N = 0 when the client sent it)
//   Transfer-Encoding: [codings, ]chunked   for a chunked body, which the forwarder re-chunks
//   CRLF
// The proxy's own fields come after the client's own were removed, so `Connection:
// X-Forwarded-For` cannot remove them. Upstream requests are always HTTP/1.1 keep-alive: a
// client's "Connection: close" ends the client's connection, not the pooled one. Expect is
// forwarded from HTTP/1.1 clients only (RFC 9110 section 10.1.1).
// Allocation-free; writes into a caller buffer and never past its end.
#ifndef SLUICE_NET_HTTP_FORWARD_REQUEST_H_
#define SLUICE_NET_HTTP_FORWARD_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {

enum class XForwardedFor : std::uint8_t { kAppend, kReplace, kOff };

// From the config (`proxy:` and the route).
struct ForwardOptions {
  XForwardedFor x_forwarded_for = XForwardedFor::kAppend;
  bool x_real_ip = true;
  bool x_forwarded_proto = true;
  bool websocket = false;  // the route tunnels Upgrade: websocket
};

// About this request's connection.
struct ForwardContext {
  std::string_view peer_ip;    // the TCP peer, as text (appended to X-Forwarded-For)
  std::string_view client_ip;  // the client the policies saw (X-Real-IP)
  std::string_view proto = "http";
  std::string_view default_host;  // Host when the client sent none (HTTP/1.0)
};

enum class ForwardError : std::uint8_t {
  kNone,
  kBadTarget,                 // absolute-form with userinfo, an empty or bad authority, a
                              // scheme other than http/https
  kMethodNotAllowed,          // CONNECT: no tunnels without a route that says so
  kTooManyConnectionOptions,  // more than ConnectionOptions::kMaxOptions
  kTooLarge,                  // the head does not fit the caller's buffer
};

// The status a client gets for `error` (400, 405 or 431; 0 for kNone).
int StatusFor(ForwardError error) noexcept;
std::string_view LabelFor(ForwardError error) noexcept;

struct ForwardResult {
  ForwardError error = ForwardError::kNone;
  std::size_t size = 0;  // bytes written into out (kNone only)
};

// Writes the head for `request` (which ParseRequestHead completed) into out[0, capacity).
ForwardResult WriteForwardedHead(const HttpRequest& request, const ForwardOptions& options,
                                 const ForwardContext& context, char* out,
                                 std::size_t capacity) noexcept;

// Splits a request target for the origin-form line: `path_and_query` is the target itself when
// it starts with '/' (or is "*"); for absolute-form it is what follows the authority, which is
// empty or starts with '?' when the target has no path (the writer then puts "/" before it).
// `authority` receives the absolute-form authority (empty for the other forms). False on a
// target WriteForwardedHead refuses with kBadTarget.
bool SplitTarget(std::string_view target, std::string_view& path_and_query,
                 std::string_view& authority) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_FORWARD_REQUEST_H_
