// libFuzzer target: request-target reading and path normalisation (http_target.h). The input is
// taken as a request target: RawPathOfTarget, then NormalisePath into scratch memory that ends
// at a heap boundary (ASan catches a write past it), compared with a plain reference written
// the slow, obvious way (decode, split on '/', a segment stack). Also: a normalised path is a
// fixed point in its segments (no "", "." or ".." segment, starts with '/', never longer than
// the input); a scratch one byte too small says kTooLong and writes nothing past it; the
// authority and method checks never fault.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/net/http/http_target.h"

namespace {

using sluice::net::NormalisedPath;

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "normalise_fuzz: property failed: %s\n", what);
    std::abort();
  }
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The reference: nullopt where the path cannot be normalised.
std::optional<std::string> Reference(std::string_view raw) {
  if (raw.empty() || raw[0] != '/') return std::nullopt;
  std::string decoded;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x21 || c > 0x7E) return std::nullopt;
    if (c != '%') {
      decoded.push_back(static_cast<char>(c));
      continue;
    }
    if (raw.size() - i < 3) return std::nullopt;
    const int hi = Hex(raw[i + 1]);
    const int lo = Hex(raw[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const int byte = hi * 16 + lo;
    if (byte < 0x20 || byte == 0x7F) return std::nullopt;
    decoded.push_back(static_cast<char>(byte));
    i += 2;
  }
  std::vector<std::string> stack;
  bool trailing = false;
  std::size_t at = 1;  // after the leading '/'
  while (true) {
    const std::size_t slash = decoded.find('/', at);
    const std::string segment =
        decoded.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
    if (segment.empty() || segment == ".") {
      trailing = true;
    } else if (segment == "..") {
      if (stack.empty()) return std::nullopt;
      stack.pop_back();
      trailing = true;
    } else {
      stack.push_back(segment);
      trailing = false;
    }
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
  std::string out;
  for (const std::string& segment : stack) out += "/" + segment;
  if (out.empty() || trailing) out += "/";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)sluice::net::IsValidMethod(input);
  (void)sluice::net::IsValidAuthority(input, false);
  (void)sluice::net::IsValidAuthority(input, true);

  // The input as a raw path, and as a target whose path is cut out first.
  std::string_view from_target;
  const bool is_target = sluice::net::RawPathOfTarget(input, from_target);
  if (is_target) Check(!from_target.empty() && from_target[0] == '/', "a target's path");
  for (const std::string_view raw : {input, is_target ? from_target : std::string_view()}) {
    if (raw.empty()) continue;
    const auto scratch = std::make_unique<char[]>(raw.size());  // ends where ASan watches
    const NormalisedPath n = sluice::net::NormalisePath(raw, scratch.get(), raw.size());
    const std::optional<std::string> want = Reference(raw);
    Check(n.status != NormalisedPath::Status::kTooLong, "raw.size() of scratch suffices");
    Check((n.status == NormalisedPath::Status::kOk) == want.has_value(), "refuses as reference");
    if (!want) continue;
    Check(n.path == *want, "same path as the reference");
    Check(n.path.size() <= raw.size() && !n.path.empty() && n.path[0] == '/', "shape");
    Check(n.path.find("//") == std::string_view::npos, "slashes merged");
    const std::string slashed = std::string(n.path) + "/";
    Check(slashed.find("/./") == std::string::npos && slashed.find("/../") == std::string::npos,
          "no dot segments left");
    // A path with nothing to rewrite (no '%', "//" or "/.") is not copied; any other needs
    // all its bytes of scratch.
    const bool plain = raw.find('%') == std::string_view::npos &&
                       raw.find("//") == std::string_view::npos &&
                       raw.find("/.") == std::string_view::npos;
    if (plain) {
      Check(n.path.data() == raw.data() && n.path.size() == raw.size(), "plain: the input");
    } else if (raw.size() > 1) {
      const auto small = std::make_unique<char[]>(raw.size() - 1);
      const NormalisedPath s = sluice::net::NormalisePath(raw, small.get(), raw.size() - 1);
      Check(s.status == NormalisedPath::Status::kTooLong, "too small a scratch is said");
    }
  }
  return 0;
}
