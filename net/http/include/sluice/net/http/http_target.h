// What a request target means to a policy: its form checked, its path cut out and normalised, so
// that a limit cannot be walked around by spelling the same path differently.
//
// Normalisation (as nginx matches locations; RFC 3986 section 5.2.4 for the dot segments):
//   1. Percent-encoded octets are decoded: "%61" is 'a', "%2F" is '/', "%25" is '%'. A '%' not
//      followed by two hex digits, or an octet that decodes to a control byte (0x00-0x1F, 0x7F),
//      is refused. Raw bytes must be visible ASCII (a request target is).
//   2. Repeated slashes are merged: "//a///b" is "/a/b".
//   3. Dot segments are removed: "/./a" is "/a", "/x/../a" is "/a", "/a/." and "/a/b/.." are
//      "/a/" and "/a/"; a ".." that would climb above the root ("/..", "/a/../..") is refused.
//   Decoding comes first, so "%2E%2E" and "%2F" take part in steps 2 and 3 ("/a%2F..%2Fb" is
//   "/b"). The result always starts with '/' and is never longer than the input.
// Allocation-free and noexcept: the server calls these per request, into per-shard scratch.
#ifndef SLUICE_NET_HTTP_TARGET_H_
#define SLUICE_NET_HTTP_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::net {

// A method as sluiced accepts it: one or more of 'A'-'Z', '-' and '_' (nginx's rule). Methods
// are case-sensitive (RFC 9110 section 9.1): "post" is not POST, and is refused.
[[nodiscard]] bool IsValidMethod(std::string_view method) noexcept;

// An authority of an http(s) URI (RFC 3986 section 3.2 as RFC 9110 section 4.2 narrows it):
// a host that is a registered name (unreserved, sub-delims, percent-encoded octets), an IPv4
// address, or an IPv6 address in brackets, then optionally ':' and a port of 1 to 5 digits up to
// 65535 (required when `port_required`, as for CONNECT). No userinfo ('@'), no empty host, no
// IPvFuture or zone identifier.
[[nodiscard]] bool IsValidAuthority(std::string_view authority, bool port_required) noexcept;

// The path of an origin-form ("/a/b?q") or absolute-form ("http://host:8080/a/b?q") target,
// before the '?' and not yet normalised; "/" for an absolute-form target without a path. False
// when the target is neither, has a '#' anywhere (RFC 9112's request-target has no fragment),
// or an absolute-form authority IsValidAuthority() refuses.
[[nodiscard]] bool RawPathOfTarget(std::string_view target, std::string_view& path) noexcept;

struct NormalisedPath {
  enum class Status : std::uint8_t {
    kOk,       // `path` is the normalised path
    kBadPath,  // cannot be normalised (see the top of this file): answer 400
    kTooLong,  // it needed rewriting and `raw` is longer than the scratch memory
  };
  Status status = Status::kOk;
  // A view of `raw` itself when normalising changes nothing (the common case: no copy), else of
  // the caller's scratch memory. Empty unless kOk.
  std::string_view path;
};

// Normalises `raw`, a path starting with '/' (RawPathOfTarget's), writing into
// scratch[0, capacity) only when the result differs from `raw`. Scratch of raw.size() bytes
// always suffices; a request target within the URI limit never needs more than that limit.
[[nodiscard]] NormalisedPath NormalisePath(std::string_view raw, char* scratch,
                                           std::size_t capacity) noexcept;

// `text` starts with `prefix`, comparing ASCII letters case-insensitively when
// `case_insensitive` (other bytes, including obs-text, exactly).
[[nodiscard]] bool PathStartsWith(std::string_view text, std::string_view prefix,
                                  bool case_insensitive) noexcept;

}  // namespace sluice::net

#endif  // SLUICE_NET_HTTP_TARGET_H_
