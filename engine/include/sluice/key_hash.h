// A keyed 64-bit hash for rate-limit keys.
//
// Why keyed: the state table places a key by its hash. With a public hash a client could send
// keys that all land in one bucket and evict everyone else's state. Every process (every
// KeyHasher made without an explicit seed) draws a fresh 256-bit secret from the OS, so bucket
// placement cannot be predicted from outside.
//
// What it is: a folded-multiply construction (each 64x64->128-bit product is folded by XOR of
// its halves), with every input word XORed with secret words before it is multiplied. It is
// fast (a few ns for keys up to 16 bytes) and passes the usual avalanche tests, but it is not a
// cryptographic MAC: a party that can observe many outcomes that depend on bucket placement
// could in principle learn about the secret. For a rate limiter the cost of a collision is
// bounded (see state_table.h) and the secret changes at every restart.
//
// Distinct keys share limiter state only when all 64 bits of their hashes are equal: for n
// live keys the chance that any two collide is about n^2 / 2^65 (1e-7 for a million keys).
#ifndef SLUICE_KEY_HASH_H_
#define SLUICE_KEY_HASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice {

struct HashSeed {
  std::array<std::uint64_t, 4> words{};

  // 256 bits from the OS random source (getrandom via std::random_device).
  static HashSeed Random();
  friend bool operator==(const HashSeed&, const HashSeed&) = default;
};

class KeyHasher {
 public:
  // Thread-safe: const after construction.
  KeyHasher() : KeyHasher(HashSeed::Random()) {}
  explicit KeyHasher(const HashSeed& seed) noexcept : seed_(seed) {}

  // Hash of `key` within the key space `space` (a policy's id: the same key under two policies
  // hashes differently). Never allocates, never throws. Inline: it is a dozen instructions for
  // a short key, and part of every decision.
  [[nodiscard]] std::uint64_t Hash(std::uint64_t space, std::string_view key) const noexcept;

  [[nodiscard]] const HashSeed& seed() const noexcept { return seed_; }

 private:
  __extension__ typedef unsigned __int128 U128;

  // Odd constants with well-mixed bits (from the digits of pi), to separate the roles of words.
  static constexpr std::uint64_t kP0 = 0x243f6a8885a308d3;
  static constexpr std::uint64_t kP1 = 0x13198a2e03707345;
  static constexpr std::uint64_t kP2 = 0xa4093822299f31d1;

  static std::uint64_t Fold(std::uint64_t a, std::uint64_t b) noexcept {
#if defined(__x86_64__)
    // The same product, written as the one MUL it is: inlined into a large function (the
    // limiter's decision), GCC moved the 128-bit value through the stack between the multiply
    // and the XOR, a store and a reload on the hash's dependency chain.
    std::uint64_t lo = a;
    std::uint64_t hi;
    asm("mulq %2" : "+a"(lo), "=d"(hi) : "rm"(b) : "cc");
    return lo ^ hi;
#else
    const U128 product = static_cast<U128>(a) * b;
    return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
#endif
  }
  static std::uint64_t Load64(const char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static std::uint64_t Load32(const char* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }

  HashSeed seed_;
};

inline std::uint64_t KeyHasher::Hash(std::uint64_t space, std::string_view key) const noexcept {
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

#endif  // SLUICE_KEY_HASH_H_
