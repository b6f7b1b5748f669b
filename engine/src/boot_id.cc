#include "internal/boot_id.h"

#include <cstdio>

namespace sluice::internal {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::array<std::uint8_t, 16> ReadBootId() {
  std::array<std::uint8_t, 16> id{};
  std::FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "re");
  if (f == nullptr) return id;
  char text[64] = {};
  const std::size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  // "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n": 32 hex digits, dashes skipped.
  std::array<std::uint8_t, 16> parsed{};
  std::size_t digits = 0;
  for (std::size_t i = 0; i < n && digits < 32; ++i) {
    if (text[i] == '-') continue;
    const int v = HexValue(text[i]);
    if (v < 0) break;
    parsed[digits / 2] = static_cast<std::uint8_t>(parsed[digits / 2] << 4 | v);
    ++digits;
  }
  return digits == 32 ? parsed : id;
}

}  // namespace

const std::array<std::uint8_t, 16>& BootId() {
  static const std::array<std::uint8_t, 16> id = ReadBootId();
  return id;
}

}  // namespace sluice::internal
