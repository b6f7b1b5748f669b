// sluice-load's key distributions and response framing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "load/keys.h"
#include "load/response.h"

namespace sluice::load {
namespace {

TEST(LoadKeysTest, ParsesEveryKindAndRejectsNonsense) {
  EXPECT_EQ(KeyDistribution::Parse("none")->kind(), KeyDistribution::Kind::kNone);
  auto single = KeyDistribution::Parse("single");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->size(), 1u);
  EXPECT_EQ(single->Key(0), "k0");
  auto uniform = KeyDistribution::Parse("uniform:10000");
  ASSERT_TRUE(uniform.ok());
  EXPECT_EQ(uniform->size(), 10000u);
  EXPECT_EQ(uniform->Key(9999), "k9999");
  EXPECT_TRUE(KeyDistribution::Parse("zipf:100:1.1").ok());
  for (const char* bad : {"", "uniform", "uniform:0", "uniform:x", "zipf:10", "zipf:10:-1",
                          "zipf:0:1", "poisson:3", "single:2", "file:/nonexistent/keys"}) {
    EXPECT_FALSE(KeyDistribution::Parse(bad).ok()) << bad;
  }
}

TEST(LoadKeysTest, FileKeysAreItsNonEmptyLines) {
  char path[] = "/tmp/sluice-load-keys-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  {
    std::ofstream out(path);
    out << "alice\r\n\nbob\ncarol";
  }
  auto keys = KeyDistribution::Parse(std::string("file:") + path);
  std::remove(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ(keys->Key(0), "alice");
  EXPECT_EQ(keys->Key(1), "bob");
  EXPECT_EQ(keys->Key(2), "carol");
}

TEST(LoadKeysTest, SameSeedSameKeys) {
  auto keys = KeyDistribution::Parse("zipf:1000:0.9");
  ASSERT_TRUE(keys.ok());
  Rng a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const std::size_t x = keys->Draw(a);
    EXPECT_EQ(x, keys->Draw(b));
    differs |= x != keys->Draw(c);
  }
  EXPECT_TRUE(differs);
}

// Draw many keys and compare each frequency with its exact probability (a chi-square bound
// loose enough that the fixed seed never fails by chance, tight enough to catch a wrong table).
void ExpectFollowsWeights(const std::string& spec) {
  auto keys = KeyDistribution::Parse(spec);
  ASSERT_TRUE(keys.ok()) << spec;
  const std::size_t n = keys->size();
  constexpr int kDraws = 2'000'000;
  std::vector<double> counts(n, 0);
  Rng rng(42);
  for (int i = 0; i < kDraws; ++i) {
    const std::size_t k = keys->Draw(rng);
    ASSERT_LT(k, n);
    counts[k] += 1;
  }
  double chi2 = 0, total_weight = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double expected = keys->Weight(i) * kDraws;
    total_weight += keys->Weight(i);
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  EXPECT_NEAR(total_weight, 1.0, 1e-9) << spec;
  // df = n - 1; mean df, sd sqrt(2 df): allow 6 sd.
  const double df = static_cast<double>(n - 1);
  EXPECT_LT(chi2, df + 6 * std::sqrt(2 * df)) << spec;
}

TEST(LoadKeysTest, UniformIsUniform) { ExpectFollowsWeights("uniform:100"); }
TEST(LoadKeysTest, ZipfFollowsItsWeights) {
  ExpectFollowsWeights("zipf:100:1.0");
  ExpectFollowsWeights("zipf:1000:1.2");
  ExpectFollowsWeights("zipf:50:0");  // s = 0 is uniform
}
TEST(LoadKeysTest, ZipfRankOneIsMostLikely) {
  auto keys = KeyDistribution::Parse("zipf:10000:1.1");
  ASSERT_TRUE(keys.ok());
  EXPECT_GT(keys->Weight(0), keys->Weight(1));
  EXPECT_NEAR(keys->Weight(0) / keys->Weight(1), std::pow(2.0, 1.1), 1e-9);
}

TEST(LoadResponseTest, FramesByContentLength) {
  const std::string r =
      "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 5\r\nRetry-After: 1\r\n\r\nhello"
      "HTTP/1.1 200 OK\r\n";
  const ResponseHead head = ParseResponse(r);
  ASSERT_EQ(head.result, ResponseHead::Result::kComplete);
  EXPECT_EQ(head.status, 429);
  EXPECT_EQ(head.length, r.find("hello") + 5);
  EXPECT_FALSE(head.close);
  // Every strict prefix of the first response is partial.
  for (std::size_t i = 0; i < head.length; ++i) {
    EXPECT_EQ(ParseResponse(std::string_view(r).substr(0, i)).result,
              ResponseHead::Result::kPartial)
        << i;
  }
}

TEST(LoadResponseTest, ConnectionCloseAndBodilessStatuses) {
  auto head = ParseResponse("HTTP/1.1 200 OK\r\nConnection:  close \r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(head.result, ResponseHead::Result::kComplete);
  EXPECT_TRUE(head.close);
  head = ParseResponse("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(head.result, ResponseHead::Result::kComplete);
  EXPECT_EQ(head.status, 204);
}

TEST(LoadResponseTest, RejectsWhatItCannotFrame) {
  for (const char* bad :
       {"XTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx"}) {
    EXPECT_EQ(ParseResponse(bad).result, ResponseHead::Result::kError) << bad;
  }
}

}  // namespace
}  // namespace sluice::load
