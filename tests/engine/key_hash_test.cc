#include "sluice/key_hash.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"

namespace sluice {
namespace {

TEST(KeyHashTest, SeedsDiffer) {
  const HashSeed a = HashSeed::Random();
  const HashSeed b = HashSeed::Random();
  EXPECT_NE(a, b);
  EXPECT_NE(KeyHasher(a).Hash(0, "10.0.0.1"), KeyHasher(b).Hash(0, "10.0.0.1"));
}

TEST(KeyHashTest, SameSeedSameHash) {
  const HashSeed s{{1, 2, 3, 4}};
  EXPECT_EQ(KeyHasher(s).Hash(9, "abc"), KeyHasher(s).Hash(9, "abc"));
}

TEST(KeyHashTest, PolicySpaceChangesTheHash) {
  const KeyHasher h;
  EXPECT_NE(h.Hash(1, "k"), h.Hash(2, "k"));
}

TEST(KeyHashTest, EveryLengthAndPrefixIsDistinct) {
  const KeyHasher h;
  const std::string text(200, 'x');
  absl::flat_hash_set<std::uint64_t> seen;
  for (std::size_t n = 0; n <= text.size(); ++n) {
    EXPECT_TRUE(seen.insert(h.Hash(0, std::string_view(text).substr(0, n))).second) << n;
  }
  // Zero bytes count, and a trailing zero is not the same as no byte.
  EXPECT_NE(h.Hash(0, std::string_view("\0", 1)), h.Hash(0, std::string_view("\0\0", 2)));
  EXPECT_NE(h.Hash(0, std::string_view("\0", 1)), h.Hash(0, ""));
}

TEST(KeyHashTest, SingleBitChangesFlipAboutHalfTheOutput) {
  const KeyHasher h(HashSeed{{11, 22, 33, 44}});
  for (std::size_t len : {1u, 3u, 4u, 7u, 8u, 15u, 16u, 17u, 40u}) {
    std::string key(len, 'a');
    const std::uint64_t base = h.Hash(0, key);
    double flipped = 0;
    for (std::size_t bit = 0; bit < len * 8; ++bit) {
      std::string k = key;
      k[bit / 8] = static_cast<char>(k[bit / 8] ^ (1 << (bit % 8)));
      flipped += std::popcount(base ^ h.Hash(0, k));
    }
    const double average = flipped / static_cast<double>(len * 8);
    EXPECT_GT(average, 24.0) << len;
    EXPECT_LT(average, 40.0) << len;
  }
}

// The bits themselves, pinned: every process sharing a table must place a key in the same bucket,
// so a change of the hash (or of a build's code for it: the x86-64 fold is one MUL in asm) is a
// change of the table's format. The values were produced by this implementation; a new hash
// needs a new table format, not new numbers here.
constexpr HashSeed kFixedSeed{
    {0x0123456789abcdef, 0xfedcba9876543210, 0x0f1e2d3c4b5a6978, 0x8796a5b4c3d2e1f0}};

struct FixedVector {
  std::uint64_t space;
  std::string_view key;
  std::uint64_t hash;
};

// Lengths 0 to 4 (the byte and 4-byte tails), 8, 14, 16 (the benchmark's hot key: one block
// exactly), 17 (one block and a 1-byte tail), 36 and 33 (two blocks and a tail).
constexpr FixedVector kFixedVectors[] = {
    {0u, "", 0xea1105997046510eu},
    {0x9e3779b97f4a7c15u, "", 0xa0cd7f16f90c7106u},
    {0u, "a", 0x5bf8662a0448ef5eu},
    {0x9e3779b97f4a7c15u, "a", 0x556b6f7d5ce0f91du},
    {0u, "ab", 0xa5bb77608d6eefdfu},
    {0x9e3779b97f4a7c15u, "ab", 0x00de541302c8435bu},
    {0u, "abc", 0x9716e0310b76cf85u},
    {0x9e3779b97f4a7c15u, "abc", 0xb315ccd95db52caau},
    {0u, "abcd", 0x13d3b7d798b8d709u},
    {0x9e3779b97f4a7c15u, "abcd", 0x11c8113a1b669de4u},
    {0u, "10.0.0.1", 0xc76e426f00436d4fu},
    {0x9e3779b97f4a7c15u, "10.0.0.1", 0x3766a273bd9944efu},
    {0u, "tenant:0000000", 0x7e67e178b08ed8bcu},
    {0x9e3779b97f4a7c15u, "tenant:0000000", 0x1e2f30ac0f7e11f1u},
    {0u, "tenant:000000042", 0xd5fcdb55693c8a59u},
    {0x9e3779b97f4a7c15u, "tenant:000000042", 0x9f38ec33cac86240u},
    {0u, "tenant:0000000420", 0x78a4c139b5228419u},
    {0x9e3779b97f4a7c15u, "tenant:0000000420", 0xdb546be66cc2e19du},
    {0u, "user:alice@example.com/api/v1/orders", 0xdc9484bec5292382u},
    {0x9e3779b97f4a7c15u, "user:alice@example.com/api/v1/orders", 0x2a8f4cfda1cae2d5u},
    {0u, "0123456789abcdef0123456789abcdef0", 0xc49e60e3f7ce95f0u},
    {0x9e3779b97f4a7c15u, "0123456789abcdef0123456789abcdef0", 0x1a573f49ad7a0d71u},
};

TEST(KeyHashTest, FixedVectors) {
  const KeyHasher h(kFixedSeed);
  for (const FixedVector& v : kFixedVectors) {
    EXPECT_EQ(h.Hash(v.space, v.key), v.hash) << v.space << " '" << v.key << "'";
  }
}

// The hash as key_hash.h defines it, written plainly (portable 128-bit products, byte-wise
// loads): the inline, asm-folded Hash() must give the same bits for every length and seed.
std::uint64_t ReferenceFold(std::uint64_t a, std::uint64_t b) {
  __extension__ typedef unsigned __int128 U128;
  const U128 p = static_cast<U128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}
std::uint64_t ReferenceWord(std::string_view s, std::size_t at, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    v |= std::uint64_t{static_cast<unsigned char>(s[at + i])} << (8 * i);
  }
  return v;
}
std::uint64_t ReferenceHash(const HashSeed& seed, std::uint64_t space, std::string_view key) {
  constexpr std::uint64_t kP0 = 0x243f6a8885a308d3;
  constexpr std::uint64_t kP1 = 0x13198a2e03707345;
  constexpr std::uint64_t kP2 = 0xa4093822299f31d1;
  const auto& k = seed.words;
  std::size_t at = 0;
  std::size_t n = key.size();
  std::uint64_t h = ReferenceFold(space ^ k[0], (n * kP0) ^ k[1]);
  for (; n > 16; at += 16, n -= 16) {
    h = ReferenceFold(ReferenceWord(key, at, 8) ^ k[2] ^ h, ReferenceWord(key, at + 8, 8) ^ k[3]);
  }
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  if (n >= 8) {
    a = ReferenceWord(key, at, 8);
    b = ReferenceWord(key, at + n - 8, 8);
  } else if (n >= 4) {
    a = ReferenceWord(key, at, 4);
    b = ReferenceWord(key, at + n - 4, 4);
  } else if (n > 0) {
    a = (ReferenceWord(key, at, 1) << 16) | (ReferenceWord(key, at + n / 2, 1) << 8) |
        ReferenceWord(key, at + n - 1, 1);
  }
  h = ReferenceFold(a ^ k[1] ^ kP1, b ^ h ^ k[2]);
  return ReferenceFold(h ^ kP2, k[3] ^ kP0);
}

TEST(KeyHashTest, MatchesThePlainDefinitionAtEveryLength) {
  std::string text;
  for (std::size_t i = 0; i < 100; ++i) text.push_back(static_cast<char>(i * 37 + 11));
  for (const HashSeed& seed : {kFixedSeed, HashSeed{{1, 2, 3, 4}}, HashSeed::Random()}) {
    const KeyHasher h(seed);
    for (std::size_t n = 0; n <= text.size(); ++n) {
      const std::string_view key = std::string_view(text).substr(0, n);
      for (std::uint64_t space : {std::uint64_t{0}, std::uint64_t{7}, ~std::uint64_t{0}}) {
        EXPECT_EQ(h.Hash(space, key), ReferenceHash(seed, space, key)) << n << " " << space;
      }
    }
  }
  for (const FixedVector& v : kFixedVectors) {
    EXPECT_EQ(ReferenceHash(kFixedSeed, v.space, v.key), v.hash) << v.key;
  }
}

TEST(KeyHashTest, NeverReadsPastTheKey) {
  // Keys end exactly at a guard page: any over-read faults.
  const long page = sysconf(_SC_PAGESIZE);
  auto* mem = static_cast<char*>(mmap(nullptr, static_cast<std::size_t>(2 * page),
                                      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_EQ(mprotect(mem + page, static_cast<std::size_t>(page), PROT_NONE), 0);
  std::memset(mem, 'k', static_cast<std::size_t>(page));
  const KeyHasher h;
  for (std::size_t n = 0; n <= 64; ++n) {
    (void)h.Hash(0, std::string_view(mem + page - n, n));
  }
  munmap(mem, static_cast<std::size_t>(2 * page));
}

}  // namespace
}  // namespace sluice
