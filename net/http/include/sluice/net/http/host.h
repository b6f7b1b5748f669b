// The host a request is for, as routes and policies match it (DESIGN.md: `match.host`, exact,
// case-insensitive, port ignored): an absolute-form target's authority wins over Host (RFC 9112
// section 3.2.2), and the port is cut off ("Example.com:8080" is "Example.com", "[::1]:80" is
// "[::1]"). Allocation-free.
#ifndef SLUICE_NET_HTTP_HOST_H_
#define SLUICE_NET_HTTP_HOST_H_

#include <string_view>

#include "sluice/net/http/http_parser.h"

namespace sluice::net {

// The host of `request` without its port, as sent (not lower-cased); empty when there is none
// (HTTP/1.0 without Host, "*", CONNECT).
[[nodiscard]] std::string_view RequestHost(const HttpRequest& request) noexcept;

// `host` (from RequestHost) equals `lower` (a lower-case host), ASCII case-insensitively.
[[nodiscard]] bool HostIs(std::string_view host, std::string_view lower) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_HOST_H_
