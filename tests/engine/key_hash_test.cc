#include "sluice/key_hash.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <string>

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
