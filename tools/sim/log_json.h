// The little JSON a log line needs: one flat object per line, its values found without
// building a tree (nested objects and arrays are skipped whole), strings unescaped only when
// they hold a backslash. Allocation-free except Unescape's output.
#ifndef SLUICE_TOOLS_SIM_LOG_JSON_H_
#define SLUICE_TOOLS_SIM_LOG_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::sim::json {

// The closing quote of a quoted text whose first byte is at `i` (backslash escapes skipped);
// npos when it does not close. Also serves the quoted fields of the combined format.
std::size_t CloseQuote(std::string_view s, std::size_t i) noexcept;
// The first index at or after `i` that is not a space, tab or CR.
std::size_t SkipWs(std::string_view s, std::size_t i) noexcept;
// One past the end of the value starting at `i`, npos when malformed. `string`: it is a string
// (its raw text is [i+1, end-1)); `escaped`: that text holds a backslash.
std::size_t ValueEnd(std::string_view s, std::size_t i, bool& string, bool& escaped) noexcept;
// A string's raw text to UTF-8 (\uXXXX as the code unit's UTF-8). False: a bad escape.
bool Unescape(std::string_view raw, std::string& out);

}  // namespace sluice::sim::json

#endif  // SLUICE_TOOLS_SIM_LOG_JSON_H_
