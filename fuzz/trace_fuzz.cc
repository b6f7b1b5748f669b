// libFuzzer target: the sim trace reader, line by line as sluice-sim reads a file. An accepted
// line must satisfy the format (t_ns >= 0) and be written back by WriteDecision() as a line
// that parses to the same record (when the key holds no line break).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "sim/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t line_number = 0;
  while (!input.empty()) {
    const std::size_t newline = input.find('\n');
    const std::string_view line = input.substr(0, newline);
    input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
    ++line_number;
    if (sluice::sim::IsTraceHeader(line)) continue;
    const auto record = sluice::sim::ParseTraceLine(line, line_number);
    if (!record.ok()) continue;
    if (record->t_ns < 0) {
      std::fprintf(stderr, "trace_fuzz: negative time accepted\n");
      std::abort();
    }
    // Decisions CSV: the first three fields are the record; drop the four decision fields.
    std::ostringstream out;
    sluice::sim::WriteDecision(out, *record, sluice::Decision{});
    std::string written = out.str();
    for (int field = 0; field < 4; ++field) written.erase(written.rfind(','));
    const auto again = sluice::sim::ParseTraceLine(written, line_number);
    if (!again.ok() || again->t_ns != record->t_ns || again->key != record->key ||
        again->cost != record->cost) {
      std::fprintf(stderr, "trace_fuzz: record does not round-trip\n");
      std::abort();
    }
  }
  return 0;
}
