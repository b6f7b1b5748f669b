// Rates ("100/s", "1000/m") and their parsing.
#ifndef SLUICE_RATE_H_
#define SLUICE_RATE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// `count` requests per `period`. Both strictly positive.
struct Rate {
  std::uint64_t count = 0;
  std::chrono::nanoseconds period{0};

  // Parses "N/s", "N/m", "N/h" or "N/d" (N a positive decimal integer). The error names the
  // offending text and what was expected.
  static absl::StatusOr<Rate> Parse(std::string_view text);

  // "N/s" etc. when the period is one of the four units, otherwise "N/<ns>ns".
  std::string ToString() const;

  friend bool operator==(const Rate&, const Rate&) = default;
};

}  // namespace sluice

#endif  // SLUICE_RATE_H_
