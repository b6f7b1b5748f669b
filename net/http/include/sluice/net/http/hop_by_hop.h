// Which fields of a message may cross a hop (RFC 9110 section 7.6.1): the classifier the
// request re-serialiser and the response forwarder share, one O(1) decision per field name.
//
// A field does not cross when its name is one of the hop-by-hop fields (Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Upgrade), when the framing is rebuilt by us (Content-Length,
// Transfer-Encoding), or when a Connection field of the same message lists its name. The
// exceptions: "TE: trailers" is re-sent by the request writer, "Upgrade: websocket" crosses on
// websocket routes, Host is never removable by a Connection option, and the forwarded-for
// fields are the proxy's own to write (forward_request.h).
#ifndef SLUICE_NET_HTTP_HOP_BY_HOP_H_
#define SLUICE_NET_HTTP_HOP_BY_HOP_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {

// What a field name means to a proxy, by name alone (ASCII case-insensitive).
enum class FieldRole : std::uint8_t {
  kEndToEnd,        // forwarded as it came
  kHopByHop,        // Connection, Keep-Alive, Proxy-Connection, Trailer: never forwarded
  kTe,              // TE: only its "trailers" member crosses (requests)
  kUpgrade,         // Upgrade: crosses on websocket routes only
  kFraming,         // Content-Length, Transfer-Encoding: rebuilt from the parsed framing
  kHost,            // Host: kept, or replaced by an absolute-form target's authority
  kForwardedFor,    // X-Forwarded-For: the proxy appends or replaces (or leaves it, "off")
  kRealIp,          // X-Real-IP: the proxy's own
  kForwardedProto,  // X-Forwarded-Proto: the proxy's own
  kExpect,          // Expect: the forwarder's business (100-continue)
};

FieldRole RoleOf(std::string_view name) noexcept;

// The options of all Connection fields of a message, case-insensitive, empty members skipped.
// Not thread-safe; views into the message (valid while it is).
class ConnectionOptions {
 public:
  // More distinct options than this in one message is refused (400): a list a proxy would have
  // to hold and compare every field against, and no client needs.
  static constexpr std::size_t kMaxOptions = 16;

  // Collects the options of every field named Connection in headers[0, count). False when there
  // are more than kMaxOptions distinct ones (what was collected is then unusable).
  [[nodiscard]] bool Collect(const HttpHeader* headers, std::size_t count) noexcept;
  // Whether `name` is one of the options (a field a Connection field nominated).
  [[nodiscard]] bool Lists(std::string_view name) const noexcept;
  [[nodiscard]] bool close() const noexcept { return close_; }
  [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
  [[nodiscard]] bool upgrade() const noexcept { return upgrade_; }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  std::string_view options_[kMaxOptions];
  std::size_t count_ = 0;
  std::uint64_t lengths_ = 0;  // bit (n % 64) set when an option of length n is held
  bool close_ = false;
  bool keep_alive_ = false;
  bool upgrade_ = false;
};

// Whether a field of `role` named by `name` is removed at the hop, given the message's
// Connection options: hop-by-hop and framing fields always, any other field the options
// list, except Host. (kTe, kUpgrade and the forwarded-for fields count as removed here: the
// writers add back what crosses.)
[[nodiscard]] bool RemovedAtHop(FieldRole role, std::string_view name,
                                const ConnectionOptions& options) noexcept;

// Whether a trailer field may be forwarded: never one that frames, routes, authenticates or
// controls the message (RFC 9110 section 6.5.1), nor a hop-by-hop one.
[[nodiscard]] bool ForwardableTrailer(std::string_view name) noexcept;

// Whether a TE field value (a list of codings with parameters) names "trailers".
[[nodiscard]] bool TeListsTrailers(std::string_view value) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_HOP_BY_HOP_H_
