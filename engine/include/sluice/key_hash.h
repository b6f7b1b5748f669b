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
#include <cstdint>
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
  // hashes differently). Never allocates, never throws.
  [[nodiscard]] std::uint64_t Hash(std::uint64_t space, std::string_view key) const noexcept;

  [[nodiscard]] const HashSeed& seed() const noexcept { return seed_; }

 private:
  HashSeed seed_;
};

}  // namespace sluice

#endif  // SLUICE_KEY_HASH_H_
