#include "sluice/key_hash.h"

#include <random>

namespace sluice {

HashSeed HashSeed::Random() {
  std::random_device rd;  // getrandom(2) on Linux with libstdc++
  HashSeed s;
  for (auto& w : s.words) {
    w = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  return s;
}

}  // namespace sluice
