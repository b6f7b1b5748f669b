#include "sim/key_spec.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace sluice::sim {
namespace {

// RFC 9110 tchar, as sluiced's config checks header names.
bool IsTchar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

absl::StatusOr<KeyPartSpec> KeyPartSpec::Parse(std::string_view text) {
  if (text == "ip") return KeyPartSpec{KeyPartKind::kIp, {}};
  if (text == "ip/64") return KeyPartSpec{KeyPartKind::kIp64, {}};
  if (text == "path") return KeyPartSpec{KeyPartKind::kPath, {}};
  if (text == "method") return KeyPartSpec{KeyPartKind::kMethod, {}};
  constexpr std::string_view kHeader = "header:";
  if (text.starts_with(kHeader)) {
    const std::string_view name = text.substr(kHeader.size());
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTchar)) {
      return absl::InvalidArgumentError(absl::StrCat("key part '", Absl(text), "': '", Absl(name),
                                                     "' is not a valid header name"));
    }
    return KeyPartSpec{KeyPartKind::kHeader, absl::AsciiStrToLower(Absl(name))};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "'", Absl(text), "' is not a key part (expected ip, ip/64, header:NAME, path or method)"));
}

std::string KeyPartSpec::ToString() const {
  switch (kind) {
    case KeyPartKind::kIp:
      return "ip";
    case KeyPartKind::kIp64:
      return "ip/64";
    case KeyPartKind::kHeader:
      return absl::StrCat("header:", header);
    case KeyPartKind::kPath:
      return "path";
    case KeyPartKind::kMethod:
      return "method";
  }
  return "ip";
}

absl::StatusOr<KeySpec> KeySpec::Parse(std::string_view text) {
  absl::string_view list = absl::StripAsciiWhitespace(Absl(text));
  if (list.size() >= 2 && list.front() == '[' && list.back() == ']') {
    list = list.substr(1, list.size() - 2);
  }
  KeySpec spec;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    auto parsed = KeyPartSpec::Parse(std::string_view(part.data(), part.size()));
    if (!parsed.ok()) return parsed.status();
    spec.parts.push_back(*std::move(parsed));
  }
  if (spec.parts.size() > kMaxParts) {
    return absl::InvalidArgumentError(
        absl::StrCat("key '", Absl(text), "': ", spec.parts.size(), " parts, at most ", kMaxParts));
  }
  return spec;
}

std::string KeySpec::ToString() const {
  std::vector<std::string> names;
  for (const KeyPartSpec& p : parts) names.push_back(p.ToString());
  return names.size() == 1 ? names[0] : absl::StrCat("[", absl::StrJoin(names, ", "), "]");
}

bool KeySpec::Needs(KeyPartKind kind) const {
  return std::any_of(parts.begin(), parts.end(),
                     [kind](const KeyPartSpec& p) { return p.kind == kind; });
}

}  // namespace sluice::sim
