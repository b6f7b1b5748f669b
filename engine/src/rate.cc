#include "sluice/rate.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sluice {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

struct Unit {
  std::string_view name;
  std::int64_t ns;
};
constexpr Unit kUnits[] = {
    {"s", kSecond},
    {"m", 60 * kSecond},
    {"h", 3600 * kSecond},
    {"d", 86400 * kSecond},
};

}  // namespace

absl::StatusOr<Rate> Rate::Parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("rate '", std::string(text),
                                                   "': ", std::string(why),
                                                   " (expected N/s, N/m, N/h or N/d, e.g. 100/s)"));
  };
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad("no '/'");
  const std::string_view count_text = text.substr(0, slash);
  const std::string_view unit_text = text.substr(slash + 1);
  if (count_text.empty()) return bad("missing count");
  for (const char c : count_text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return bad("count is not a whole number");
  }
  std::uint64_t count = 0;
  if (!absl::SimpleAtoi(absl::string_view(count_text.data(), count_text.size()), &count)) {
    return bad("count is too large");
  }
  if (count == 0) return bad("count must be at least 1");
  for (const Unit& unit : kUnits) {
    if (unit_text == unit.name) return Rate{count, std::chrono::nanoseconds{unit.ns}};
  }
  return bad(absl::StrCat("unknown unit '", std::string(unit_text), "'"));
}

std::string Rate::ToString() const {
  for (const Unit& unit : kUnits) {
    if (period.count() == unit.ns) return absl::StrCat(count, "/", std::string(unit.name));
  }
  return absl::StrCat(count, "/", period.count(), "ns");
}

}  // namespace sluice
