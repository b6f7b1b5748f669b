// The canonical upstream request head (see forward_request.h).
#include "sluice/net/http/forward_request.h"

#include <cstddef>
#include <cstring>
#include <string_view>

#include "head_writer.h"
#include "http_text.h"
#include "sluice/net/http/hop_by_hop.h"

namespace sluice::net {
namespace {

using http_text::EqualsLower;
using http_text::IsDigit;

using http_text::Writer;

// host [ ":" port ], host = reg-name / IPv4address / "[" IPv6 or IPvFuture "]" (RFC 3986).
// No userinfo (RFC 9110 section 4.2.4: a recipient treats it as an error).
bool ValidAuthority(std::string_view authority) noexcept {
  if (authority.empty()) return false;
  std::size_t i = 0;
  if (authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (std::size_t j = 1; j < close; ++j) {
      const char c = authority[j];
      if (!http_text::Is(c, http_text::kHex) && c != ':' && c != '.') return false;
    }
    i = close + 1;
  } else {
    constexpr std::string_view kRegName = "-._~!$&'()*+,;=%";
    while (i < authority.size() && authority[i] != ':') {
      const char c = authority[i];
      const bool alnum = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!alnum && kRegName.find(c) == std::string_view::npos) return false;
      ++i;
    }
    if (i == 0) return false;  // an empty host
  }
  if (i == authority.size()) return true;
  if (authority[i] != ':') return false;
  for (++i; i < authority.size(); ++i) {
    if (!IsDigit(authority[i])) return false;
  }
  return true;
}

// Whether an Upgrade value offers websocket (a protocol name, optionally "/version").
bool ListsWebSocket(std::string_view value) noexcept {
  return !http_text::ForEachListElement(value, true, [](std::string_view protocol) noexcept {
    return !EqualsLower(protocol.substr(0, protocol.find('/')), "websocket");
  });
}

// The codings a chunked request applied before chunked ("gzip, "), lower-cased, in order. The
// request parser let through only known codings with chunked last, so this is all but that.
void WriteCodingsBeforeChunked(const HttpRequest& request, std::size_t count, Writer& w) noexcept {
  for (std::size_t i = 0; i < count; ++i) {
    const HttpHeader& h = request.headers[i];
    if (h.name.size() != 17 || !EqualsLower(h.name, "transfer-encoding")) continue;
    http_text::ForEachListElement(h.value, true, [&w](std::string_view coding) noexcept {
      if (coding.empty() || EqualsLower(coding, "chunked")) return true;
      for (const char c : coding) {
        const char lower = http_text::AsciiLower(c);
        w.Put(std::string_view(&lower, 1));
      }
      w.Put(", ");
      return true;
    });
  }
}

}  // namespace

int StatusFor(ForwardError error) noexcept {
  switch (error) {
    case ForwardError::kNone:
      return 0;
    case ForwardError::kBadTarget:
    case ForwardError::kTooManyConnectionOptions:
      return 400;
    case ForwardError::kMethodNotAllowed:
      return 405;
    case ForwardError::kTooLarge:
      return 431;
  }
  return 400;
}

std::string_view LabelFor(ForwardError error) noexcept {
  switch (error) {
    case ForwardError::kNone:
      return "none";
    case ForwardError::kBadTarget:
      return "bad_target";
    case ForwardError::kMethodNotAllowed:
      return "method_not_allowed";
    case ForwardError::kTooManyConnectionOptions:
      return "too_many_connection_options";
    case ForwardError::kTooLarge:
      return "forwarded_head_too_large";
  }
  return "unknown";
}

bool SplitTarget(std::string_view target, std::string_view& path_and_query,
                 std::string_view& authority) noexcept {
  authority = {};
  if (target.empty()) return false;
  if (target[0] == '/' || target == "*") {
    path_and_query = target;
    return true;
  }
  const std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view scheme = target.substr(0, scheme_end);
  if (!EqualsLower(scheme, "http") && !EqualsLower(scheme, "https")) return false;
  const std::string_view rest = target.substr(scheme_end + 3);
  const std::size_t path = rest.find_first_of("/?");
  authority = rest.substr(0, path);
  path_and_query = path == std::string_view::npos ? std::string_view() : rest.substr(path);
  return ValidAuthority(authority);
}

ForwardResult WriteForwardedHead(const HttpRequest& request, const ForwardOptions& options,
                                 const ForwardContext& context, char* out,
                                 std::size_t capacity) noexcept {
  if (request.method == "CONNECT") return ForwardResult{ForwardError::kMethodNotAllowed, 0};
  std::string_view path_and_query;
  std::string_view authority;
  if (!SplitTarget(request.target, path_and_query, authority)) {
    return ForwardResult{ForwardError::kBadTarget, 0};
  }
  ConnectionOptions connection;
  const std::size_t count = request.header_count < kMaxHeaders ? request.header_count : kMaxHeaders;
  if (!connection.Collect(request.headers, count)) {
    return ForwardResult{ForwardError::kTooManyConnectionOptions, 0};
  }

  Writer w(out, capacity);
  w.Put(request.method);
  w.Put(" ");
  if (path_and_query.empty() || path_and_query[0] == '?') w.Put("/");
  w.Put(path_and_query);
  w.Put(" HTTP/1.1\r\n");

  bool host_written = false;
  if (!authority.empty()) {
    w.Field("Host", authority);
    host_written = true;
  }
  bool te_trailers = false;
  bool wants_websocket = false;
  bool client_xff = false;  // a client X-Forwarded-For line survives (append mode)
  for (std::size_t i = 0; i < count; ++i) {
    const HttpHeader& h = request.headers[i];
    const FieldRole role = RoleOf(h.name);
    switch (role) {
      case FieldRole::kHost:
        if (host_written) continue;  // an absolute-form authority wins (RFC 9112 3.2.2)
        w.Field(h.name, h.value);
        host_written = true;
        continue;
      case FieldRole::kTe:
        te_trailers = te_trailers || TeListsTrailers(h.value);
        continue;
      case FieldRole::kUpgrade:
        wants_websocket = wants_websocket || ListsWebSocket(h.value);
        continue;
      case FieldRole::kExpect:
        if (request.minor_version == 0 || connection.Lists(h.name)) continue;
        w.Field(h.name, h.value);
        continue;
      case FieldRole::kForwardedFor:
        if (connection.Lists(h.name)) continue;
        if (options.x_forwarded_for == XForwardedFor::kOff) w.Field(h.name, h.value);
        if (options.x_forwarded_for == XForwardedFor::kAppend && !h.value.empty()) {
          client_xff = true;
        }
        continue;
      default:
        if (RemovedAtHop(role, h.name, connection)) continue;
        w.Field(h.name, h.value);
        continue;
    }
  }
  if (!host_written && !context.default_host.empty()) w.Field("Host", context.default_host);
  if (te_trailers) w.Put("TE: trailers\r\n");
  if (options.websocket && wants_websocket && connection.upgrade() && request.method == "GET" &&
      request.minor_version == 1) {
    w.Put("Connection: upgrade\r\nUpgrade: websocket\r\n");
  }
  if (options.x_forwarded_for != XForwardedFor::kOff) {
    // One combined line (RFC 9110 section 5.3): the client's surviving values, then the peer.
    w.Put("X-Forwarded-For: ");
    if (client_xff) {
      for (std::size_t i = 0; i < count; ++i) {
        const HttpHeader& h = request.headers[i];
        if (h.value.empty() || RoleOf(h.name) != FieldRole::kForwardedFor ||
            connection.Lists(h.name)) {
          continue;
        }
        w.Put(h.value);
        w.Put(", ");
      }
    }
    w.Put(context.peer_ip);
    w.Put("\r\n");
  }
  if (options.x_real_ip) w.Field("X-Real-IP", context.client_ip);
  if (options.x_forwarded_proto) w.Field("X-Forwarded-Proto", context.proto);
  switch (request.body) {
    case BodyKind::kNone:
      break;
    case BodyKind::kContentLength:
      w.Put("Content-Length: ");
      w.PutDecimal(request.content_length);
      w.Put("\r\n");
      break;
    case BodyKind::kChunked:
      w.Put("Transfer-Encoding: ");
      WriteCodingsBeforeChunked(request, count, w);
      w.Put("chunked\r\n");
      break;
  }
  w.Put("\r\n");
  if (w.overflow()) return ForwardResult{ForwardError::kTooLarge, 0};
  return ForwardResult{ForwardError::kNone, w.size()};
}

}  // namespace sluice::net
