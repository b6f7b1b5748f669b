// IpPrefix (config.h): the addresses and CIDR prefixes of `forwarded: trusted`, parsed and
// written back here, where the config is; matching a peer against them is in policy/.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "sluice/net/config/config.h"

namespace sluice::net {

absl::StatusOr<IpPrefix> IpPrefix::Parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::string_view(text.data(), text.size()),
                     "': ", absl::string_view(why.data(), why.size()),
                     " (expected an IP address or CIDR prefix, e.g. 10.0.0.0/8 or ::1)"));
  };
  const std::size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  IpPrefix p;
  if (address.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, address.c_str(), p.bytes) != 1) return bad("not an IPv6 address");
    p.size = 16;
  } else {
    if (inet_pton(AF_INET, address.c_str(), p.bytes) != 1) return bad("not an IPv4 address");
    p.size = 4;
  }
  const unsigned max_bits = 8u * p.size;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const char* end = digits.data() + digits.size();
    unsigned length = 0;
    const auto r = std::from_chars(digits.data(), end, length);
    if (digits.empty() || digits.front() < '0' || digits.front() > '9' || r.ec != std::errc() ||
        r.ptr != end || length > max_bits) {
      return bad(absl::StrCat("the prefix length must be a number in 0..", max_bits));
    }
    bits = length;
  }
  // Host bits must be zero: "10.0.0.1/8" may mean 10.0.0.0/8 or a typo for 10.0.0.1/32.
  for (unsigned i = bits; i < max_bits; ++i) {
    if ((p.bytes[i / 8] >> (7 - i % 8)) & 1u) {
      IpPrefix network = p;
      for (unsigned k = bits; k < max_bits; ++k) {
        network.bytes[k / 8] =
            static_cast<unsigned char>(network.bytes[k / 8] & ~(1u << (7 - k % 8)));
      }
      network.length = static_cast<std::uint8_t>(bits);
      return bad(absl::StrCat("bits are set after the /", bits, " prefix (did you mean ",
                              network.ToString(), "?)"));
    }
  }
  p.length = static_cast<std::uint8_t>(bits);
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4: peers are compared that way.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (p.size == 16 && p.length >= 96 && std::memcmp(p.bytes, kMapped, 12) == 0) {
    std::memmove(p.bytes, p.bytes + 12, 4);
    std::memset(p.bytes + 4, 0, 12);
    p.size = 4;
    p.length = static_cast<std::uint8_t>(p.length - 96);
  }
  return p;
}

std::string IpPrefix::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(size == 4 ? AF_INET : AF_INET6, bytes, text, sizeof(text));
  if (length == 8u * size) return text;
  return absl::StrCat(text, "/", length);
}

bool IpPrefix::Contains(const unsigned char* ip, std::size_t ip_size) const noexcept {
  if (ip_size != size) return false;
  const std::size_t whole = length / 8u;
  if (std::memcmp(ip, bytes, whole) != 0) return false;
  const unsigned rest = length % 8u;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xffu << (8 - rest));
  return (ip[whole] & mask) == (bytes[whole] & mask);
}

}  // namespace sluice::net
