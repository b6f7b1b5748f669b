#include "sim/log_time.h"

#include <cstdint>
#include <cstring>

namespace sluice::sim {
namespace {

constexpr std::int64_t kNsPerS = 1'000'000'000;
// The latest time accepted (2116-02-20), in seconds: half the int64 range in nanoseconds, so
// that a time and the replay's windows and periods added to it never overflow.
constexpr std::int64_t kMaxSeconds = INT64_MAX / 2 / kNsPerS;

// `n` decimal digits at `p` into `out`.
bool Digits(const char* p, int n, unsigned& out) noexcept {
  unsigned v = 0;
  for (int i = 0; i < n; ++i) {
    const unsigned d = static_cast<unsigned>(p[i] - '0');
    if (d > 9) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool IsLeap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysIn(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// The month of an English abbreviation ("Jan" .. "Dec"), 0 when it is none.
unsigned Month(const char* p) noexcept {
  static constexpr char kNames[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (unsigned m = 0; m < 12; ++m) {
    if (std::memcmp(p, kNames + 3 * m, 3) == 0) return m + 1;
  }
  return 0;
}

// y-m-d h:mi:s in UTC, checked, to seconds.
bool Civil(std::int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
           std::int64_t& seconds) noexcept {
  if (mo < 1 || mo > 12 || d < 1 || d > DaysIn(y, mo) || h > 23 || mi > 59 || s > 60) {
    return false;
  }
  seconds = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

// A zone "+hhmm", "-hhmm", "+hh:mm" or "-hh:mm" (colon as asked) into seconds east of UTC.
bool Zone(std::string_view z, bool colon, std::int64_t& east) noexcept {
  if (z.size() != (colon ? 6u : 5u) || (z[0] != '+' && z[0] != '-')) return false;
  unsigned hh = 0;
  unsigned mm = 0;
  if (!Digits(z.data() + 1, 2, hh) || !Digits(z.data() + (colon ? 4 : 3), 2, mm)) return false;
  if (colon && z[3] != ':') return false;
  if (hh > 23 || mm > 59) return false;
  east = (z[0] == '-' ? -1 : 1) * static_cast<std::int64_t>(hh * 3600 + mm * 60);
  return true;
}

}  // namespace

std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) noexcept {
  // Howard Hinnant's days_from_civil: eras of 400 years, March-based years.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool ParseClfTime(std::string_view t, std::int64_t& unix_ns) noexcept {
  // 10/Oct/2000:13:55:36 -0700
  // 0123456789012345678901234
  if (t.size() != kClfTimeSize || t[2] != '/' || t[6] != '/' || t[11] != ':' || t[14] != ':' ||
      t[17] != ':' || t[20] != ' ') {
    return false;
  }
  unsigned d = 0, y = 0, h = 0, mi = 0, s = 0;
  const unsigned mo = Month(t.data() + 3);
  if (mo == 0 || !Digits(t.data(), 2, d) || !Digits(t.data() + 7, 4, y) ||
      !Digits(t.data() + 12, 2, h) || !Digits(t.data() + 15, 2, mi) ||
      !Digits(t.data() + 18, 2, s)) {
    return false;
  }
  std::int64_t seconds = 0;
  std::int64_t east = 0;
  if (!Civil(y, mo, d, h, mi, s, seconds) || !Zone(t.substr(21), false, east)) return false;
  seconds -= east;
  if (seconds < 0 || seconds > kMaxSeconds) return false;
  unix_ns = seconds * kNsPerS;
  return true;
}

bool ParseIsoTime(std::string_view t, std::int64_t& unix_ns) noexcept {
  // 2000-10-10T13:55:36[.fff][Z|+hh:mm|+hhmm]
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != ' ') ||
      t[13] != ':' || t[16] != ':') {
    return false;
  }
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!Digits(t.data(), 4, y) || !Digits(t.data() + 5, 2, mo) || !Digits(t.data() + 8, 2, d) ||
      !Digits(t.data() + 11, 2, h) || !Digits(t.data() + 14, 2, mi) ||
      !Digits(t.data() + 17, 2, s)) {
    return false;
  }
  std::size_t i = 19;
  std::int64_t fraction_ns = 0;
  if (i < t.size() && (t[i] == '.' || t[i] == ',')) {
    ++i;
    std::int64_t scale = kNsPerS / 10;
    const std::size_t start = i;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      fraction_ns += (t[i] - '0') * scale;
      scale /= 10;
    }
    if (i == start) return false;
  }
  std::int64_t east = 0;
  const std::string_view zone = t.substr(i);
  if (zone != "Z" && zone != "z" && !Zone(zone, true, east) && !Zone(zone, false, east)) {
    return false;
  }
  std::int64_t seconds = 0;
  if (!Civil(y, mo, d, h, mi, s, seconds)) return false;
  seconds -= east;
  if (seconds < 0 || seconds > kMaxSeconds) return false;
  unix_ns = seconds * kNsPerS + fraction_ns;
  return true;
}

bool ParseEpochTime(std::string_view t, std::int64_t& unix_ns) noexcept {
  if (t.empty() || t.size() > 30) return false;
  std::size_t i = 0;
  std::uint64_t whole = 0;
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
    if (i >= 19) return false;
    whole = whole * 10 + static_cast<std::uint64_t>(t[i] - '0');
  }
  if (i == 0) return false;
  if (i == t.size()) {
    // No fraction: the magnitude says the unit (see log_time.h).
    std::uint64_t ns = whole;
    if (whole < 100'000'000'000ULL) {
      ns = whole * 1'000'000'000ULL;
    } else if (whole < 100'000'000'000'000ULL) {
      ns = whole * 1'000'000ULL;
    } else if (whole < 100'000'000'000'000'000ULL) {
      ns = whole * 1'000ULL;
    }
    if (ns > static_cast<std::uint64_t>(INT64_MAX / 2)) return false;
    unix_ns = static_cast<std::int64_t>(ns);
    return true;
  }
  if (t[i] != '.' || whole > static_cast<std::uint64_t>(kMaxSeconds)) return false;
  ++i;
  std::int64_t fraction_ns = 0;
  std::int64_t scale = kNsPerS / 10;
  const std::size_t start = i;
  for (; i < t.size(); ++i) {
    if (t[i] < '0' || t[i] > '9') return false;
    fraction_ns += (t[i] - '0') * scale;
    scale /= 10;
  }
  if (i == start) return false;
  unix_ns = static_cast<std::int64_t>(whole) * kNsPerS + fraction_ns;
  return true;
}

}  // namespace sluice::sim
