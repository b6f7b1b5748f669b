// The hop-by-hop classifier (see hop_by_hop.h). Field names are told apart by length first,
// then by one case-insensitive compare: a header section costs one pass of O(1) lookups.
#include "sluice/net/http/hop_by_hop.h"

#include <cstddef>
#include <string_view>

#include "http_text.h"

namespace sluice::net {

using http_text::EqualsIgnoreCase;
using http_text::EqualsLower;

FieldRole RoleOf(std::string_view name) noexcept {
  switch (name.size()) {
    case 2:
      if (EqualsLower(name, "te")) return FieldRole::kTe;
      break;
    case 4:
      if (EqualsLower(name, "host")) return FieldRole::kHost;
      break;
    case 6:
      if (EqualsLower(name, "expect")) return FieldRole::kExpect;
      break;
    case 7:
      if (EqualsLower(name, "trailer")) return FieldRole::kHopByHop;
      if (EqualsLower(name, "upgrade")) return FieldRole::kUpgrade;
      break;
    case 9:
      if (EqualsLower(name, "x-real-ip")) return FieldRole::kRealIp;
      break;
    case 10:
      if (EqualsLower(name, "connection")) return FieldRole::kHopByHop;
      if (EqualsLower(name, "keep-alive")) return FieldRole::kHopByHop;
      break;
    case 14:
      if (EqualsLower(name, "content-length")) return FieldRole::kFraming;
      break;
    case 15:
      if (EqualsLower(name, "x-forwarded-for")) return FieldRole::kForwardedFor;
      break;
    case 16:
      if (EqualsLower(name, "proxy-connection")) return FieldRole::kHopByHop;
      break;
    case 17:
      if (EqualsLower(name, "transfer-encoding")) return FieldRole::kFraming;
      if (EqualsLower(name, "x-forwarded-proto")) return FieldRole::kForwardedProto;
      break;
    default:
      break;
  }
  return FieldRole::kEndToEnd;
}

bool ConnectionOptions::Collect(const HttpHeader* headers, std::size_t count) noexcept {
  count_ = 0;
  lengths_ = 0;
  close_ = keep_alive_ = upgrade_ = false;
  for (std::size_t i = 0; i < count; ++i) {
    if (headers[i].name.size() != 10 || !EqualsLower(headers[i].name, "connection")) continue;
    const bool ok = http_text::ForEachListElement(
        headers[i].value, true, [this](std::string_view option) noexcept {
          if (option.empty()) return true;
          if (EqualsLower(option, "close")) close_ = true;
          if (EqualsLower(option, "keep-alive")) keep_alive_ = true;
          if (EqualsLower(option, "upgrade")) upgrade_ = true;
          if (Lists(option)) return true;
          if (count_ == kMaxOptions) return false;
          options_[count_++] = option;
          lengths_ |= std::uint64_t{1} << (option.size() % 64);
          return true;
        });
    if (!ok) return false;
  }
  return true;
}

bool ConnectionOptions::Lists(std::string_view name) const noexcept {
  if ((lengths_ & (std::uint64_t{1} << (name.size() % 64))) == 0) return false;
  for (std::size_t i = 0; i < count_; ++i) {
    if (EqualsIgnoreCase(options_[i], name)) return true;
  }
  return false;
}

bool RemovedAtHop(FieldRole role, std::string_view name,
                  const ConnectionOptions& options) noexcept {
  switch (role) {
    case FieldRole::kHopByHop:
    case FieldRole::kTe:
    case FieldRole::kUpgrade:
    case FieldRole::kFraming:
    case FieldRole::kForwardedFor:
    case FieldRole::kRealIp:
    case FieldRole::kForwardedProto:
      return true;
    case FieldRole::kHost:
      return false;
    case FieldRole::kEndToEnd:
    case FieldRole::kExpect:
      return options.Lists(name);
  }
  return true;
}

bool ForwardableTrailer(std::string_view name) noexcept {
  if (RoleOf(name) != FieldRole::kEndToEnd) return false;
  switch (name.size()) {
    case 3:
      return !EqualsLower(name, "age");
    case 5:
      return !EqualsLower(name, "range");
    case 6:
      return !EqualsLower(name, "cookie") && !EqualsLower(name, "pragma");
    case 7:
      return !EqualsLower(name, "expires");
    case 8:
      return !EqualsLower(name, "location") && !EqualsLower(name, "if-match") &&
             !EqualsLower(name, "if-range");
    case 10:
      return !EqualsLower(name, "set-cookie");
    case 12:
      return !EqualsLower(name, "content-type") && !EqualsLower(name, "max-forwards");
    case 13:
      return !EqualsLower(name, "authorization") && !EqualsLower(name, "cache-control") &&
             !EqualsLower(name, "content-range") && !EqualsLower(name, "if-none-match");
    case 16:
      return !EqualsLower(name, "content-encoding") && !EqualsLower(name, "www-authenticate");
    case 17:
      return !EqualsLower(name, "if-modified-since");
    case 18:
      return !EqualsLower(name, "proxy-authenticate");
    case 19:
      return !EqualsLower(name, "proxy-authorization") && !EqualsLower(name, "if-unmodified-since");
    default:
      return true;
  }
}

bool TeListsTrailers(std::string_view value) noexcept {
  return !http_text::ForEachListElement(value, true, [](std::string_view member) noexcept {
    const std::size_t semicolon = member.find(';');
    return !EqualsLower(http_text::TrimOws(member.substr(0, semicolon)), "trailers");
  });
}

}  // namespace sluice::net
