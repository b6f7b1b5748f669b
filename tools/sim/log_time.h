// Timestamps of access logs, to Unix nanoseconds. Allocation-free; every function returns
// false (changing nothing) on text that is not exactly its format, or is before 1970 or after
// 2116-02-20 (half the int64 range of nanoseconds: the replay adds windows to times).
//   ParseClfTime    the common/combined log format's "10/Oct/2000:13:55:36 -0700" (English
//                   month abbreviations, the zone +hhmm/-hhmm applied): whole seconds.
//   ParseIsoTime    ISO 8601 / RFC 3339 "2000-10-10T13:55:36[.fraction](Z|+hh:mm|-hh:mm|+hhmm)"
//                   (nginx $time_iso8601; a space may stand for the T).
//   ParseEpochTime  a number: with a fraction, seconds ("1700000000.123", nginx $msec);
//                   without one, its size says the unit: below 10^11 seconds, below 10^14
//                   milliseconds, below 10^17 microseconds, else nanoseconds.
#ifndef SLUICE_TOOLS_SIM_LOG_TIME_H_
#define SLUICE_TOOLS_SIM_LOG_TIME_H_

#include <cstdint>
#include <string_view>

namespace sluice::sim {

inline constexpr std::size_t kClfTimeSize = 26;  // "10/Oct/2000:13:55:36 -0700"

bool ParseClfTime(std::string_view text, std::int64_t& unix_ns) noexcept;
bool ParseIsoTime(std::string_view text, std::int64_t& unix_ns) noexcept;
bool ParseEpochTime(std::string_view text, std::int64_t& unix_ns) noexcept;

// Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian; any year).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) noexcept;

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_LOG_TIME_H_
