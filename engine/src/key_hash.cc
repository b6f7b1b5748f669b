#include "sluice/key_hash.h"

#include <cstring>
#include <random>

namespace sluice {
namespace {

__extension__ typedef unsigned __int128 U128;

// Odd constants with well-mixed bits (from the digits of pi), to separate the roles of words.
constexpr std::uint64_t kP0 = 0x243f6a8885a308d3;
constexpr std::uint64_t kP1 = 0x13198a2e03707345;
constexpr std::uint64_t kP2 = 0xa4093822299f31d1;

inline std::uint64_t Fold(std::uint64_t a, std::uint64_t b) noexcept {
  const U128 product = static_cast<U128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline std::uint64_t Load64(const char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline std::uint64_t Load32(const char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

HashSeed HashSeed::Random() {
  std::random_device rd;  // getrandom(2) on Linux with libstdc++
  HashSeed s;
  for (auto& w : s.words) {
    w = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  return s;
}

std::uint64_t KeyHasher::Hash(std::uint64_t space, std::string_view key) const noexcept {
  const auto& k = seed_.words;
  const char* p = key.data();
  std::size_t n = key.size();
  std::uint64_t h = Fold(space ^ k[0], (n * kP0) ^ k[1]);
  // Whole 16-byte blocks.
  while (n > 16) {
    h = Fold(Load64(p) ^ k[2] ^ h, Load64(p + 8) ^ k[3]);
    p += 16;
    n -= 16;
  }
  // The last 1..16 bytes as two (possibly overlapping) words.
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (n >= 8) {
    a = Load64(p);
    b = Load64(p + n - 8);
  } else if (n >= 4) {
    a = Load32(p);
    b = Load32(p + n - 4);
  } else if (n > 0) {
    const auto c0 = static_cast<unsigned char>(p[0]);
    const auto c1 = static_cast<unsigned char>(p[n / 2]);
    const auto c2 = static_cast<unsigned char>(p[n - 1]);
    a = (std::uint64_t{c0} << 16) | (std::uint64_t{c1} << 8) | c2;
  }
  h = Fold(a ^ k[1] ^ kP1, b ^ h ^ k[2]);
  return Fold(h ^ kP2, k[3] ^ kP0);
}

}  // namespace sluice
