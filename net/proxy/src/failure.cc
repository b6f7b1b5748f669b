// Upstream failure labels (failure.h).
#include "sluice/net/proxy/failure.h"

namespace sluice::net {

std::string_view LabelFor(UpstreamCause cause) noexcept {
  switch (cause) {
    case UpstreamCause::kRefused:
      return "refused";
    case UpstreamCause::kConnectTimeout:
      return "connect_timeout";
    case UpstreamCause::kReset:
      return "reset";
    case UpstreamCause::kMalformed:
      return "malformed";
    case UpstreamCause::kTimeout:
      return "timeout";
    case UpstreamCause::kNoServer:
      return "no_server";
  }
  return "unknown";
}

}  // namespace sluice::net
