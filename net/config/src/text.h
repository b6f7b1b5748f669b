// Small text checks and conversions shared by the config's sections, the CLI overrides and the
// value types' Parse() functions. Config-time code: allocation is fine here.
#ifndef SLUICE_NET_CONFIG_SRC_TEXT_H_
#define SLUICE_NET_CONFIG_SRC_TEXT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace sluice::net {

inline absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }
// 'text', as error messages quote values.
std::string Quoted(std::string_view s);

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). YAML text is
// Unicode: yaml-cpp passes invalid UTF-8 through when reading but writes U+FFFD for it, so such
// a value would not survive ToYaml() (GET /config would show another path).
bool IsUtf8(std::string_view s);

// An RFC 9110 token (tchar+): a header name or a method.
bool IsToken(std::string_view s);

// A strict decimal: digits only, no sign, no spaces, no overflow.
std::optional<std::uint64_t> ParseDecimal(std::string_view s);

// The shortest text that reads back as `v` (std::to_chars).
std::string FormatDouble(double v);

}  // namespace sluice::net

#endif  // SLUICE_NET_CONFIG_SRC_TEXT_H_
