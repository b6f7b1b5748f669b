// The host of a request (see host.h).
#include "sluice/net/http/host.h"

#include <string_view>

#include "http_text.h"

namespace sluice::net {
namespace {

// "host[:port]" without the port; "[v6]:port" keeps its brackets.
std::string_view WithoutPort(std::string_view authority) noexcept {
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  return authority.substr(0, authority.find(':'));
}

}  // namespace

std::string_view RequestHost(const HttpRequest& request) noexcept {
  const std::string_view target = request.target;
  if (!target.empty() && target.front() != '/' && target != "*" && request.method != "CONNECT") {
    const std::size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      const std::string_view rest = target.substr(scheme_end + 3);
      std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
      authority = authority.substr(authority.rfind('@') + 1);  // npos + 1 == 0
      return WithoutPort(authority);
    }
  }
  const HttpHeader* host = request.Find("host");
  return host == nullptr ? std::string_view() : WithoutPort(host->value);
}

bool HostIs(std::string_view host, std::string_view lower) noexcept {
  return http_text::EqualsLower(host, lower);
}

}  // namespace sluice::net
